import { formatDuration } from '../lib/time.js';
import type { WorkerRecord } from '../store/index.js';
import type { Paint } from './format.js';

/** A worker as `orchestrator workers` shows it: its record, how old its heartbeat is, and whether it is in trouble. */
export interface WorkerView extends WorkerRecord {
  heartbeatAgeMs: number;
  /** lost: marked lost (its jobs were handed back); late: still live but silent past the lease (the next sweep marks it lost). */
  flag: 'lost' | 'late' | null;
}

/** Ages heartbeats against the database's `now` (never this machine's clock). */
export function viewWorkers(workers: readonly WorkerRecord[], now: string, leaseSeconds: number): WorkerView[] {
  return workers.map((worker) => {
    const heartbeatAgeMs = Math.max(0, Date.parse(now) - Date.parse(worker.lastHeartbeatAt));
    const live = worker.state === 'active' || worker.state === 'draining';
    const flag = worker.state === 'lost' ? 'lost' : live && heartbeatAgeMs > leaseSeconds * 1000 ? 'late' : null;
    return { ...worker, heartbeatAgeMs, flag };
  });
}

export const WORKER_HEADERS = ['WORKER', 'HOST', 'PID', 'SLOTS', 'JOBS', 'HEARTBEAT', 'RUNNING', 'STATE'];

export function workerRow(worker: WorkerView, paint: Paint, leaseSeconds: number): string[] {
  const running = worker.jobs.map((job) => job.runId ?? job.jobId).join(', ');
  let state: string = worker.state;
  if (worker.flag === 'lost') state = paint.red(`LOST since ${worker.stateChangedAt.replace('T', ' ').slice(0, 19)}`);
  else if (worker.flag === 'late') state = paint.yellow(`${worker.state}, LATE: no heartbeat for more than the ${leaseSeconds} s lease`);
  return [
    worker.id.slice(0, 12),
    worker.host,
    String(worker.pid),
    String(worker.slots),
    `${worker.jobs.length}/${worker.slots}`,
    `${formatDuration(worker.heartbeatAgeMs)} ago`,
    running || '-',
    // Last: a coloured cell would throw off the padding of the columns after it.
    state,
  ];
}
