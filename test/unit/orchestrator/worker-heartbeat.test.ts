import { describe, expect, it } from 'vitest';
import { WorkerHeartbeat, WorkerIncompatibleError, WorkerLostError, registerWorker, sweepLostWorkers, workerIncompatibility } from '../../../src/orchestrator/index.js';
import { SCHEMA_VERSION, SqliteStore, type Store } from '../../../src/store/index.js';

const until = async (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const store = SqliteStore.open(':memory:');
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

describe('worker heartbeat', () => {
  it('registers this process with the schema version it was built for', async () => {
    await withStore(async (store) => {
      const worker = await registerWorker(store, { slots: 3, version: '9.9.9' });
      expect(worker).toMatchObject({ pid: process.pid, slots: 3, version: '9.9.9', schemaVersion: SCHEMA_VERSION, state: 'active' });
      expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(5);
    });
  });

  it('moves the heartbeat forward every interval until its signal aborts', async () => {
    await withStore(async (store) => {
      const worker = await registerWorker(store, { slots: 2, version: '0.1.0' });
      const stop = new AbortController();
      const heartbeat = new WorkerHeartbeat({ store, workerId: worker.id, intervalMs: 10, signal: stop.signal }).start();
      await until(async () => heartbeat.beats >= 3 && (await store.getWorker(worker.id))!.lastHeartbeatAt > worker.lastHeartbeatAt, 'three heartbeats');
      stop.abort();
      await heartbeat.stop();
      const beats = heartbeat.beats;
      const last = (await store.getWorker(worker.id))!.lastHeartbeatAt;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heartbeat.beats).toBe(beats);
      expect((await store.getWorker(worker.id))!.lastHeartbeatAt).toBe(last);
      expect(heartbeat.lost.aborted).toBe(false);
    });
  });

  it('aborts `lost` once the worker was marked lost, and stops beating', async () => {
    await withStore(async (store) => {
      const worker = await registerWorker(store, { slots: 2, version: '0.1.0' });
      await store.startWorkerJob({ workerId: worker.id, jobId: 'job-1' });
      const heartbeat = new WorkerHeartbeat({ store, workerId: worker.id, intervalMs: 60_000 }).start();
      // Nothing beats for a minute: the database clock passes the 1 ms lease on its own.
      let swept: Awaited<ReturnType<typeof sweepLostWorkers>> = [];
      await until(async () => (swept = await sweepLostWorkers(store, 0.001)).length > 0, 'the sweep');
      expect(swept.map((w) => [w.id, w.jobs.map((job) => job.jobId)])).toEqual([[worker.id, ['job-1']]]);
      expect(await heartbeat.beat()).toBe('lost');
      expect(heartbeat.lost.aborted).toBe(true);
      expect(heartbeat.lost.reason).toBeInstanceOf(WorkerLostError);
      expect((heartbeat.lost.reason as WorkerLostError).code).toBe('ORCH_WORKER_LOST');
      await heartbeat.stop();
    });
  });

  it('reports a failed heartbeat and tries again at the next interval', async () => {
    await withStore(async (store) => {
      const worker = await registerWorker(store, { slots: 2, version: '0.1.0' });
      let failures = 1;
      const flaky: Store = Object.create(store) as Store;
      flaky.heartbeatWorker = async (id) => {
        if (failures-- > 0) throw new Error('connection refused');
        return store.heartbeatWorker(id);
      };
      const errors: unknown[] = [];
      const heartbeat = new WorkerHeartbeat({ store: flaky, workerId: worker.id, intervalMs: 10, onError: (error) => errors.push(error) }).start();
      await until(() => heartbeat.beats >= 1, 'a heartbeat after the failure');
      await heartbeat.stop();
      expect(errors.map((error) => (error as Error).message)).toEqual(['connection refused']);
      expect(heartbeat.lost.aborted).toBe(false);
    });
  });
});

describe('worker compatibility', () => {
  const coordinator = { repositoryId: 'r', host: 'lead', pid: 7, startedAt: '2026-11-26T10:00:00.000Z', connectionPid: 1, version: '0.2.0', schemaVersion: 5 };
  it('lets a worker of the same version and schema take jobs, and refuses another version or schema with the fix', () => {
    expect(workerIncompatibility(coordinator, { version: '0.2.0', schemaVersion: 5 })).toBeNull();
    expect(workerIncompatibility(null, { version: '0.1.0', schemaVersion: 4 })).toBeNull();
    expect(workerIncompatibility({ ...coordinator, version: null }, { version: '0.1.0', schemaVersion: 5 })).toBeNull();
    const version = workerIncompatibility(coordinator, { version: '0.1.0', schemaVersion: 5 });
    expect(version).toBeInstanceOf(WorkerIncompatibleError);
    expect(version?.message).toBe('this worker runs 0.1.0 but the coordinator (pid 7 on lead) runs 0.2.0: it takes no jobs');
    expect(version?.hint).toContain('same orchestrator version');
    expect(workerIncompatibility(coordinator, { version: '0.2.0', schemaVersion: 6 })?.message).toContain('runs schema 6 but the coordinator (pid 7 on lead) runs schema 5');
  });
});
