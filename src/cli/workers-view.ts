import { formatDuration } from '../lib/time.js';
import type { WorkerView } from '../store/index.js';
import type { Paint } from './format.js';

// The view itself is shared with the dashboard's Workers panel.
export { viewWorkers, type WorkerView } from '../store/index.js';

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
