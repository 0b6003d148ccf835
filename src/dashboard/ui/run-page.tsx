import { useEffect, useRef, useState } from 'preact/hooks';
import type { MessageRecord, MessagesResponse, RunDetailResponse } from '../api-types.js';
import { getJson, query } from './api.js';
import { AgentBadge, Card, Cost, ErrorBox, GridHead, StatusBadge, StopButton } from './components.js';
import { duration, time, tokens } from './format.js';
import { useLiveResource, type Reduction } from './live.js';
import { AgentMessageList, MessageBox } from './messages.js';
import { TimelineItem, toolNamesById } from './timeline.js';

interface RunState {
  detail: RunDetailResponse;
  messages: MessageRecord[];
  /** Keys of the messages present: the stream and the snapshot overlap, and each message is shown once. */
  seen: Set<string>;
  /** Tool name by tool_use id, for labelling results; grows as messages arrive. */
  names: Map<string, string>;
}

const EMPTY_NAMES = new Map<string, string>();
const keyOf = (message: MessageRecord) => `${message.invocationId}:${message.seq}`;
/** Idle gaps in a replay are shortened to this, so a long tool run does not stall the replay. */
const MAX_REPLAY_GAP_MS = 5_000;

async function loadRun(id: string): Promise<RunState> {
  const detail = await getJson<RunDetailResponse>(`/api/runs/${encodeURIComponent(id)}`);
  const messages: MessageRecord[] = [];
  for (const invocation of detail.invocations) {
    let after = 0;
    for (;;) {
      const page = await getJson<MessagesResponse>(`/api/runs/${encodeURIComponent(id)}/messages${query({ invocation: invocation.id, after, limit: 5000 })}`);
      messages.push(...page.messages);
      if (!page.more || page.messages.length === 0) break;
      after = page.messages.at(-1)!.seq;
    }
  }
  return { detail, messages, seen: new Set(messages.map(keyOf)), names: toolNamesById(messages) };
}

function reduceRun(state: RunState, name: string, data: unknown): Reduction<RunState> {
  if (name === 'run.message') {
    const message = data as MessageRecord;
    const key = keyOf(message);
    if (state.seen.has(key)) return state;
    if (!state.detail.invocations.some((invocation) => invocation.id === message.invocationId)) return 'reload';
    state.seen.add(key);
    for (const [id, name] of toolNamesById([message])) state.names.set(id, name);
    const last = state.messages.at(-1);
    const inOrder = !last || (last.invocationId === message.invocationId ? last.seq < message.seq : true);
    let messages = [...state.messages, message];
    if (!inOrder) {
      const order = new Map(state.detail.invocations.map((invocation, index) => [invocation.id as string, index]));
      messages = messages.sort((a, b) => (order.get(a.invocationId) ?? 0) - (order.get(b.invocationId) ?? 0) || a.seq - b.seq);
    }
    const run = state.detail.run.status === 'running' ? state.detail.run : { ...state.detail.run, status: 'running' as const };
    return { ...state, messages, detail: run === state.detail.run ? state.detail : { ...state.detail, run } };
  }
  if (name === 'run.started' || name === 'run.ended' || name === 'run.permission_denied') return 'reload';
  return state;
}

type Speed = 'live' | 'instant' | 1 | 10;

/** Shows messages up to a cursor that advances with the recorded timing, divided by the speed. */
function useReplay(messages: readonly MessageRecord[], speed: Speed, playing: boolean): number {
  const [cursor, setCursor] = useState(messages.length);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    if (speed === 'live' || speed === 'instant') {
      setCursor(messages.length);
      return;
    }
    setCursor((current) => (current >= messages.length ? 0 : current));
  }, [speed, messages.length]);
  useEffect(() => {
    if (timer.current) clearTimeout(timer.current);
    if (!playing || speed === 'live' || speed === 'instant' || cursor >= messages.length) return;
    const previous = messages[cursor - 1];
    const next = messages[cursor]!;
    const gap = previous ? Math.min(Math.max(0, Date.parse(next.at) - Date.parse(previous.at)), MAX_REPLAY_GAP_MS) : 0;
    timer.current = setTimeout(() => setCursor((current) => current + 1), gap / speed);
    return () => {
      if (timer.current) clearTimeout(timer.current);
    };
  }, [cursor, playing, speed, messages]);
  return cursor;
}

export function RunPage({ id, initialSpeed }: { id: string; initialSpeed: Speed | null }) {
  const { data, error, stream, reload } = useLiveResource<RunState>({ key: `run:${id}`, run: id, load: () => loadRun(id), reduce: reduceRun });
  const active = data !== null && (data.detail.run.status === 'running' || data.detail.run.status === 'queued');
  const [speed, setSpeed] = useState<Speed>(initialSpeed ?? 'live');
  const [playing, setPlaying] = useState(initialSpeed !== null);
  const messages = data?.messages ?? [];
  const cursor = useReplay(messages, active ? 'live' : speed, playing);
  const shown = active || speed === 'live' || speed === 'instant' ? messages : messages.slice(0, cursor);
  const names = data?.names ?? EMPTY_NAMES;
  const bottom = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  useEffect(() => {
    if (follow && (active || playing)) bottom.current?.scrollIntoView({ block: 'end' });
  }, [shown.length, follow, active, playing]);
  if (data === null) return <div class="page">{error ? <ErrorBox error={error} /> : <p class="muted">loading run…</p>}</div>;
  const { run, invocations, events, workItem, agentMessages } = data.detail;
  const replaying = !active && speed !== 'live' && speed !== 'instant';
  const startReplay = (next: Speed) => {
    setSpeed(next);
    setPlaying(next !== 'instant');
  };
  return (
    <div class="page" data-run-status={run.status}>
      <ErrorBox error={error} />
      <section class="card run-head">
        <div class="run-title">
          <AgentBadge agent={run.agent} /> <span class="mono" title={run.id}>{run.id}</span> <StatusBadge status={run.status} />
          {active && <span class={`stream-dot ${stream}`}>{stream === 'live' ? 'live' : stream}</span>}
          <span class="spacer" />
          <StopButton run={run} onStopped={() => reload()} />
        </div>
        <dl class="facts">
          <dt>work item</dt>
          <dd>{workItem ? <a href="#/work-items">{`${workItem.kind === 'bug' ? 'BUG' : 'PRIORITY'} ${workItem.number}: ${workItem.title}`}</a> : run.taskKind}</dd>
          <dt>attempt</dt>
          <dd>{run.attempt}</dd>
          <dt>branch</dt>
          <dd class="mono">{run.branch ?? '—'}</dd>
          <dt>directory</dt>
          <dd class="mono truncate" title={run.worktree ?? run.cwd}>{run.worktree ?? run.cwd}</dd>
          <dt>created</dt>
          <dd>{time(run.createdAt)}</dd>
          <dt>ended</dt>
          <dd>{time(run.endedAt)}</dd>
          <dt>session time</dt>
          <dd>{duration(run.durationMs)}</dd>
          <dt>tokens in / out</dt>
          <dd data-field="tokens">
            {tokens(run.inputTokens)} (+{tokens(run.cacheCreationInputTokens)} cache write, {tokens(run.cacheReadInputTokens)} cache read) / {tokens(run.outputTokens)}
          </dd>
          <dt>cost</dt>
          <dd data-field="cost">
            <Cost usd={run.costUsd} estimated={run.costEstimated} />
          </dd>
          <dt>pid / exit code</dt>
          <dd>
            {run.pid ?? '—'} / {run.exitCode ?? '—'}
          </dd>
          {run.errorKind && (
            <>
              <dt>error</dt>
              <dd class="error-text" data-field="error">
                {run.errorKind}: {run.errorMessage}
              </dd>
            </>
          )}
        </dl>
        <details class="prompt">
          <summary>prompt</summary>
          <pre>{run.prompt}</pre>
        </details>
        {active && <MessageBox runId={run.id} onSent={() => reload()} />}
      </section>

      <Card
        title={`Timeline (${shown.length}${shown.length === messages.length ? '' : ` of ${messages.length}`} messages)`}
        actions={
          active ? (
            <label class="follow">
              <input type="checkbox" checked={follow} onChange={() => setFollow(!follow)} /> follow
            </label>
          ) : (
            <div class="replay" role="group" aria-label="replay">
              <span class="muted">replay</span>
              <button data-speed="1" class={speed === 1 ? 'on' : ''} onClick={() => startReplay(1)}>
                1×
              </button>
              <button data-speed="10" class={speed === 10 ? 'on' : ''} onClick={() => startReplay(10)}>
                10×
              </button>
              <button data-speed="instant" class={speed === 'instant' || speed === 'live' ? 'on' : ''} onClick={() => startReplay('instant')}>
                instant
              </button>
              {replaying && <button onClick={() => setPlaying(!playing)}>{playing ? 'pause' : 'play'}</button>}
              {replaying && (
                <progress max={messages.length} value={cursor} data-field="replay-progress">
                  {cursor}
                </progress>
              )}
            </div>
          )
        }
      >
        <ol class="timeline" data-timeline>
          {shown.map((message) => (
            <TimelineItem key={keyOf(message)} message={message} names={names} />
          ))}
        </ol>
        <div ref={bottom} />
      </Card>

      {agentMessages.length > 0 && (
        <Card title={`Messages (${agentMessages.length})`}>
          <AgentMessageList messages={agentMessages} />
        </Card>
      )}

      <Card title={`Sessions (${invocations.length})`}>
        <table class="grid" data-table="invocations">
          <GridHead columns={['started', 'session id', 'model', 'status', 'turns', 'tokens in/out', 'cost', 'duration', 'exit', 'result']} numeric={['turns', 'tokens in/out', 'cost', 'duration']} />
          <tbody>
            {invocations.map((invocation) => (
              <tr key={invocation.id}>
                <td>{time(invocation.startedAt)}</td>
                <td class="mono">
                  {invocation.sessionId ?? '—'}
                  {invocation.resumeSessionId && <div class="muted">resumed {invocation.resumeSessionId}</div>}
                </td>
                <td>{invocation.model ?? '—'}</td>
                <td>
                  <StatusBadge status={invocation.endedAt ? invocation.status : 'running'} />
                </td>
                <td class="num">{invocation.numTurns ?? '—'}</td>
                <td class="num">
                  {tokens(invocation.inputTokens)} / {tokens(invocation.outputTokens)}
                </td>
                <td class="num">
                  <Cost usd={invocation.costUsd} estimated={invocation.costEstimated} note={invocation.costNote} />
                </td>
                <td class="num">{duration(invocation.durationMs)}</td>
                <td>{invocation.exitCode ?? invocation.signal ?? '—'}</td>
                <td class="truncate">{invocation.resultSubtype ?? '—'}{invocation.apiErrorStatus ? ` (HTTP ${invocation.apiErrorStatus})` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {invocations.map((invocation) => (
          <div key={invocation.id}>
            {invocation.permissionDenials.length > 0 && (
              <div class="denials" data-field="denials">
                <h3>Permission denials</h3>
                <ul>
                  {invocation.permissionDenials.map((denial, index) => (
                    <li key={index} class="mono">
                      {JSON.stringify(denial)}
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {invocation.stderrTail && (
              <details class="stderr">
                <summary>stderr (last lines) of {invocation.sessionId ?? invocation.id}</summary>
                <pre>{invocation.stderrTail}</pre>
              </details>
            )}
          </div>
        ))}
      </Card>

      {events.length > 0 && (
        <Card title="Orchestrator events">
          <ul class="feed">
            {events.map((event) => (
              <li key={event.id}>
                <span class="muted">{time(event.at)}</span> <span class="mono">{event.kind}</span> {event.message}
              </li>
            ))}
          </ul>
        </Card>
      )}
    </div>
  );
}
