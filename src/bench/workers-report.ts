import { cpus } from 'node:os';
import type { Distribution, WorkersConfigurationFigures, WorkersThroughputFigures } from './workers-throughput.js';

const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`);
const spread = (figure: Distribution) => `${ms(figure.medianMs)} / ${ms(figure.p95Ms)} / ${ms(figure.maxMs)} (${figure.count})`;
const name = (row: WorkersConfigurationFigures) => `${row.workers} worker${row.workers === 1 ? '' : 's'} × ${row.slots} slots`;

/** The docs/benchmarks.md section of `npm run bench -- workers`. */
export function workersSection(figures: WorkersThroughputFigures): string {
  const rows = figures.configurations;
  return [
    '## 9. Throughput of worker processes (target: 3 workers × 2 slots ≥ 2.5× the items per minute of 1 worker × 2 slots)',
    '',
    `${figures.items} queued code-developer sessions, one per item, each on its own branch of a bare git remote in a temp directory, run by \`orchestrator worker\` processes (separate child processes, each with its own HOME and clone cache, as on separate machines), on PostgreSQL 127.0.0.1 in fresh schemas (store and queue) per configuration, dropped afterwards; the configurations ran one after the other in this run. Each session is the concurrency benchmark's stand-in CLI (section 4) paced like a model: its recorded lines spread over ${(figures.sessionMs / 1000).toFixed(1)} s, the process idle in between, and halfway through it writes and commits a file, so the worker pushes the branch during the session. The remote starts as one commit of this package's sources. Wall time: the first enqueue → the last job done (the workers already running and idle; their start-up is listed apart).`,
    '',
    '| configuration | wall time | items/min | jobs per worker | worker start-up |',
    '|---|---|---|---|---|',
    ...rows.map((row) => `| ${name(row)} | ${(row.wallMs / 1000).toFixed(1)} s | **${row.itemsPerMinute.toFixed(1)}** | ${row.jobsPerWorker.join(' / ')} | ${ms(row.startupMs)} |`),
    `| **ratio** | | **${figures.ratio.toFixed(2)}×** | | |`,
    '',
    'Where the time of a job goes, seen from outside the workers (their output lines, timestamped as they arrive, and the runs they recorded): median / p95 / max (jobs).',
    '',
    '| configuration | git preparation, first job of a slot (clone) | git preparation, later jobs (fetch, worktree) | session (run created → ended) | after the session (push) | enqueue → started |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${name(row)} | ${spread(row.gitPrepFirst)} | ${spread(row.gitPrepLater)} | ${spread(row.session)} | ${spread(row.afterSession)} | ${spread(row.queued)} |`),
    '',
    `Git preparation = the worker's "job started" line → its run row created (the fetch into the worker's clone of the remote, or the clone itself on a worker's first jobs, and the item branch's worktree). After the session = run ended → "job done" (the branch's last push; the commit made during the session was pushed as it was made). Measured on Node ${process.version.slice(1)}, ${cpus().length} cores, load average (1 min) ${figures.loadBefore.toFixed(1)} before, ${figures.loadAfter.toFixed(1)} after.`,
  ].join('\n');
}
