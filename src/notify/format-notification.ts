import { redactText } from '../lib/redact.js';
import type { Notification } from './notification.js';

/** What a notification says about its work item, read from the store when it is sent. */
export interface NotifiedItem {
  id: string;
  kind: 'priority' | 'bug';
  number: string;
  title: string;
  state: string;
}

/**
 * The JSON a webhook receives. `text` is what Slack's incoming webhooks (and Mattermost, Rocket.Chat, Discord's
 * `/slack` endpoint) show; the other fields are for receivers that route or render by themselves.
 */
export interface WebhookBody {
  text: string;
  event: Notification['kind'];
  /** The item as the store has it; only its id when the store no longer has it. */
  item: (Pick<NotifiedItem, 'id'> & Partial<NotifiedItem>) | null;
  run: string | null;
  question: { id: string; text: string } | null;
  detail: string | null;
  at: string;
}

/** A detail longer than this is cut (a blocked reason can quote a test's output); the dashboard has the rest. */
const MAX_DETAIL_CHARS = 500;

/** `PRIORITY 3 "Slugify helper" (P-3)`, or the id alone when the item is not in the store (any more). */
export function itemLabel(item: NotifiedItem | null, fallbackId: string | null): string | null {
  if (item) return `${item.kind === 'bug' ? 'BUG' : 'PRIORITY'} ${item.number} "${item.title}" (${item.id})`;
  return fallbackId;
}

function shorten(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= MAX_DETAIL_CHARS ? oneLine : `${oneLine.slice(0, MAX_DETAIL_CHARS - 1)}…`;
}

/** Slack reads `&`, `<` and `>` as markup (links, mentions): text from agents must not make any. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The one line a person reads, plain text (the browser notification uses it as well). */
export function notificationText(notification: Notification, item: NotifiedItem | null): string {
  const label = itemLabel(item, notification.workItemId);
  const detail = notification.detail === null ? null : shorten(notification.detail);
  switch (notification.kind) {
    case 'done':
      return `Done: ${label ?? 'a work item'} is merged and marked complete`;
    case 'blocked':
      return `Blocked: ${label ?? 'a work item'} needs a person${detail ? `: ${detail}` : ''}`;
    case 'question': {
      const who = label ? ` (${label}, run ${notification.runId ?? '?'})` : notification.runId ? ` (run ${notification.runId})` : '';
      const answer = notification.questionId ? ` Answer it on the dashboard or with: orchestrator answer ${notification.questionId} "…"` : '';
      return `Question waiting${who}: ${detail ?? '(no text)'}.${answer}`;
    }
    case 'budget':
      return `Budget reached${label ? ` (${label})` : ''}: ${detail ?? 'a spending limit stopped work'}`;
  }
}

/** The webhook's JSON body: redacted (a blocked reason may quote anything), Slack markup escaped in `text`. */
export function webhookBody(notification: Notification, item: NotifiedItem | null): WebhookBody {
  const detail = notification.detail === null ? null : redactText(shorten(notification.detail));
  return {
    text: escapeSlack(redactText(notificationText(notification, item))),
    event: notification.kind,
    item: item ? { ...item, title: redactText(item.title) } : notification.workItemId !== null ? { id: notification.workItemId } : null,
    run: notification.runId,
    question: notification.questionId !== null ? { id: notification.questionId, text: detail ?? '' } : null,
    detail,
    at: notification.at,
  };
}
