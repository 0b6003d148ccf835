import { spawn } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  CoordinatorLockLostError,
  CoordinatorLockedError,
  WorkerHeartbeat,
  acquireCoordinatorLock,
  ensureRepositoryIdentity,
  registerWorker,
  sweepLostWorkers,
  type CoordinatorLock,
} from '../../src/orchestrator/index.js';
import { PostgresStore, SCHEMA_VERSION, type WorkerRecord } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';
import { PG_TEST_URL, postgresTestDatabase, pgUrlForSchema } from '../helpers/databases.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const DIST = join(import.meta.dirname, '..', '..', 'dist');
const schemaOf = (db: { args: string[] }) => /search_path%3D([a-z0-9_]+)/.exec(db.args[1]!)![1]!;

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Another coordinator process (the built package): takes the lock in `repoRoot`, prints `locked`, then holds it until killed. */
function startHolder(schema: string, repoRoot: string) {
  const code = `
    const { PostgresStore } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'store', 'index.js')).href)});
    const { acquireCoordinatorLock } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'orchestrator', 'index.js')).href)});
    const store = await PostgresStore.open(${JSON.stringify(PG_TEST_URL)}, { schema: ${JSON.stringify(schema)} });
    const lock = await acquireCoordinatorLock({ store, repoRoot: ${JSON.stringify(repoRoot)} });
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, exited, output: () => output };
}

/**
 * A TCP proxy to PostgreSQL that can go silent: `freeze()` drops every byte both ways but keeps the sockets open,
 * as a dead network does (no FIN, no RST), so only a check that expects an answer can notice.
 */
async function silentProxy(target: { host: string; port: number }) {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk) => void (frozen || upstream.write(chunk)));
    upstream.on('data', (chunk) => void (frozen || client.write(chunk)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    freeze: () => void (frozen = true),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('several machines: coordinator lock and workers registry on PostgreSQL', () => {
  it('gives every clone of one remote one identity in the database, and a clone without a remote an id of its own', async () => {
    await using db = await postgresTestDatabase('orch_ident');
    await using first = await tmpRepo();
    await using second = await tmpRepo();
    await using alone = await tmpRepo();
    first.git('remote', 'add', 'origin', 'https://user:pw@Git.Example.com/team/app.git');
    second.git('remote', 'add', 'origin', 'git@git.example.com:team/app');
    const store = await db.open();
    try {
      const a = await ensureRepositoryIdentity(store, first.path);
      const b = await ensureRepositoryIdentity(store, second.path);
      expect(a).toMatchObject({ key: 'remote:git.example.com/team/app', remoteUrl: 'git.example.com/team/app' });
      expect(b.id).toBe(a.id);
      const local = await ensureRepositoryIdentity(store, alone.path);
      expect(local.key).toMatch(/^local:[0-9a-z]{26}$/);
      expect(local.remoteUrl).toBeNull();
      expect((await ensureRepositoryIdentity(store, alone.path)).id).toBe(local.id);
    } finally {
      await store.close();
    }
  });

  it('refuses a second coordinator naming the first, hands the lock over when the first dies, and aborts the holder when its lock connection drops', async () => {
    await using db = await postgresTestDatabase('orch_lock');
    const schema = schemaOf(db);
    await using clone1 = await tmpRepo();
    await using clone2 = await tmpRepo();
    for (const clone of [clone1, clone2]) clone.git('remote', 'add', 'origin', '/srv/git/shared-remote.git');
    const holder = startHolder(schema, clone1.path);
    const store = await PostgresStore.open(PG_TEST_URL, { schema });
    let lock: CoordinatorLock | undefined;
    try {
      await until(async () => holder.output().includes('locked') || (holder.child.exitCode !== null && Promise.reject(new Error(holder.output()))), 'the first coordinator to take the lock');

      // Second coordinator, another clone of the same remote: refused, naming the first.
      const refused = await acquireCoordinatorLock({ store, repoRoot: clone2.path }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(CoordinatorLockedError);
      const error = refused as CoordinatorLockedError;
      expect(error.code).toBe('ORCH_ALREADY_RUNNING');
      expect(error.message).toContain(`pid ${holder.child.pid} on ${hostname()}`);
      expect(error.message).toContain('remote:file:///srv/git/shared-remote');
      expect(error.hint).toContain(`kill -INT ${holder.child.pid}`);
      expect(error.data).toMatchObject({ pid: holder.child.pid, host: hostname() });

      // kill -9 of the first: its connection ends, the server frees the lock, the second takes it.
      holder.child.kill('SIGKILL');
      await holder.exited;
      lock = await until(
        async () =>
          acquireCoordinatorLock({ store, repoRoot: clone2.path, version: '0.1.0', probeIntervalMs: 3_600_000 }).catch((failure: unknown) => {
            if (failure instanceof CoordinatorLockedError) return undefined;
            throw failure;
          }),
        'the lock to be free after kill -9',
      );
      expect(lock.kind).toBe('advisory');
      const record = await store.getCoordinator(lock.repository!.id);
      expect(record).toMatchObject({ host: hostname(), pid: process.pid, version: '0.1.0', schemaVersion: SCHEMA_VERSION });
      expect(lock.signal.aborted).toBe(false);

      // The lock's connection is killed on the server: the holder's signal aborts (from the connection's own events:
      // the hourly probe is out of play here).
      const aborted = new Promise<unknown>((resolve) => lock!.signal.addEventListener('abort', () => resolve(lock!.signal.reason), { once: true }));
      const admin = new pg.Client({ connectionString: PG_TEST_URL });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [record!.connectionPid]);
        expect(rows[0]?.ok).toBe(true);
      } finally {
        await admin.end();
      }
      const reason = await aborted;
      expect(reason).toBeInstanceOf(CoordinatorLockLostError);
      expect((reason as CoordinatorLockLostError).code).toBe('ORCH_COORDINATOR_LOCK_LOST');
      await lock.release();

      // With the lost lock gone, a new coordinator takes it at once, and releasing frees it for the next.
      const again = await acquireCoordinatorLock({ store, repoRoot: clone1.path });
      await again.release();
      expect(await store.getCoordinator(again.repository!.id)).toBeNull();
      const third = await acquireCoordinatorLock({ store, repoRoot: clone2.path });
      await third.release();
    } finally {
      holder.child.kill('SIGKILL');
      await lock?.release();
      await store.close();
    }
  });

  it('aborts the holder when its lock connection goes silent (a dead network): the probe expects an answer', async () => {
    await using db = await postgresTestDatabase('orch_silent');
    await using clone = await tmpRepo();
    const target = new URL(PG_TEST_URL);
    const proxy = await silentProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(PG_TEST_URL);
    viaProxy.port = String(proxy.port);
    const store = await PostgresStore.open(viaProxy.toString(), { schema: schemaOf(db) });
    try {
      const lock = await acquireCoordinatorLock({ store, repoRoot: clone.path, probeIntervalMs: 200, probeTimeoutMs: 1_000 });
      const aborted = new Promise<unknown>((resolve) => lock.signal.addEventListener('abort', () => resolve(lock.signal.reason), { once: true }));
      proxy.freeze();
      const reason = await aborted;
      expect(reason).toBeInstanceOf(CoordinatorLockLostError);
      expect((reason as Error).message).toContain('stopped answering');
      // Releasing a lost lock waits for nothing (the database is out of reach).
      await lock.release();
    } finally {
      await proxy.close();
      await store.close().catch(() => undefined);
    }
  });

  it('marks a worker whose heartbeat stopped lost after the lease, with its jobs, while a beating worker stays active; `orchestrator workers` shows both', async () => {
    await using db = await postgresTestDatabase('orch_workers');
    await using repo = await tmpRepo();
    const store = await db.open();
    const stopBeating = new AbortController();
    const stopAll = new AbortController();
    try {
      const alive = await registerWorker(store, { slots: 2, version: '0.1.0', host: 'machine-alive' });
      const dying = await registerWorker(store, { slots: 3, version: '0.1.0', host: 'machine-dying' });
      await store.startWorkerJob({ workerId: alive.id, jobId: 'job-alive', runId: null });
      await store.startWorkerJob({ workerId: dying.id, jobId: 'job-dying', runId: null });
      const aliveBeat = new WorkerHeartbeat({ store, workerId: alive.id, intervalMs: 100, signal: stopAll.signal }).start();
      const dyingBeat = new WorkerHeartbeat({ store, workerId: dying.id, intervalMs: 100, signal: stopBeating.signal }).start();
      await until(async () => aliveBeat.beats > 0 && dyingBeat.beats > 0, 'both workers to heartbeat');
      stopBeating.abort();
      await dyingBeat.stop();

      const leaseSeconds = 3;
      const lost: WorkerRecord[] = [];
      await until(async () => {
        lost.push(...(await sweepLostWorkers(store, leaseSeconds)));
        return lost.length > 0;
      }, 'the silent worker to be marked lost');
      expect(lost.map((worker) => [worker.id, worker.host, worker.state, worker.jobs.map((job) => job.jobId)])).toEqual([[dying.id, 'machine-dying', 'lost', ['job-dying']]]);
      expect(Date.parse(lost[0]!.stateChangedAt) - Date.parse(lost[0]!.lastHeartbeatAt)).toBeGreaterThanOrEqual(leaseSeconds * 1000);
      expect((await store.getWorker(alive.id))?.state).toBe('active');
      expect(aliveBeat.lost.aborted).toBe(false);
      // The lost worker, should it wake up, is told so.
      expect(await dyingBeat.beat()).toBe('lost');
      expect(dyingBeat.lost.aborted).toBe(true);

      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
      const url = pgUrlForSchema(schemaOf(db));
      const text = await runCli(['--db', url, 'workers'], { cwd: repo.path, env });
      expect(text.exitCode, text.stderr).toBe(0);
      const lines = text.stdout.split('\n');
      expect(lines[0]).toBe('Workers (1 live, 1/2 slots busy, 1 lost or late)');
      expect(lines[1]).toMatch(/^WORKER\s+HOST\s+PID\s+SLOTS\s+JOBS\s+HEARTBEAT\s+RUNNING\s+STATE$/);
      expect(lines.find((line) => line.includes('machine-alive'))).toMatch(/machine-alive\s+\d+\s+2\s+1\/2\s+\S+( ms| ?s) ago\s+job-alive\s+active$/);
      expect(lines.find((line) => line.includes('machine-dying'))).toMatch(/machine-dying\s+\d+\s+3\s+1\/3\s+.* ago\s+job-dying\s+LOST since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      expect(text.stdout).not.toContain('postgres://');

      const json = await runCli(['--db', url, 'workers', '--json'], { cwd: repo.path, env });
      const parsed = JSON.parse(json.stdout) as { leaseSeconds: number; workers: { host: string; state: string; flag: string | null; jobs: { jobId: string }[]; heartbeatAgeMs: number }[] };
      expect(parsed.leaseSeconds).toBe(30);
      expect(parsed.workers.map((worker) => [worker.host, worker.state, worker.flag, worker.jobs.map((job) => job.jobId)])).toEqual([
        ['machine-alive', 'active', null, ['job-alive']],
        ['machine-dying', 'lost', 'lost', ['job-dying']],
      ]);

      stopAll.abort();
      await aliveBeat.stop();
      expect(await store.setWorkerState(alive.id, 'stopped')).toBe(true);
      const after = await runCli(['--db', url, 'workers'], { cwd: repo.path, env });
      expect(after.stdout).not.toContain('machine-alive');
      expect((await runCli(['--db', url, 'workers', '--all'], { cwd: repo.path, env })).stdout).toMatch(/machine-alive.*stopped$/m);
    } finally {
      stopAll.abort();
      await store.close();
    }
  });
});
