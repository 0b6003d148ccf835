import { useEffect, useState } from 'preact/hooks';
import type { WorkerPanelView, WorkersResponse } from '../api-types.js';
import { getJson } from './api.js';
import { AgentBadge, Card, GridHead, RunLink } from './components.js';
import { ago, time } from './format.js';
import { useNow } from './live.js';

/** How often the panel asks for the workers: heartbeats change every few seconds and have no event of their own. */
export const WORKERS_POLL_MS = 3000;

export interface WorkersSnapshot {
  response: WorkersResponse;
  /** This browser's clock when the response arrived: heartbeat ages tick on from there. */
  receivedAt: number;
}

/**
 * The workers registered on the database, polled every few seconds (the workers table sends no notifications, and
 * heartbeats would be noise on the event stream). A hidden tab does not poll. Null until the first answer.
 */
export function useWorkers(): { data: WorkersSnapshot | null; error: string | null } {
  const [data, setData] = useState<WorkersSnapshot | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = () => {
      timer = null;
      if (document.hidden) {
        timer = setTimeout(poll, WORKERS_POLL_MS);
        return;
      }
      getJson<WorkersResponse>('/api/workers')
        .then((response) => {
          if (cancelled) return;
          setData({ response, receivedAt: Date.now() });
          setError(null);
        })
        .catch((failure: unknown) => {
          if (!cancelled) setError(failure instanceof Error ? failure.message : String(failure));
        })
        .finally(() => {
          if (!cancelled) timer = setTimeout(poll, WORKERS_POLL_MS);
        });
    };
    poll();
    const onVisible = () => {
      if (!document.hidden && timer !== null) {
        clearTimeout(timer);
        poll();
      }
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      cancelled = true;
      if (timer !== null) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, []);
  return { data, error };
}

/** A lost worker shows LOST (and since when) instead of its state; a late one its state and LATE. */
function WorkerState({ worker, leaseSeconds }: { worker: WorkerPanelView; leaseSeconds: number }) {
  if (worker.lost) {
    return (
      <>
        <span class="badge worker-flag-lost" data-flag="lost" title="its heartbeat stopped: its jobs went back to the queue and its runs are marked orphaned">
          LOST
        </span>
        <span class="muted small"> since {time(worker.stateChangedAt)}</span>
      </>
    );
  }
  return (
    <>
      <span class={`badge worker-state-${worker.state}`}>{worker.state}</span>
      {worker.late && (
        <>
          {' '}
          <span class="badge worker-flag-late" data-flag="late" title={`no heartbeat for more than the ${leaseSeconds} s lease: the coordinator's next sweep marks it lost`}>
            LATE
          </span>
        </>
      )}
    </>
  );
}

function WorkerRow({ worker, leaseSeconds, age }: { worker: WorkerPanelView; leaseSeconds: number; age: number }) {
  const flag = worker.lost ? 'lost' : worker.late ? 'late' : '';
  return (
    <tr data-worker-id={worker.id} data-worker-flag={flag} class={flag ? `worker-${flag}` : undefined}>
      <td data-field="host">{worker.host}</td>
      <td class="mono" title={`${worker.id}, pid ${worker.pid}, version ${worker.version}`}>
        {worker.id.slice(0, 12)}
      </td>
      <td data-field="state">
        <WorkerState worker={worker} leaseSeconds={leaseSeconds} />
      </td>
      <td class="num" data-field="slots" title={worker.lost ? 'the jobs it had when it was lost (handed back to the queue)' : 'slots in use / slots'}>
        {worker.running}/{worker.slots}
      </td>
      <td data-field="jobs" class={worker.lost ? 'muted' : undefined} title={worker.lost && worker.jobs.length > 0 ? 'the jobs it had when it was lost: handed back to the queue' : undefined}>
        {worker.jobs.length === 0 ? (
          <span class="muted">—</span>
        ) : (
          worker.jobs.map((job) => (
            <span key={job.jobId} class="worker-job" data-job-run={job.runId ?? ''}>
              {job.runId ? <RunLink run={{ id: job.runId }} /> : <span class="mono muted">{job.jobId}</span>} {job.agent && <AgentBadge agent={job.agent} />}{' '}
              {job.workItemTitle && <span class="muted">{job.workItemTitle}</span>}
            </span>
          ))
        )}
      </td>
      <td class="num" data-field="heartbeat" title={`last heartbeat ${time(worker.lastHeartbeatAt)} (database clock)`}>
        {ago(age)}
      </td>
    </tr>
  );
}

/**
 * The Workers panel of the Now page: each worker's host, state, slots in use, running jobs and last heartbeat, lost
 * and late workers flagged. Nothing at all when no worker is registered (one machine: the page looks as it always did).
 */
export function WorkersPanel({ snapshot, error }: { snapshot: WorkersSnapshot | null; error: string | null }) {
  const now = useNow();
  if (snapshot === null || snapshot.response.workers.length === 0) return null;
  const { workers, leaseSeconds } = snapshot.response;
  const elapsed = Math.max(0, now - snapshot.receivedAt);
  const live = workers.filter((worker) => worker.state === 'active' || worker.state === 'draining');
  const busy = live.reduce((sum, worker) => sum + worker.running, 0);
  const slots = live.reduce((sum, worker) => sum + worker.slots, 0);
  const lost = workers.filter((worker) => worker.lost).length;
  const late = workers.filter((worker) => worker.late).length;
  const trouble = [lost > 0 ? `${lost} lost` : '', late > 0 ? `${late} late` : ''].filter(Boolean).join(', ');
  return (
    <Card
      title={`Workers (${live.length} live, ${busy}/${slots} slots busy${trouble ? `, ${trouble}` : ''})`}
      actions={error && <span class="error-text small" data-field="workers-error">{error}</span>}
    >
      <table class="grid" data-table="workers">
        <GridHead columns={['host', 'worker', 'state', 'slots', 'running', 'last heartbeat']} numeric={['slots', 'last heartbeat']} />
        <tbody>
          {workers.map((worker) => (
            <WorkerRow key={worker.id} worker={worker} leaseSeconds={leaseSeconds} age={worker.heartbeatAgeMs + elapsed} />
          ))}
        </tbody>
      </table>
      {lost + late > 0 && (
        <p class="muted small" data-field="workers-note">
          A lost worker's jobs go back to the queue and its runs are marked orphaned; a late one (silent for more than the {leaseSeconds} s lease) is marked lost at the coordinator's next sweep.
        </p>
      )}
    </Card>
  );
}
