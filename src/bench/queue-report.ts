import { cpus } from 'node:os';
import type { QueueBenchFigures } from './queue-pickup.js';

const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);

/** The docs/benchmarks.md section of `npm run bench -- queue`. */
export function queueSection(figures: QueueBenchFigures): string {
  return [
    '## 7. Job queue for several machines: graphile-worker vs pg-boss (target: pickup p95 ≤ 50 ms)',
    '',
    `graphile-worker ${figures.versions.graphileWorker} and pg-boss ${figures.versions.pgBoss}: the newest releases whose \`engines\` accept Node 20 (graphile-worker 0.18 and pg-boss 11+ need Node 22). PostgreSQL on 127.0.0.1, each library in a schema of its own, only documented options.`,
    '',
    '**Pickup.** One worker with one slot, idle and waiting; one job at a time is enqueued from another connection of the same process, 10–50 ms after the previous one started; latency = the enqueue call starts → the handler starts (one clock). graphile-worker alone and through the adapter ran in alternating halves (alone, adapter, adapter, alone).',
    '',
    '| library, options | jobs | p50 | p95 | max |',
    '|---|---|---|---|---|',
    ...figures.pickup.map((row) => `| ${row.name} | ${row.jobs} | ${ms(row.p50Ms)} | **${ms(row.p95Ms)}** | ${ms(row.maxMs)} |`),
    '',
    '**A worker killed with SIGKILL while it holds a job.** Worker A (a child process) takes the job and runs it; worker B (another child process) waits idle; A is killed with SIGKILL, then the action runs; the figure is SIGKILL → B\'s handler starts the same job.',
    `Rows that reach the ${(figures.kill[0]?.capMs ?? 0) / 1000} s cap show what the library documents instead.`,
    '',
    '| library, options | after the kill | SIGKILL → another worker runs the job |',
    '|---|---|---|',
    ...figures.kill.map((row) => `| ${row.name} | ${row.action} | ${row.handedOverMs === null ? `not within ${row.capMs / 1000} s: ${row.note}` : `**${ms(row.handedOverMs)}**`} |`),
    '',
    'graphile-worker\'s `forceUnlockWorkers` does not notify, so the unlocked job waits for an idle worker\'s next poll (`pollInterval`, default 2 s). pg-boss 10 has no heartbeat: `expireInSeconds` must outlast the longest session, because it also ends a live handler (it is the handler\'s timeout), and pg-boss records no worker on a job, so handing back a dead worker\'s jobs needs the job ids.',
    '',
    `Measured on Node ${process.version.slice(1)}, ${cpus().length} cores, load average (1 min) ${figures.loadAverage.toFixed(1)} at the end, most of it other work on the machine.`,
  ].join('\n');
}
