import { LISTED_WORKER_STATES } from '../../store/index.js';
import { openContext, type GlobalOptions } from '../context.js';
import { painter, table } from '../format.js';
import { WORKER_HEADERS, viewWorkers, workerRow } from '../workers-view.js';

/** `orchestrator workers`: the workers on this database, their slots, running jobs, heartbeat age and state; lost ones flagged. */
export async function workersCommand(options: GlobalOptions & { all?: boolean; json?: boolean }): Promise<number> {
  const ctx = await openContext(options);
  try {
    const states = options.all ? undefined : LISTED_WORKER_STATES;
    const [workers, now] = await Promise.all([ctx.store.listWorkers(states ? { states } : {}), ctx.store.databaseNow()]);
    const leaseSeconds = ctx.config.workers.leaseSeconds;
    const views = viewWorkers(workers, now, leaseSeconds);
    if (options.json) {
      ctx.stdout.write(`${JSON.stringify({ now, leaseSeconds, workers: views }, null, 2)}\n`);
      return 0;
    }
    const paint = painter(ctx.stdout);
    const live = views.filter((worker) => worker.state === 'active' || worker.state === 'draining');
    const lost = views.filter((worker) => worker.flag !== null);
    const slots = live.reduce((sum, worker) => sum + worker.slots, 0);
    const busy = live.reduce((sum, worker) => sum + worker.jobs.length, 0);
    ctx.stdout.write(`${paint.bold(`Workers (${live.length} live, ${busy}/${slots} slots busy${lost.length > 0 ? `, ${lost.length} lost or late` : ''})`)}\n`);
    if (views.length === 0) {
      ctx.stdout.write(paint.dim(`none${ctx.store.kind === 'sqlite' ? ' (workers need a PostgreSQL database: --db postgres://…)' : ''}\n`));
      return 0;
    }
    ctx.stdout.write(`${table(WORKER_HEADERS, views.map((worker) => workerRow(worker, paint, leaseSeconds)))}\n`);
    if (lost.length > 0) {
      ctx.stdout.write(paint.yellow(`A lost worker's jobs go back to the queue and its runs are marked orphaned; a late one (silent for more than the ${leaseSeconds} s lease) is marked lost at the coordinator's next sweep.\n`));
    }
    return 0;
  } finally {
    await ctx.close();
  }
}
