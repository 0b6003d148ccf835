import { describe, expect, it } from 'vitest';
import type { InvocationId, JsonObject, MessageRecord, RunId } from '../../../src/events/index.js';
import { LostWorkerSweepError, LostWorkerSweeper, RUN_ORPHANED_EVENT, WORKER_LOST_EVENT, registerWorker, type LostWorkerReport } from '../../../src/orchestrator/index.js';
import type { ReleasedJobs } from '../../../src/queue/index.js';
import { SqliteStore, type Store, type WorkerRecord } from '../../../src/store/index.js';
import { streamFixture } from '../../helpers/fixtures.js';

const LEASE_SECONDS = 0.05;

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const store = SqliteStore.open(':memory:');
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

/** A queue that says which workers' jobs it was asked to hand back; `failures` calls throw first. */
function fakeQueue(held: Record<string, string[]>, failures = 0) {
  const calls: string[][] = [];
  let failuresLeft = failures;
  return {
    calls,
    async releaseJobsOfDeadWorkers(workerIds: readonly string[]): Promise<ReleasedJobs> {
      calls.push([...workerIds]);
      if (failuresLeft-- > 0) throw new Error('connection terminated unexpectedly');
      const jobIds = workerIds.flatMap((id) => held[id] ?? []);
      for (const id of workerIds) delete held[id];
      return { jobIds };
    },
  };
}

async function createRunningRun(store: Store, runId: string, workItemId: string | null, lines: JsonObject[] = []): Promise<RunId> {
  const id = runId as RunId;
  const at = new Date().toISOString();
  await store.createRun({ id, agent: 'code-developer', taskKind: 'code-developer', prompt: 'p', cwd: '/work', ownerPid: 1, host: 'machine-a', createdAt: at, workItemId: workItemId as never });
  await store.markRunRunning(id, { pid: 4242, startedAt: at });
  if (lines.length > 0) {
    const invocationId = `inv-${runId}` as InvocationId;
    await store.createInvocation({ id: invocationId, runId: id, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: at });
    const records: MessageRecord[] = lines.map((payload, index) => ({
      runId: id,
      invocationId,
      seq: index + 1,
      at,
      type: typeof payload.type === 'string' ? payload.type : '?',
      subtype: typeof payload.subtype === 'string' ? payload.subtype : null,
      toolName: null,
      payload,
    }));
    await store.appendMessages(records);
  }
  return id;
}

/** Sweeps until a worker is reported (the database clock has to pass the lease). */
async function sweepUntilLost(sweeper: LostWorkerSweeper): Promise<LostWorkerReport[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const reports = await sweeper.sweepOnce();
    if (reports.length > 0) return reports;
    if (Date.now() > deadline) throw new Error('no worker was marked lost');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sessionLines = () =>
  streamFixture('multi-tool-success')
    .map((line) => JSON.parse(line) as JsonObject)
    .filter((line) => line.type !== 'result' && line.type !== 'control_request' && line.type !== 'control_response');

describe('lost workers: the coordinator side', () => {
  it('hands a silent worker\'s jobs back, orphans its running runs naming its host with an estimated cost, closes its job rows and audits it', async () => {
    await withStore(async (store) => {
      const dying = await registerWorker(store, { slots: 2, version: '0.1.0', host: 'machine-dying', id: 'w-dying' });
      const running = await createRunningRun(store, 'run-running', 'P-1', sessionLines());
      const finished = await createRunningRun(store, 'run-finished', 'P-2');
      await store.finishRun(finished, { status: 'succeeded', endedAt: new Date().toISOString() });
      await store.startWorkerJob({ workerId: dying.id, jobId: '11', runId: running, workItemId: 'P-1' as never });
      await store.startWorkerJob({ workerId: dying.id, jobId: '12', runId: finished, workItemId: 'P-2' as never });
      const queue = fakeQueue({ [dying.id]: ['11', '12'] });
      const lost: LostWorkerReport[] = [];
      const sweeper = new LostWorkerSweeper({ store, queue, leaseSeconds: LEASE_SECONDS, onLost: (report) => lost.push(report) });

      const [report] = await sweepUntilLost(sweeper);
      expect(report!.worker).toMatchObject({ id: 'w-dying', host: 'machine-dying', state: 'lost' });
      expect(report!.releasedJobIds).toEqual(['11', '12']);
      expect(report!.orphanedRuns.map((run) => run.id)).toEqual([running]);
      expect(report!.workItemIds).toEqual(['P-1', 'P-2']);
      expect(report!.adopted).toBe(false);
      expect(lost).toEqual([report]);
      expect(queue.calls).toEqual([['w-dying']]);

      const run = await store.getRun(running);
      expect(run).toMatchObject({ status: 'orphaned', errorKind: 'orphaned' });
      expect(run!.errorMessage).toContain('worker w-dying on machine-dying was lost while the run was running');
      expect(run!.errorMessage).toContain('its job 11 went back to the queue');
      const [invocation] = await store.listInvocations(running);
      expect(invocation).toMatchObject({ status: 'orphaned', costEstimated: true });
      expect(invocation!.costUsd).toBeGreaterThan(0);
      // A run that was over is left as it was.
      expect(await store.getRun(finished)).toMatchObject({ status: 'succeeded', errorMessage: null });

      expect((await store.getWorker(dying.id))!.jobs).toEqual([]);
      const events = await store.listEvents();
      const workerLost = events.find((event) => event.kind === WORKER_LOST_EVENT);
      expect(workerLost?.message).toContain('worker w-dying on machine-dying lost');
      expect(workerLost?.data).toMatchObject({ workerId: 'w-dying', host: 'machine-dying', jobIds: ['11', '12'], releasedJobIds: ['11', '12'], runIds: [running, finished], orphanedRunIds: [running], workItemIds: ['P-1', 'P-2'] });
      expect(events.filter((event) => event.kind === RUN_ORPHANED_EVENT).map((event) => [event.runId, event.workItemId])).toEqual([[running, 'P-1']]);

      // Idempotent: the next sweeps find nothing to do.
      expect(await sweeper.sweepOnce()).toEqual([]);
      expect(queue.calls).toHaveLength(1);
      expect((await store.listEvents()).length).toBe(events.length);
    });
  });

  it('never touches a worker that keeps beating, and reports each lost worker to one of two racing sweepers', async () => {
    await withStore(async (store) => {
      const alive = await registerWorker(store, { slots: 1, version: '0.1.0', host: 'machine-alive', id: 'w-alive' });
      const silent = await registerWorker(store, { slots: 1, version: '0.1.0', host: 'machine-silent', id: 'w-silent' });
      const aliveRun = await createRunningRun(store, 'run-alive', 'P-1');
      await store.startWorkerJob({ workerId: alive.id, jobId: '1', runId: aliveRun });
      await store.startWorkerJob({ workerId: silent.id, jobId: '2', runId: await createRunningRun(store, 'run-silent', 'P-2') });
      const queue = fakeQueue({});
      // The beat comes just before each sweep: the lease only has to outlast one await.
      const first = new LostWorkerSweeper({ store, queue, leaseSeconds: 0.5 });
      const second = new LostWorkerSweeper({ store, queue, leaseSeconds: 0.5 });
      const reports: LostWorkerReport[] = [];
      const deadline = Date.now() + 20_000;
      while (reports.length === 0) {
        await store.heartbeatWorker(alive.id);
        const [a, b] = await Promise.all([first.sweepOnce(), second.sweepOnce()]);
        reports.push(...a, ...b);
        if (Date.now() > deadline) throw new Error('no worker was marked lost');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // Each worker is marked lost once, by one of the two.
      for (let i = 0; i < 5; i++) {
        await store.heartbeatWorker(alive.id);
        reports.push(...(await first.sweepOnce()), ...(await second.sweepOnce()));
      }
      expect(reports.map((report) => report.worker.id)).toEqual([silent.id]);
      expect(queue.calls).toEqual([[silent.id]]);
      expect(await store.getWorker(alive.id)).toMatchObject({ state: 'active', jobs: [{ jobId: '1', runId: aliveRun }] });
      expect(await store.getRun(aliveRun)).toMatchObject({ status: 'running' });
    });
  });

  it('reports a failed handling through onError and finishes it at the next sweep', async () => {
    await withStore(async (store) => {
      const dying = await registerWorker(store, { slots: 1, version: '0.1.0', host: 'machine-dying' });
      const runId = await createRunningRun(store, 'run-1', 'P-1');
      await store.startWorkerJob({ workerId: dying.id, jobId: '7', runId });
      const queue = fakeQueue({ [dying.id]: ['7'] }, 1);
      const errors: unknown[] = [];
      const sweeper = new LostWorkerSweeper({ store, queue, leaseSeconds: LEASE_SECONDS, onError: (error) => errors.push(error) });
      const deadline = Date.now() + 20_000;
      while (errors.length === 0) {
        expect(await sweeper.sweepOnce()).toEqual([]);
        if (Date.now() > deadline) throw new Error('no worker was marked lost');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(errors[0]).toBeInstanceOf(LostWorkerSweepError);
      expect((errors[0] as LostWorkerSweepError).message).toContain(`worker ${dying.id} on machine-dying`);
      expect((errors[0] as LostWorkerSweepError).message).toContain('connection terminated unexpectedly');
      expect(await store.getRun(runId)).toMatchObject({ status: 'running' });

      const [report] = await sweeper.sweepOnce();
      expect(report).toMatchObject({ releasedJobIds: ['7'], adopted: false });
      expect(await store.getRun(runId)).toMatchObject({ status: 'orphaned' });
      expect((await store.getWorker(dying.id))!.jobs).toEqual([]);
      expect(await sweeper.sweepOnce()).toEqual([]);
    });
  });

  it('finishes a lost worker another sweeper left half-handled, once it has been lost for adoptAfterMs', async () => {
    await withStore(async (store) => {
      const dying = await registerWorker(store, { slots: 1, version: '0.1.0', host: 'machine-dying' });
      const runId = await createRunningRun(store, 'run-1', 'P-1');
      await store.startWorkerJob({ workerId: dying.id, jobId: '7', runId });
      // A coordinator marked it lost and stopped before handling it.
      let marked: WorkerRecord[] = [];
      const deadline = Date.now() + 20_000;
      while (marked.length === 0) {
        marked = await store.markLostWorkers(LEASE_SECONDS * 1000);
        if (Date.now() > deadline) throw new Error('no worker was marked lost');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const queue = fakeQueue({ [dying.id]: ['7'] });
      const patient = new LostWorkerSweeper({ store, queue, leaseSeconds: LEASE_SECONDS, adoptAfterMs: 3_600_000 });
      expect(await patient.sweepOnce()).toEqual([]);
      const sweeper = new LostWorkerSweeper({ store, queue, leaseSeconds: LEASE_SECONDS, adoptAfterMs: 0 });
      const [report] = await sweeper.sweepOnce();
      expect(report).toMatchObject({ adopted: true, releasedJobIds: ['7'] });
      expect(report!.worker.id).toBe(dying.id);
      expect(await store.getRun(runId)).toMatchObject({ status: 'orphaned' });
      expect(await sweeper.sweepOnce()).toEqual([]);
    });
  });

  it('sweeps on its timer until its signal aborts, reporting errors without throwing', async () => {
    await withStore(async (store) => {
      const dying = await registerWorker(store, { slots: 1, version: '0.1.0', host: 'machine-dying' });
      const queue = fakeQueue({});
      const stop = new AbortController();
      const errors: unknown[] = [];
      let onLost: (report: LostWorkerReport) => void = () => undefined;
      const lost = new Promise<LostWorkerReport>((resolve) => (onLost = resolve));
      const timed = new LostWorkerSweeper({ store, queue, leaseSeconds: LEASE_SECONDS, intervalMs: 10, signal: stop.signal, onLost, onError: (error) => errors.push(error) }).start();
      expect((await lost).worker.id).toBe(dying.id);
      stop.abort();
      await timed.stop();
      const sweeps = timed.sweeps;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(timed.sweeps).toBe(sweeps);

      // A store that fails: the timer reports it and goes on.
      const failing = new Proxy(store, {
        get: (target, key) => {
          if (key === 'markLostWorkers') return async () => Promise.reject(new Error('database unreachable'));
          const value: unknown = Reflect.get(target, key);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      const stopFailing = new AbortController();
      const failures: unknown[] = [];
      const sweeper = new LostWorkerSweeper({ store: failing, queue, leaseSeconds: LEASE_SECONDS, intervalMs: 5, signal: stopFailing.signal, onError: (error) => failures.push(error) }).start();
      const deadline = Date.now() + 20_000;
      while (failures.length < 3) {
        if (Date.now() > deadline) throw new Error('the failing sweeps were not reported');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      stopFailing.abort();
      await sweeper.stop();
      expect(failures[0]).toBeInstanceOf(LostWorkerSweepError);
      expect((failures[0] as Error).message).toContain('database unreachable');
      expect(errors).toEqual([]);
      expect(sweeper.intervalMs).toBe(5);
      expect(new LostWorkerSweeper({ store, queue, leaseSeconds: 30 }).intervalMs).toBe(10_000);
    });
  });
});
