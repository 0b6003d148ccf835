// A queue worker in its own process for test/integration/queue.test.ts: `node queue-worker.mjs '<json config>'`.
// Imports the built adapter (run `npm run build` first). Prints one JSON line per event on stdout:
// {ready, poolId} {started, jobId, attempts, payload} {finished, jobId} {aborted, jobId} {draining} {stopped} {error}.
// Reads lines `release <jobId>` on stdin: the job of that id returns. SIGTERM drains the worker.
import { runQueueWorker } from '../../dist/queue/index.js';
import { closeInput, holdUntilReleased, say } from './job-protocol.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');

const controller = new AbortController();
process.on('SIGTERM', () => {
  say({ draining: true });
  controller.abort();
});

try {
  await runQueueWorker({
    connectionString: config.connectionString,
    schema: config.schema,
    workerId: config.workerId,
    concurrency: config.concurrency ?? 1,
    graceMs: config.graceMs ?? 30_000,
    pollIntervalMs: config.pollIntervalMs,
    signal: controller.signal,
    log: () => undefined,
    onReady: ({ poolId }) => say({ ready: true, poolId }),
    handler: async (job, signal) => {
      say({ started: true, jobId: job.id, attempts: job.attempts, payload: job.payload });
      // `hang` ignores release lines: it ends only when its signal aborts (a drain's grace period).
      await holdUntilReleased(job.id, [signal], { releasable: job.payload.behaviour !== 'hang' });
      say({ finished: true, jobId: job.id });
    },
  });
  say({ stopped: true });
} catch (error) {
  say({ error: { name: error.name, code: error.code, message: error.message } });
  process.exitCode = 1;
}
closeInput();
