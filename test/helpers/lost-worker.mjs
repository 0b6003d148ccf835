// A worker in its own process for test/integration/lost-workers.test.ts: `node lost-worker.mjs '<json config>'`.
// Imports the built package (run `npm run build` first). Registers in the store and heartbeats, runs queue jobs;
// for each job it records a run (running, with the job payload's `messages` as its session so far) and its
// worker-job row, then waits for a `release <jobId>` line on stdin and finishes the run as succeeded.
// Prints one JSON line per event on stdout: {ready, poolId} {started, jobId, attempts, runId} {finished, jobId, runId}
// {lost} {aborted, jobId} {error}.
import { WorkerHeartbeat, registerWorker } from '../../dist/orchestrator/index.js';
import { newSortableId } from '../../dist/lib/ids.js';
import { runQueueWorker } from '../../dist/queue/index.js';
import { PostgresStore } from '../../dist/store/index.js';
import { closeInput, holdUntilReleased, say } from './job-protocol.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');

const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
const store = await PostgresStore.open(config.connectionString, { schema: config.storeSchema });
const worker = await registerWorker(store, { id: config.workerId, host: config.host, slots: 1, version: 'test' });
const heartbeat = new WorkerHeartbeat({ store, workerId: worker.id, intervalMs: config.heartbeatMs, signal: controller.signal, onError: () => undefined }).start();
heartbeat.lost.addEventListener('abort', () => say({ lost: true }), { once: true });

try {
  await runQueueWorker({
    connectionString: config.connectionString,
    schema: config.queueSchema,
    workerId: worker.id,
    concurrency: 1,
    pollIntervalMs: config.pollIntervalMs,
    signal: controller.signal,
    log: () => undefined,
    onReady: ({ poolId }) => say({ ready: true, poolId }),
    handler: async (job, signal) => {
      const runId = newSortableId();
      const at = new Date().toISOString();
      await store.createRun({ id: runId, agent: job.payload.role, taskKind: job.payload.role, prompt: 'p', cwd: '/work', workItemId: job.payload.workItemId, ownerPid: process.pid, host: config.host, createdAt: at });
      await store.markRunRunning(runId, { pid: process.pid, startedAt: at });
      const invocationId = `${runId}-1`;
      await store.createInvocation({ id: invocationId, runId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: at });
      const messages = Array.isArray(job.payload.messages) ? job.payload.messages : [];
      if (messages.length > 0) {
        await store.appendMessages(messages.map((payload, index) => ({ runId, invocationId, seq: index + 1, at, type: String(payload.type), subtype: typeof payload.subtype === 'string' ? payload.subtype : null, toolName: null, payload })));
      }
      await store.startWorkerJob({ workerId: worker.id, jobId: job.id, runId, workItemId: job.payload.workItemId });
      say({ started: true, jobId: job.id, attempts: job.attempts, runId });
      await holdUntilReleased(job.id, [signal, heartbeat.lost]);
      await store.finishRun(runId, { status: 'succeeded', endedAt: new Date().toISOString(), exitCode: 0 });
      await store.finishWorkerJob(worker.id, job.id);
      say({ finished: true, jobId: job.id, runId });
    },
  });
  await heartbeat.stop();
  await store.setWorkerState(worker.id, 'stopped');
} catch (error) {
  say({ error: { name: error.name, code: error.code, message: error.message } });
  process.exitCode = 1;
} finally {
  await store.close();
  closeInput();
}
