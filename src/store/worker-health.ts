import type { WorkerRecord, WorkerState } from './cluster.js';

/**
 * How a worker is doing, as `orchestrator workers` and the dashboard's Workers panel show it. Pure: both the CLI and
 * the dashboard compute it the same way from the store's records and the database's clock.
 */

/** lost: marked lost (its jobs were handed back); late: still live but silent past the lease (the next sweep marks it lost). */
export type WorkerFlag = 'lost' | 'late';

/** A worker with the age of its last heartbeat and whether it is in trouble. */
export interface WorkerView extends WorkerRecord {
  heartbeatAgeMs: number;
  flag: WorkerFlag | null;
}

/** The states listed unless all are asked for: the live workers and the lost ones (a stopped worker exited cleanly). */
export const LISTED_WORKER_STATES: readonly WorkerState[] = ['active', 'draining', 'lost'];

/** Ages heartbeats against the database's `now` (never this machine's clock) and flags lost and late workers. */
export function viewWorkers(workers: readonly WorkerRecord[], now: string, leaseSeconds: number): WorkerView[] {
  const nowMs = Date.parse(now);
  return workers.map((worker) => {
    const heartbeatAgeMs = Math.max(0, nowMs - Date.parse(worker.lastHeartbeatAt));
    const live = worker.state === 'active' || worker.state === 'draining';
    const flag: WorkerFlag | null = worker.state === 'lost' ? 'lost' : live && heartbeatAgeMs > leaseSeconds * 1000 ? 'late' : null;
    return { ...worker, heartbeatAgeMs, flag };
  });
}
