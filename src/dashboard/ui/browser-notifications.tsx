import { useEffect, useState } from 'preact/hooks';
import type { WorkItemDetailResponse } from '../api-types.js';
import { followEvents, getJson, type StreamState } from './api.js';

/** Where the choice is kept (per browser: a person who said yes once is not asked on every visit). */
const ENABLED_KEY = 'orchestrator-notify';

/** A notification to show: what happened, and where a click takes the page. */
export interface BrowserNotice {
  title: string;
  body: string;
  /** Hash route a click opens (`#/work-items?item=P-1`, `#/runs/<id>`). */
  href: string;
  /** One notification per fact: the browser replaces one of the same tag instead of stacking it. */
  tag: string;
}

const itemHref = (id: string) => `#/work-items?item=${encodeURIComponent(id)}`;

/**
 * The notice an event of the live feed makes, or null: the same four kinds the webhooks send (a question waiting,
 * an item blocked, an item done, a budget reached). `title` is the item's title when the page knows it.
 */
export function noticeOf(name: string, data: unknown, itemTitle: string | null): BrowserNotice | null {
  const event = data as Record<string, unknown>;
  const str = (key: string): string | null => (typeof event[key] === 'string' ? event[key] : null);
  const item = str('workItemId');
  const label = item === null ? null : itemTitle ? `${item} ${itemTitle}` : item;
  if (name === 'work_item.transitioned' && item !== null) {
    if (str('to') === 'done') return { title: `Done: ${label}`, body: 'merged and marked complete', href: itemHref(item), tag: `done:${item}` };
    if (str('to') === 'blocked') return { title: `Blocked: ${label}`, body: str('reason') ?? 'needs a person', href: itemHref(item), tag: `blocked:${item}` };
    return null;
  }
  if (name === 'budget.reached') {
    const run = str('runId');
    return { title: label ? `Budget reached: ${label}` : 'Budget reached', body: str('message') ?? '', href: run ? `#/runs/${encodeURIComponent(run)}` : '#/usage', tag: `budget:${run ?? 'day'}` };
  }
  if (name === 'question.asked') {
    const run = str('runId');
    return { title: label ? `Question waiting: ${label}` : 'Question waiting', body: str('text') ?? '', href: run ? `#/runs/${encodeURIComponent(run)}` : '#/now', tag: `question:${str('questionId') ?? ''}` };
  }
  return null;
}

function show(notice: BrowserNotice): void {
  const notification = new Notification(notice.title, { body: notice.body, tag: notice.tag });
  notification.onclick = () => {
    window.focus();
    window.location.hash = notice.href;
    notification.close();
  };
}

/** The item's title for a notice (one request; the notice goes out without it when the request fails). */
async function titleOf(id: string | null): Promise<string | null> {
  if (id === null) return null;
  try {
    return (await getJson<WorkItemDetailResponse>(`/api/work-items/${encodeURIComponent(id)}`)).item.title;
  } catch {
    return null;
  }
}

type Permission = NotificationPermission | 'unsupported';

/**
 * "Notify me": asks the browser's permission, then shows a system notification for each question waiting, item
 * blocked or done, and budget reached that the live feed brings while the page is open. Clicking one focuses the
 * page on its item or run.
 */
export function NotifyToggle() {
  const [permission, setPermission] = useState<Permission>(() => (typeof Notification === 'undefined' ? 'unsupported' : Notification.permission));
  const [enabled, setEnabled] = useState(() => localStorage.getItem(ENABLED_KEY) === 'on');
  const active = enabled && permission === 'granted';
  const [stream, setStream] = useState<StreamState | null>(null);
  useEffect(() => {
    if (!active) {
      setStream(null);
      return;
    }
    return followEvents(
      {},
      {
        onSnapshotNeeded: () => {},
        onState: setStream,
        onEvent: (name, data) => {
          if (noticeOf(name, data, null) === null) return;
          const item = (data as { workItemId?: unknown }).workItemId;
          void titleOf(typeof item === 'string' ? item : null).then((title) => {
            const notice = noticeOf(name, data, title);
            if (notice) show(notice);
          });
        },
      },
    );
  }, [active]);
  const toggle = async () => {
    if (active) {
      localStorage.setItem(ENABLED_KEY, 'off');
      setEnabled(false);
      return;
    }
    const answer = permission === 'granted' ? 'granted' : await Notification.requestPermission();
    setPermission(answer);
    const on = answer === 'granted';
    localStorage.setItem(ENABLED_KEY, on ? 'on' : 'off');
    setEnabled(on);
  };
  if (permission === 'unsupported') return null;
  const title =
    permission === 'denied'
      ? 'Notifications are blocked for this site: allow them in the browser’s site settings'
      : active
        ? 'Browser notifications on: questions waiting, items blocked or done, budgets reached. Click to turn off.'
        : 'Show a browser notification when a question waits for you, an item is blocked or done, or a budget is reached';
  return (
    <button class={`notify-toggle${active ? ' on' : ''}`} data-notify-toggle={active ? 'on' : 'off'} data-notify-stream={stream ?? ''} title={title} disabled={permission === 'denied'} onClick={() => void toggle()}>
      {active ? 'Notifying' : 'Notify me'}
    </button>
  );
}
