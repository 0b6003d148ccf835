// A queue worker in its own process for test/integration/queue.test.ts: `node queue-worker.mjs '<json config>'`.
// Imports the built adapter (run `npm run build` first). Prints one JSON line per event on stdout:
// {ready, poolId} {started, jobId, attempts, payload} {finished, jobId} {aborted, jobId} {draining} {stopped} {error}.
// Reads lines `release <jobId>` on stdin: the job of that id returns. SIGTERM drains the worker.
import { createInterface } from 'node:readline';
import { runQueueWorker } from '../../dist/queue/index.js';

const config = JSON.parse(process.argv[2] ?? '{}');
const say = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const releases = new Map();
const released = new Set();
createInterface({ input: process.stdin }).on('line', (line) => {
  const [verb, jobId] = line.split(' ');
  if (verb !== 'release') return;
  released.add(jobId);
  releases.get(jobId)?.();
});

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
      await new Promise((resolve, reject) => {
        if (job.payload.behaviour !== 'hang') {
          if (released.has(job.id)) return resolve();
          releases.set(job.id, resolve);
        }
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }).catch((error) => {
        say({ aborted: true, jobId: job.id });
        throw error;
      });
      say({ finished: true, jobId: job.id });
    },
  });
  say({ stopped: true });
} catch (error) {
  say({ error: { name: error.name, code: error.code, message: error.message } });
  process.exitCode = 1;
}
// The stdin reader would keep the process alive.
process.stdin.destroy();
