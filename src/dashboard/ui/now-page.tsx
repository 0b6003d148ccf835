import { useState } from 'preact/hooks';
import type { ActivityEvent, NowResponse, RunProgress, RunProgressEvent, RunView, WaitingItem } from '../api-types.js';
import { getJson } from './api.js';
import { Card, Cost, ErrorBox, GridHead, RunCells, StatusBadge, StopButton, WaitInfo } from './components.js';
import { duration, money, since, time, tokens, waitSummary } from './format.js';
import { useLiveResource, useNow, type Reduction } from './live.js';
import { QuestionsCard } from './messages.js';
import { WorkersPanel, useWorkers } from './workers-panel.js';

interface Notice {
  key: number;
  at: string;
  text: string;
  level: string;
}

function reduceNow(state: NowResponse, name: string, data: unknown): Reduction<NowResponse> {
  if (name === 'run.activity') {
    const activity = data as ActivityEvent;
    const index = state.runs.findIndex((run) => run.id === activity.runId);
    if (index === -1) return 'reload';
    const runs = [...state.runs];
    runs[index] = { ...runs[index]!, status: 'running', live: activity.live ?? runs[index]!.live, lastEventAt: activity.at };
    return { ...state, runs };
  }
  if (name === 'work_item.waiting') {
    const event = data as { workItemId: string; waitingFor: WaitingItem['waitingFor']; waitingDetail: string | null; waitingSince: string | null };
    const index = state.waiting.findIndex((item) => item.id === event.workItemId);
    if (event.waitingFor === null) return index === -1 ? state : { ...state, waiting: state.waiting.filter((item) => item.id !== event.workItemId) };
    // A new wait: the item's title and place in the roadmap order come from the snapshot.
    if (index === -1) return 'reload';
    const waiting = [...state.waiting];
    waiting[index] = { ...waiting[index]!, waitingFor: event.waitingFor, waitingDetail: event.waitingDetail, waitingSince: event.waitingSince };
    return { ...state, waiting };
  }
  if (name === 'work_item.transitioned') {
    const event = data as { workItemId: string; to: string };
    if (!state.waiting.some((item) => item.id === event.workItemId)) return state;
    return { ...state, waiting: state.waiting.map((item) => (item.id === event.workItemId ? { ...item, state: event.to } : item)) };
  }
  if (name === 'run.progress') {
    const event = data as RunProgressEvent;
    const index = state.runs.findIndex((run) => run.id === event.runId);
    if (index === -1) return 'reload';
    const runs = [...state.runs];
    runs[index] = { ...runs[index]!, progress: { status: event.status, percent: event.percent, at: event.at } };
    return { ...state, runs };
  }
  if (name === 'run.queued' || name === 'run.started' || name === 'run.ended') return 'reload';
  // A session asked a person (ask_human): its question joins "waiting for you" while the page is open.
  if (name === 'question.asked') return 'reload';
  return state;
}

/** The work items that wait, and why: next to the active runs, so that an idle slot or a queue explains itself. */
function WaitingCard({ items }: { items: readonly WaitingItem[] | null }) {
  const summary = items ? waitSummary(items) : '';
  return (
    <Card title={`Waiting${items ? ` (${items.length})` : ''}`} actions={summary && <span class="muted small" data-field="wait-summary">{summary}</span>}>
      {items === null ? (
        <p class="muted">loading…</p>
      ) : items.length === 0 ? (
        <p class="muted empty" data-empty="waiting">No work item waits: each one is running, at rest, done or blocked.</p>
      ) : (
        <table class="grid" data-table="waiting">
          <GridHead columns={['item', 'title', 'state', 'waiting for']} />
          <tbody>
            {items.map((item) => (
              <tr key={item.id} data-waiting-item={item.id}>
                <td>
                  <a href="#/work-items">{item.kind === 'bug' ? `BUG ${item.number}` : `PRIORITY ${item.number}`}</a>
                </td>
                <td class="truncate" title={item.title}>
                  {item.title}
                </td>
                <td>
                  <StatusBadge status={item.state} />
                </td>
                <td>
                  <WaitInfo item={item} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

/** What the session last said of its progress (its report_progress tool), with a bar when it gave a percent. */
function ProgressCell({ progress }: { progress: RunProgress | null }) {
  if (progress === null) return <td class="muted" data-field="progress">—</td>;
  return (
    <td class="truncate" data-field="progress" title={`reported at ${time(progress.at)}`}>
      {progress.percent !== null && <progress max={100} value={progress.percent} data-percent={progress.percent} />} <span data-field="progress-status">{progress.status}</span>
      {progress.percent !== null && <span class="muted"> {Math.round(progress.percent)}%</span>}
    </td>
  );
}

function ActiveRow({ run, now, showHost }: { run: RunView; now: number; showHost: boolean }) {
  const live = run.live;
  const inputTokens = live ? live.inputTokens + live.cacheCreationInputTokens + live.cacheReadInputTokens : run.inputTokens;
  const outputTokens = live ? live.outputTokens : run.outputTokens;
  const cost = live ? live.reportedCostUsd + live.estimatedCostUsd : run.costUsd;
  return (
    <tr data-run-id={run.id} class="active-run">
      <RunCells run={run} />
      {showHost && (
        <td data-field="host" title={`pid ${run.pid ?? '—'} on ${run.host}`}>
          {run.host}
        </td>
      )}
      <td class="num" data-field="elapsed">{since(run.startedAt ?? run.createdAt, now)}</td>
      <td class="truncate wide" data-field="last-tool">
        {live?.lastToolCall ? (
          <>
            <span class="tool-name">{live.lastToolCall.name}</span> <span class="muted">{live.lastToolCall.summary.replace(live.lastToolCall.name, '').trim()}</span>
          </>
        ) : (
          <span class="muted">{live?.lastText ?? '—'}</span>
        )}
      </td>
      <ProgressCell progress={run.progress} />
      <td class="num" data-field="messages">{live?.messageCount ?? '—'}</td>
      <td class="num" data-field="tokens" title="input (incl. cache) / output; while a session runs its output is estimated from its text until the CLI reports it">
        {tokens(inputTokens)} / {tokens(outputTokens)}
      </td>
      <td class="num" data-field="cost" title={live && live.estimatedCostUsd > 0 ? 'estimated from tokens until the session reports its cost' : 'reported by the CLI'}>
        {live && live.estimatedCostUsd > 0 ? '≈' : ''}
        {money(cost)}
      </td>
      <td>
        <StopButton run={run} />
      </td>
    </tr>
  );
}

export function NowPage() {
  const now = useNow();
  const [notices, setNotices] = useState<Notice[]>([]);
  const { data, error, reload } = useLiveResource<NowResponse>({
    key: 'now',
    load: () => getJson<NowResponse>('/api/now'),
    reduce: (state, name, payload) => {
      if (name === 'orchestrator.notice' || name === 'work_item.transitioned' || name === 'run.permission_denied') {
        const event = payload as { at: string; message?: string; level?: string; workItemId?: string; from?: string; to?: string; reason?: string; toolName?: string };
        const text =
          name === 'orchestrator.notice'
            ? (event.message ?? '')
            : name === 'work_item.transitioned'
              ? `${event.workItemId}: ${event.from} → ${event.to} (${event.reason})`
              : `permission denied: ${event.toolName} — ${event.reason}`;
        setNotices((list) => [{ key: Date.now() + Math.random(), at: event.at, text, level: name === 'run.permission_denied' ? 'warn' : (event.level ?? 'info') }, ...list].slice(0, 50));
      }
      return reduceNow(state, name, payload);
    },
  });
  const workers = useWorkers();
  // One machine (no worker registered, every run here): the page looks as it always did. Otherwise each run says where it runs.
  const showHost = (workers.data?.response.workers.length ?? 0) > 0 || new Set(data?.runs.map((run) => run.host)).size > 1;
  const activeColumns = ['run', 'agent', 'work item', 'status', ...(showHost ? ['host'] : []), 'elapsed', 'doing now', 'progress', 'msgs', 'tokens in/out', 'cost', ''];
  return (
    <div class="page">
      <ErrorBox error={error} />
      {data && <QuestionsCard questions={data.questions} onAnswered={() => reload()} />}
      <Card title={`Active runs${data ? ` (${data.runs.length})` : ''}`}>
        {data === null ? (
          <p class="muted">loading…</p>
        ) : data.runs.length === 0 ? (
          <p class="muted empty" data-empty="active">No agent is running. Runs appear here the moment the orchestrator starts them.</p>
        ) : (
          <table class="grid" data-table="active">
            <GridHead columns={activeColumns} numeric={['elapsed', 'msgs', 'tokens in/out', 'cost']} />
            <tbody>
              {data.runs.map((run) => (
                <ActiveRow key={run.id} run={run} now={now} showHost={showHost} />
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <WorkersPanel snapshot={workers.data} error={workers.error} />
      <WaitingCard items={data?.waiting ?? null} />
      <div class="two-columns">
        <Card title="Recently finished">
          {data && data.recent.length > 0 ? (
            <table class="grid" data-table="recent">
              <GridHead columns={['run', 'agent', 'work item', 'status', 'ended', 'duration', 'cost']} numeric={['duration', 'cost']} />
              <tbody>
                {data.recent.map((run) => (
                  <tr key={run.id} data-run-id={run.id}>
                    <RunCells run={run} />
                    <td>{time(run.endedAt)}</td>
                    <td class="num">{duration(run.durationMs)}</td>
                    <td class="num">
                      <Cost usd={run.costUsd} estimated={run.costEstimated} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted">Nothing finished yet.</p>
          )}
        </Card>
        <Card title="Orchestrator activity">
          {notices.length === 0 ? (
            <p class="muted">State changes, merges and denials appear here as they happen.</p>
          ) : (
            <ul class="feed">
              {notices.map((notice) => (
                <li key={notice.key} class={`feed-${notice.level}`}>
                  <span class="muted">{time(notice.at)}</span> {notice.text}
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </div>
  );
}
