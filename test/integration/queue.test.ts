import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventWorkerProcess } from '../helpers/event-worker-process.js';
import { installQueueSchema, openQueueClient, QueueSchemaMissingError, QueueUnreachableError, runQueueWorker, sessionJobKey, type QueueClient, type SessionJobPayload } from '../../src/queue/index.js';
import { pgAdmin, PG_TEST_URL } from '../helpers/databases.js';

// Worker processes run the built adapter (dist/queue), as `orchestrator worker` will: `npm run build` first.
const HELPER = join(import.meta.dirname, '..', 'helpers', 'queue-worker.mjs');
const WAIT_MS = 60_000;

type WorkerEvent = { ready: true; poolId: string } | { started: true; jobId: string; attempts: number; payload: SessionJobPayload } | { finished: true; jobId: string } | { aborted: true; jobId: string } | { draining: true } | { stopped: true } | { error: { code?: string; message: string } };

/** One worker helper process and the events it printed. */
class WorkerProcess extends EventWorkerProcess<WorkerEvent> {
  constructor(workerId: string, config: Record<string, unknown>) {
    super(HELPER, workerId, config, { waitMs: WAIT_MS });
  }
}

const payload = (workItemId: string, behaviour: 'wait' | 'hang' = 'wait'): SessionJobPayload => ({ kind: 'role-session', workItemId, step: 'develop', role: 'code-developer', attempt: 1, behaviour });

describe('job queue (graphile-worker) on PostgreSQL', () => {
  let schema: string;
  let client: QueueClient;
  const workers: WorkerProcess[] = [];
  const startWorker = (workerId: string, config: Record<string, unknown> = {}) => {
    const worker = new WorkerProcess(workerId, { connectionString: PG_TEST_URL, schema, ...config });
    workers.push(worker);
    return worker;
  };
  const jobRows = async () => {
    const db = new pg.Client({ connectionString: PG_TEST_URL });
    await db.connect();
    try {
      return (await db.query<{ id: string; key: string | null; attempts: number; locked_by: string | null }>(`select id::text as id, key, attempts, locked_by from ${schema}.jobs order by id`)).rows;
    } finally {
      await db.end();
    }
  };

  /** Completion is committed just after the handler returns (the library batches it): wait for the rows to go. */
  const jobsLeftAfterCompletion = async () => {
    const deadline = Date.now() + WAIT_MS;
    let rows = await jobRows();
    while (rows.length > 0 && rows.some((row) => row.locked_by !== null) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      rows = await jobRows();
    }
    return rows;
  };

  beforeEach(async () => {
    schema = `queue_${randomBytes(5).toString('hex')}`;
    await installQueueSchema({ connectionString: PG_TEST_URL, schema });
    client = await openQueueClient({ connectionString: PG_TEST_URL, schema });
  });

  afterEach(async () => {
    for (const worker of workers.splice(0)) {
      worker.signal('SIGKILL');
      await worker.exited;
    }
    await client.close();
    await pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('runs each enqueued job once, on one of two worker processes', async () => {
    const a = startWorker('worker-a');
    const b = startWorker('worker-b');
    await Promise.all([a.ready(), b.ready()]);
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) ids.push((await client.enqueueSessionJob(payload(`W${i}`), { jobKey: sessionJobKey(`W${i}`, 'develop') })).jobId);

    for (const id of ids) {
      const runner = await Promise.any([a.started(id).then(() => a), b.started(id).then(() => b)]);
      runner.release(id);
      await runner.finished(id);
    }
    // A completed job is deleted by the queue: none is left to run again.
    expect(await jobsLeftAfterCompletion()).toEqual([]);
    const starts = [...a.startedJobIds(), ...b.startedJobIds()].sort();
    expect(starts).toEqual([...ids].sort());
  });

  it('keeps one job per job key, also while that job runs', async () => {
    const key = sessionJobKey('W1', 'develop');
    const first = await client.enqueueSessionJob(payload('W1'), { jobKey: key });
    const second = await client.enqueueSessionJob({ ...payload('W1'), attempt: 2 }, { jobKey: key });
    expect(first.created).toBe(true);
    expect(second).toEqual({ jobId: first.jobId, created: false });
    expect((await jobRows()).map((row) => row.key)).toEqual([key]);

    const worker = startWorker('worker-a');
    const started = await worker.started(first.jobId);
    expect(started.payload.attempt).toBe(1);
    const whileRunning = await client.enqueueSessionJob({ ...payload('W1'), attempt: 3 }, { jobKey: key });
    expect(whileRunning).toEqual({ jobId: first.jobId, created: false });
    expect(await jobRows()).toHaveLength(1);

    const other = await client.enqueueSessionJob(payload('W1'), { jobKey: sessionJobKey('W1', 'review') });
    expect(other.created).toBe(true);
    expect(other.jobId).not.toBe(first.jobId);
  });

  it('hands the job of a worker killed with SIGKILL to another worker through releaseJobsOfDeadWorkers', async () => {
    const a = startWorker('worker-a');
    await a.ready();
    const { jobId } = await client.enqueueSessionJob(payload('W1'), { jobKey: sessionJobKey('W1', 'develop') });
    await a.started(jobId);
    const b = startWorker('worker-b');
    await b.ready();

    a.signal('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    expect((await jobRows()).map((row) => row.id)).toEqual([jobId]);
    expect((await jobRows())[0]!.locked_by).not.toBeNull();

    expect(await client.releaseJobsOfDeadWorkers(['worker-a'])).toEqual({ jobIds: [jobId] });
    const again = await b.started(jobId);
    expect(again.attempts).toBe(2);
    expect(again.payload.workItemId).toBe('W1');
    b.release(jobId);
    await b.finished(jobId);
    expect(await jobsLeftAfterCompletion()).toEqual([]);
    // A worker that is alive, or one with no jobs, has nothing to hand back.
    expect(await client.releaseJobsOfDeadWorkers(['worker-b', 'nobody'])).toEqual({ jobIds: [] });
  });

  it('drains on abort: no new job, the running one finishes, then the worker resolves', async () => {
    const a = startWorker('worker-a', { concurrency: 2 });
    await a.ready();
    const first = await client.enqueueSessionJob(payload('W1'), { jobKey: sessionJobKey('W1', 'develop') });
    await a.started(first.jobId);

    a.signal('SIGTERM');
    await a.waitFor('draining', (event): event is Extract<WorkerEvent, { draining: true }> => 'draining' in event);
    const second = await client.enqueueSessionJob(payload('W2'), { jobKey: sessionJobKey('W2', 'develop') });
    const b = startWorker('worker-b');
    await b.started(second.jobId);

    a.release(first.jobId);
    await a.finished(first.jobId);
    await a.waitFor('stopped', (event): event is Extract<WorkerEvent, { stopped: true }> => 'stopped' in event);
    expect((await a.exited).code).toBe(0);
    expect(a.startedJobIds()).toEqual([first.jobId]);
  });

  it('hands a running job back when the drain outlasts its grace period', async () => {
    const a = startWorker('worker-a', { graceMs: 300 });
    await a.ready();
    const { jobId } = await client.enqueueSessionJob(payload('W1', 'hang'), { jobKey: sessionJobKey('W1', 'develop') });
    await a.started(jobId);
    const b = startWorker('worker-b', { pollIntervalMs: 500 });
    await b.ready();

    a.signal('SIGTERM');
    await a.waitFor('aborted', (event): event is Extract<WorkerEvent, { aborted: true; jobId: string }> => 'aborted' in event && event.jobId === jobId);
    expect((await a.exited).code).toBe(0);
    // The failed attempt is retried by the queue (after its backoff) on the worker still running.
    const again = await b.started(jobId);
    expect(again.attempts).toBe(2);
  });

  it('installing the queue in another schema does not stop a running worker', async () => {
    const a = startWorker('worker-a');
    await a.ready();
    const other = `queue_${randomBytes(5).toString('hex')}`;
    try {
      await installQueueSchema({ connectionString: PG_TEST_URL, schema: other });
    } finally {
      await pgAdmin(`DROP SCHEMA IF EXISTS ${other} CASCADE`);
    }
    const { jobId } = await client.enqueueSessionJob(payload('W1'), { jobKey: sessionJobKey('W1', 'develop') });
    await a.started(jobId);
    a.release(jobId);
    await a.finished(jobId);
  });

  it('refuses with typed errors: queue not installed, database unreachable', async () => {
    const controller = new AbortController();
    const missing = runQueueWorker({ connectionString: PG_TEST_URL, schema: `${schema}_none`, workerId: 'w', concurrency: 1, signal: controller.signal, handler: async () => undefined });
    await expect(missing).rejects.toBeInstanceOf(QueueSchemaMissingError);
    const unreachable = openQueueClient({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema });
    await expect(unreachable).rejects.toBeInstanceOf(QueueUnreachableError);
    await expect(unreachable).rejects.toMatchObject({ code: 'ORCH_QUEUE_UNREACHABLE', hint: expect.stringContaining('database.url') });
  });
});
