import { useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import type { RunView, StopResponse } from '../api-types.js';
import { ApiError, postJson } from './api.js';
import { WAIT_REASON_TITLES, money, shortId, since } from './format.js';
import { useNow } from './live.js';

const ESTIMATE_TITLE = 'estimated: the session ended without the CLI\'s result (killed, out of memory, crashed), so tokens and cost come from its recorded messages and a price table';

/** A cost in USD; our estimate (no result from the CLI) is shown as `≈$0.0123 estimated`, with how it was made on hover. */
export function Cost({ usd, estimated, note, digits = 4 }: { usd: number; estimated: boolean; note?: string | null; digits?: number }) {
  if (!estimated) return <span data-cost-estimated="false">{money(usd, digits)}</span>;
  return (
    <span class="estimated" data-cost-estimated="true" title={note ?? ESTIMATE_TITLE}>
      ≈{money(usd, digits)} <span class="muted">estimated</span>
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status.replace(/[^a-z_]/g, '')}`} data-status={status}>{status.replace('_', ' ')}</span>;
}

/** How long a wait has lasted, ticking every second (its own component, so only waiting cells re-render). */
function Waited({ since: start }: { since: string }) {
  const now = useNow();
  return (
    <span class="muted" data-field="waited" title={`since ${start}`}>
      {' '}
      for {since(start, now)}
    </span>
  );
}

/** Why a work item waits: the reason, the wait in words, and for how long. Nothing when it does not wait. */
export function WaitInfo({ item }: { item: { id: string; waitingFor: string | null; waitingDetail: string | null; waitingSince: string | null } }) {
  if (item.waitingFor === null) return null;
  return (
    <span class="wait-info" data-wait={item.waitingFor} data-wait-item={item.id}>
      <span class={`badge wait wait-${item.waitingFor.replace(/[^a-z]/g, '')}`} title={`waiting for ${WAIT_REASON_TITLES[item.waitingFor] ?? item.waitingFor}`}>
        {item.waitingFor}
      </span>
      {item.waitingDetail && <span data-field="wait-detail"> {item.waitingDetail}</span>}
      {item.waitingSince && <Waited since={item.waitingSince} />}
    </span>
  );
}

const AGENT_CLASS: Record<string, string> = {
  architect: 'agent-architect',
  'code-developer': 'agent-developer',
  'code-reviewer': 'agent-reviewer',
  'project-manager': 'agent-pm',
  'bug-fixer': 'agent-fixer',
};

export function AgentBadge({ agent }: { agent: string }) {
  return <span class={`agent ${AGENT_CLASS[agent] ?? ''}`}>{agent}</span>;
}

export function RunLink({ run }: { run: { id: string } }) {
  return (
    <a href={`#/runs/${run.id}`} class="mono" title={run.id}>
      {shortId(run.id)}
    </a>
  );
}

export function ErrorBox({ error }: { error: string | null }) {
  return error === null ? null : <div class="error-box" role="alert">{error}</div>;
}

export function Card({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card">
      <header class="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** Stop with a confirmation step: the first click asks, the second stops the run's process group. */
export function StopButton({ run, onStopped }: { run: RunView; onStopped?: (response: StopResponse) => void }) {
  const [phase, setPhase] = useState<'idle' | 'confirm' | 'stopping' | 'error'>('idle');
  const [message, setMessage] = useState<string | null>(null);
  if (run.status !== 'running' && run.status !== 'queued') return null;
  const stop = () => {
    setPhase('stopping');
    postJson<StopResponse>(`/api/runs/${run.id}/stop`)
      .then((response) => onStopped?.(response))
      .catch((error: unknown) => {
        setPhase('error');
        setMessage(error instanceof ApiError ? `${error.message}${error.hint ? ` (${error.hint})` : ''}` : String(error));
      });
  };
  if (phase === 'confirm') {
    return (
      <span class="confirm" role="group" aria-label="confirm stop">
        Stop {run.agent}?{' '}
        <button class="danger" data-action="confirm-stop" onClick={stop}>
          Stop run
        </button>{' '}
        <button onClick={() => setPhase('idle')}>Cancel</button>
      </span>
    );
  }
  if (phase === 'stopping') return <span class="muted">stopping…</span>;
  return (
    <span>
      <button class="danger-outline" data-action="stop" onClick={() => setPhase('confirm')} title="Interrupt the session, then stop its whole process group">
        Stop
      </button>
      {phase === 'error' && <span class="error-text"> {message}</span>}
    </span>
  );
}

/** A table's header row; the `numeric` columns are right-aligned like their cells. */
export function GridHead({ columns, numeric = [] }: { columns: readonly string[]; numeric?: readonly string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((column, index) => (
          <th key={index} class={numeric.includes(column) ? 'num' : undefined}>
            {column}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** The first cells of every run row: its id (a link), agent, work item (or task kind) and status. */
export function RunCells({ run }: { run: RunView }) {
  return (
    <>
      <td>
        <RunLink run={run} />
      </td>
      <td>
        <AgentBadge agent={run.agent} />
      </td>
      <td class="truncate" title={run.workItemTitle ?? run.taskKind}>
        {run.workItemTitle ?? <span class="muted">{run.taskKind}</span>}
      </td>
      <td>
        <StatusBadge status={run.status} />
      </td>
    </>
  );
}

/** A filter drop-down: one of `options`, or none (`anyLabel`). */
export function Choice({ label, value, options, anyLabel, onChange }: { label: string; value: string; options: readonly string[]; anyLabel: string; onChange: (value: string) => void }) {
  return (
    <select value={value} onChange={(event) => onChange((event.target as HTMLSelectElement).value)} aria-label={label}>
      <option value="">{anyLabel}</option>
      {options.map((option) => (
        <option key={option} value={option}>
          {option}
        </option>
      ))}
    </select>
  );
}
