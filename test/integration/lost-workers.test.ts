import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventWorkerProcess } from '../helpers/event-worker-process.js';
import type { JsonObject } from '../../src/events/index.js';
import { LostWorkerSweeper, RUN_ORPHANED_EVENT, WORKER_LOST_EVENT, type LostWorkerReport } from '../../src/orchestrator/index.js';
import { installQueueSchema, openQueueClient, sessionJobKey, type QueueClient, type SessionJobPayload } from '../../src/queue/index.js';
import type { Store } from '../../src/store/index.js';
import { PG_TEST_URL, pgAdmin, postgresTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { streamFixture } from '../helpers/fixtures.js';

// Worker processes run the built package (dist), as `orchestrator worker` will: `npm run build` first.
const HELPER = join(import.meta.dirname, '..', 'helpers', 'lost-worker.mjs');
const WAIT_MS = 60_000;
const LEASE_SECONDS = 3;
const HEARTBEAT_MS = 1_000;

type WorkerEvent =
  | { ready: true; poolId: string }
  | { started: true; jobId: string; attempts: number; runId: string }
  | { finished: true; jobId: string; runId: string }
  | { lost: true }
  | { aborted: true; jobId: string }
  | { error: { code?: string; message: string } };

/** One worker helper process and the events it printed. */
class WorkerProcess extends EventWorkerProcess<WorkerEvent> {
  constructor(workerId: string, config: Record<string, unknown>) {
    super(HELPER, workerId, config, { waitMs: WAIT_MS });
  }
}

const schemaOf = (db: TestDatabase) => /search_path%3D([a-z0-9_]+)/.exec(db.args[1]!)![1]!;

/** The session so far of the job's run: real CLI output without its result, so the orphan's cost is estimated. */
const sessionSoFar = () =>
  streamFixture('multi-tool-success')
    .map((line) => JSON.parse(line) as JsonObject)
    .filter((line) => line.type !== 'result' && line.type !== 'control_request' && line.type !== 'control_response');

async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('lost workers on PostgreSQL: the coordinator hands a dead worker\'s job to another', () => {
  let db: TestDatabase;
  let store: Store;
  let queueSchema: string;
  let queue: QueueClient;
  const workers: WorkerProcess[] = [];
  let stop: AbortController;

  const startWorker = (workerId: string, host: string) => {
    const worker = new WorkerProcess(workerId, { connectionString: PG_TEST_URL, queueSchema, storeSchema: schemaOf(db), host, heartbeatMs: HEARTBEAT_MS, pollIntervalMs: 500 });
    workers.push(worker);
    return worker;
  };
  const jobRows = async () => {
    const client = new pg.Client({ connectionString: PG_TEST_URL });
    await client.connect();
    try {
      return (await client.query<{ id: string; attempts: number; locked_by: string | null }>(`select id::text as id, attempts, locked_by from ${queueSchema}.jobs order by id`)).rows;
    } finally {
      await client.end();
    }
  };

  beforeEach(async () => {
    stop = new AbortController();
    db = await postgresTestDatabase('orch_lost');
    // Opened before the workers start: the store's tables exist when they register.
    store = await db.open();
    queueSchema = `queue_${randomBytes(5).toString('hex')}`;
    await installQueueSchema({ connectionString: PG_TEST_URL, schema: queueSchema });
    queue = await openQueueClient({ connectionString: PG_TEST_URL, schema: queueSchema });
  });

  afterEach(async () => {
    stop.abort();
    for (const worker of workers.splice(0)) {
      worker.signal('SIGKILL');
      await worker.exited;
    }
    await queue.close();
    await store.close();
    await pgAdmin(`DROP SCHEMA IF EXISTS ${queueSchema} CASCADE`);
    await db[Symbol.asyncDispose]();
  });

  it('marks a worker killed with SIGKILL lost, orphans its run naming its host, and its job runs to completion once on the other worker, which is never touched', async () => {
    const a = startWorker('worker-a', 'machine-a');
    await a.ready();
    const payload: SessionJobPayload = { kind: 'role-session', workItemId: 'P-1', step: 'code-developer#1', role: 'code-developer', attempt: 1, messages: sessionSoFar() };
    const { jobId } = await queue.enqueueSessionJob(payload, { jobKey: sessionJobKey('P-1', 'code-developer#1') });
    const onA = await a.started(jobId);
    const b = startWorker('worker-b', 'machine-b');
    await b.ready();
    // Both heartbeat: their rows moved past registration.
    await until(async () => {
      const [rowA, rowB] = await Promise.all([store.getWorker('worker-a'), store.getWorker('worker-b')]);
      return rowA && rowB && rowA.lastHeartbeatAt > rowA.startedAt && rowB.lastHeartbeatAt > rowB.startedAt;
    }, 'both workers to heartbeat');
    expect((await store.getWorker('worker-a'))!.jobs.map((job) => [job.jobId, job.runId, job.workItemId])).toEqual([[jobId, onA.runId, 'P-1']]);

    const reports: LostWorkerReport[] = [];
    const errors: unknown[] = [];
    const sweeper = new LostWorkerSweeper({ store, queue, leaseSeconds: LEASE_SECONDS, signal: stop.signal, onLost: (report) => reports.push(report), onError: (error) => errors.push(error) }).start();
    // Sweeps while both beat: nobody is lost.
    await until(() => sweeper.sweeps >= 3, 'three sweeps');
    expect(reports).toEqual([]);

    a.signal('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    const [report] = await until(() => reports.length > 0 && reports, 'the sweeper to mark worker-a lost');
    expect(report!.worker).toMatchObject({ id: 'worker-a', host: 'machine-a', state: 'lost' });
    expect(report!.releasedJobIds).toEqual([jobId]);
    expect(report!.orphanedRuns.map((run) => run.id)).toEqual([onA.runId]);
    expect(report!.workItemIds).toEqual(['P-1']);

    const orphan = await store.getRun(onA.runId as never);
    expect(orphan).toMatchObject({ status: 'orphaned', errorKind: 'orphaned', workItemId: 'P-1' });
    expect(orphan!.errorMessage).toContain('worker worker-a on machine-a was lost while the run was running');
    expect(orphan!.errorMessage).toContain(`its job ${jobId} went back to the queue`);
    const [invocation] = await store.listInvocations(onA.runId as never);
    expect(invocation).toMatchObject({ status: 'orphaned', costEstimated: true });
    expect(invocation!.costUsd).toBeGreaterThan(0);
    expect(await store.getWorker('worker-a')).toMatchObject({ state: 'lost', jobs: [] });

    // The job, handed back, runs on worker-b: its second start, under a run of its own.
    const onB = await b.started(jobId);
    expect(onB.attempts).toBe(2);
    expect(onB.runId).not.toBe(onA.runId);
    // worker-b beats through more sweeps while it holds the job: untouched.
    const sweepsNow = sweeper.sweeps;
    await until(() => sweeper.sweeps >= sweepsNow + 3, 'three more sweeps');
    expect(await store.getWorker('worker-b')).toMatchObject({ state: 'active', jobs: [{ jobId, runId: onB.runId }] });
    b.release(jobId);
    await b.finished(jobId);
    await until(async () => (await jobRows()).length === 0 && true, 'the completed job to leave the queue');

    expect(b.startedJobIds()).toEqual([jobId]);
    expect(a.startedJobIds()).toEqual([jobId]);
    expect(reports.map((lost) => lost.worker.id)).toEqual(['worker-a']);
    expect(errors).toEqual([]);
    const runs = await store.listRuns({ workItemId: 'P-1' as never });
    expect(runs.map((run) => [run.id, run.status, run.host]).sort()).toEqual(
      [
        [onA.runId, 'orphaned', 'machine-a'],
        [onB.runId, 'succeeded', 'machine-b'],
      ].sort(),
    );
    expect(await store.getWorker('worker-b')).toMatchObject({ state: 'active', jobs: [] });

    const events = await store.listEvents();
    const workerLost = events.filter((event) => event.kind === WORKER_LOST_EVENT);
    expect(workerLost).toHaveLength(1);
    expect(workerLost[0]!.message).toContain('worker worker-a on machine-a lost');
    expect(workerLost[0]!.data).toMatchObject({ workerId: 'worker-a', host: 'machine-a', jobIds: [jobId], releasedJobIds: [jobId], runIds: [onA.runId], orphanedRunIds: [onA.runId], workItemIds: ['P-1'], leaseSeconds: LEASE_SECONDS });
    expect(events.filter((event) => event.kind === RUN_ORPHANED_EVENT).map((event) => [event.runId, event.workItemId])).toEqual([[onA.runId, 'P-1']]);

    stop.abort();
    await sweeper.stop();
  });
});
