import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, makeWorkerUtils, run, runMigrations, type Runner, type WorkerEvents, type WorkerUtils } from 'graphile-worker';
import PgBoss from 'pg-boss';
import { installQueueSchema, openQueueClient, runQueueWorker, sessionJobKey } from '../queue/index.js';
import { adminStatement, latencyFigure } from './stats.js';

/**
 * The measurement behind the job-queue choice of issue 8: graphile-worker and pg-boss side by side, on the real
 * PostgreSQL, with each library's own documented options only.
 *  - pickup: enqueue → the handler starts, one job at a time, the worker idle and waiting before each job;
 *  - a worker killed with SIGKILL while it holds a job: how long until another worker runs the job, by default and
 *    with the library's own way to hand a dead worker's job back.
 * The killed and the surviving workers are real child processes (this module run with CHILD_QUEUE_WORKER).
 */

export const CHILD_QUEUE_WORKER = '--child-queue-worker';
const TASK = 'bench_session';

export interface PickupFigure {
  name: string;
  jobs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface KillFigure {
  name: string;
  /** What was done after the SIGKILL (nothing, or the library's call). */
  action: string;
  /** SIGKILL → the second worker's handler starts; null when it did not within `capMs`. */
  handedOverMs: number | null;
  capMs: number;
  /** What the library documents for this case, for rows that reach the cap. */
  note: string;
}

export interface QueueBenchFigures {
  versions: { graphileWorker: string; pgBoss: string };
  pickup: PickupFigure[];
  kill: KillFigure[];
  loadAverage: number;
}

interface ChildConfig {
  lib: 'graphile-worker' | 'pg-boss';
  url: string;
  schema: string;
  /** pg-boss only: its documented options for this worker. */
  pollingIntervalSeconds?: number;
  maintenanceIntervalSeconds?: number;
}

type ChildLine = { ready: true; poolId?: string } | { started: string };

const silentLogger = new Logger(() => (level: string, message: string) => {
  if (level === 'error') process.stderr.write(`graphile-worker: ${message}\n`);
});


function summarize(name: string, samples: number[]): PickupFigure {
  const { count, p50Ms, p95Ms, maxMs } = latencyFigure(samples);
  return { name, jobs: count, p50Ms, p95Ms, maxMs };
}

async function dropSchema(url: string, schema: string): Promise<void> {
  await adminStatement(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/** Resolves with the next job started on `queue` (the handler's first line). */
class StartWaiter {
  #waiting: ((at: number) => void) | undefined;
  started(at: number): void {
    const resolve = this.#waiting;
    this.#waiting = undefined;
    resolve?.(at);
  }
  next(): Promise<number> {
    return new Promise((resolve) => (this.#waiting = resolve));
  }
}

async function pickupGraphile(url: string, schema: string, jobs: number): Promise<number[]> {
  const waiter = new StartWaiter();
  const runner: Runner = await run({
    connectionString: url,
    schema,
    concurrency: 1,
    noHandleSignals: true,
    logger: silentLogger,
    taskList: { [TASK]: async () => waiter.started(performance.now()) },
  });
  const utils: WorkerUtils = await makeWorkerUtils({ connectionString: url, schema, logger: silentLogger });
  const samples: number[] = [];
  try {
    await sleep(500);
    for (let i = 0; i < jobs; i++) {
      const started = waiter.next();
      const before = performance.now();
      await utils.addJob(TASK, { i });
      samples.push((await started) - before);
      await sleep(10 + Math.random() * 40);
    }
  } finally {
    await utils.release();
    await runner.stop();
  }
  return samples;
}

/** The same through this project's adapter (src/queue): the figure the supervisor will see. */
async function pickupAdapter(url: string, schema: string, jobs: number): Promise<number[]> {
  const location = { connectionString: url, schema };
  const waiter = new StartWaiter();
  const controller = new AbortController();
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const worker = runQueueWorker({ ...location, workerId: 'bench', concurrency: 1, signal: controller.signal, log: () => undefined, onReady: () => ready(), handler: async () => waiter.started(performance.now()) });
  const client = await openQueueClient(location, { log: () => undefined });
  const samples: number[] = [];
  try {
    await Promise.race([isReady, worker]);
    for (let i = 0; i < jobs; i++) {
      const started = waiter.next();
      const before = performance.now();
      await client.enqueueSessionJob({ kind: 'role-session', workItemId: `W${i}`, step: 'develop', role: 'code-developer', attempt: 1 }, { jobKey: sessionJobKey(`W${i}`, 'develop') });
      samples.push((await started) - before);
      await sleep(10 + Math.random() * 40);
    }
  } finally {
    controller.abort();
    await worker;
    await client.close();
  }
  return samples;
}

async function pickupPgBoss(url: string, schema: string, jobs: number, pollingIntervalSeconds: number | undefined): Promise<PickupFigure> {
  const waiter = new StartWaiter();
  const boss = new PgBoss({ connectionString: url, schema, supervise: false, schedule: false });
  boss.on('error', (error) => process.stderr.write(`pg-boss: ${error.message}\n`));
  await boss.start();
  await boss.createQueue(TASK);
  await boss.work(TASK, { batchSize: 1, ...(pollingIntervalSeconds === undefined ? {} : { pollingIntervalSeconds }) }, async () => waiter.started(performance.now()));
  const samples: number[] = [];
  try {
    await sleep(500);
    for (let i = 0; i < jobs; i++) {
      const started = waiter.next();
      const before = performance.now();
      await boss.send(TASK, { i });
      samples.push((await started) - before);
      await sleep(10 + Math.random() * 40);
    }
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
  return summarize(pollingIntervalSeconds === undefined ? 'pg-boss (polling; default interval 2 s)' : `pg-boss (polling; pollingIntervalSeconds ${pollingIntervalSeconds}, the documented minimum)`, samples);
}

/** A worker in a child process: prints `{ready}` and `{started: jobId}` lines; its handler never returns. */
class ChildWorker {
  readonly #child: ChildProcess;
  readonly #lines: ChildLine[] = [];
  readonly #waiters: (() => void)[] = [];
  readonly lineTimes: number[] = [];

  constructor(script: string, config: ChildConfig) {
    this.#child = spawn(process.execPath, [script, CHILD_QUEUE_WORKER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.#child.on('error', () => undefined);
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      this.#lines.push(JSON.parse(line) as ChildLine);
      this.lineTimes.push(performance.now());
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** The first line matching `pick`, with the time it arrived; null after `timeoutMs`. */
  async wait<T>(pick: (line: ChildLine) => T | undefined, timeoutMs: number): Promise<{ value: T; at: number } | null> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (const [index, line] of this.#lines.entries()) {
        const value = pick(line);
        if (value !== undefined) return { value, at: this.lineTimes[index]! };
      }
      const left = deadline - performance.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }

  async killAndWait(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const closed = new Promise((resolve) => this.#child.once('close', resolve));
    this.kill();
    await closed;
  }
}

const ready = (line: ChildLine) => ('ready' in line ? line : undefined);
const startedJob = (line: ChildLine) => ('started' in line ? line.started : undefined);

/**
 * Worker A takes a job and hangs; worker B waits idle; A is killed with SIGKILL, then `handBack` runs (the
 * library's mechanism, or nothing); the figure is SIGKILL → B's handler starts the same job.
 */
async function killScenario(options: {
  script: string;
  config: ChildConfig;
  enqueue: () => Promise<string>;
  handBack: (a: { poolId?: string; jobId: string }) => Promise<void>;
  capMs: number;
}): Promise<number | null> {
  const a = new ChildWorker(options.script, options.config);
  let b: ChildWorker | undefined;
  try {
    const aReady = await a.wait(ready, 30_000);
    if (!aReady) throw new Error('worker A did not start');
    const jobId = await options.enqueue();
    const taken = await a.wait(startedJob, 30_000);
    if (!taken || taken.value !== jobId) throw new Error(`worker A did not take job ${jobId}`);
    b = new ChildWorker(options.script, options.config);
    if (!(await b.wait(ready, 30_000))) throw new Error('worker B did not start');
    await sleep(300);
    await a.killAndWait();
    const killedAt = performance.now();
    await options.handBack({ ...(aReady.value.poolId === undefined ? {} : { poolId: aReady.value.poolId }), jobId });
    const handed = await b.wait((line) => ('started' in line && line.started === jobId ? true : undefined), options.capMs);
    return handed ? handed.at - killedAt : null;
  } finally {
    a.kill();
    b?.kill();
  }
}

async function killGraphile(script: string, url: string, forceUnlock: boolean, capMs: number): Promise<number | null> {
  const schema = `bench_gw_kill_${randomBytes(4).toString('hex')}`;
  await runMigrations({ connectionString: url, schema, logger: silentLogger });
  const utils = await makeWorkerUtils({ connectionString: url, schema, logger: silentLogger });
  try {
    return await killScenario({
      script,
      config: { lib: 'graphile-worker', url, schema },
      enqueue: async () => (await utils.addJob(TASK, { kill: true }, { jobKey: 'item:1:develop', jobKeyMode: 'unsafe_dedupe' })).id,
      handBack: async ({ poolId }) => {
        if (forceUnlock && poolId) await utils.forceUnlockWorkers([poolId]);
      },
      capMs,
    });
  } finally {
    await utils.release();
    await dropSchema(url, schema);
  }
}

async function killPgBoss(script: string, url: string, mode: 'default' | 'expire' | 'fail', capMs: number): Promise<number | null> {
  const schema = `bench_pb_kill_${randomBytes(4).toString('hex')}`;
  const boss = new PgBoss({ connectionString: url, schema, supervise: false, schedule: false });
  boss.on('error', (error) => process.stderr.write(`pg-boss: ${error.message}\n`));
  await boss.start();
  await boss.createQueue(TASK);
  try {
    return await killScenario({
      script,
      config: { lib: 'pg-boss', url, schema, ...(mode === 'default' ? {} : { pollingIntervalSeconds: 0.5, maintenanceIntervalSeconds: 1 }) },
      enqueue: async () => {
        const id = await boss.send(TASK, { kill: true }, { singletonKey: 'item:1:develop', ...(mode === 'expire' ? { expireInSeconds: 5 } : {}) });
        if (id === null) throw new Error('pg-boss refused the job');
        return id;
      },
      handBack: async ({ jobId }) => {
        if (mode === 'fail') await boss.fail(TASK, jobId);
      },
      capMs,
    });
  } finally {
    await boss.stop({ graceful: false, wait: true });
    await dropSchema(url, schema);
  }
}

export async function benchmarkQueuePickup(options: { url: string; script: string; jobs: number; log: (text: string) => void }): Promise<QueueBenchFigures> {
  const { url, script, jobs, log } = options;
  const gwSchema = `bench_gw_${randomBytes(4).toString('hex')}`;
  const pbSchema = `bench_pb_${randomBytes(4).toString('hex')}`;
  const pickup: PickupFigure[] = [];
  const kill: KillFigure[] = [];
  // Install every graphile-worker schema before any worker runs: a fresh install announces its breaking migrations
  // on the database-wide `worker:migrate` channel, and running graphile-worker pools shut down when they hear one.
  const adapterSchema = `bench_queue_${randomBytes(4).toString('hex')}`;
  await runMigrations({ connectionString: url, schema: gwSchema, logger: silentLogger });
  await installQueueSchema({ connectionString: url, schema: adapterSchema }, { log: () => undefined });
  try {
    // The library alone and through the adapter, in alternating halves (raw, adapter, adapter, raw): the machine's
    // other load falls on both alike.
    const raw: number[] = [];
    const adapter: number[] = [];
    const half = Math.ceil(jobs / 2);
    raw.push(...(await pickupGraphile(url, gwSchema, half)));
    adapter.push(...(await pickupAdapter(url, adapterSchema, half)));
    adapter.push(...(await pickupAdapter(url, adapterSchema, jobs - half)));
    raw.push(...(await pickupGraphile(url, gwSchema, jobs - half)));
    pickup.push(summarize('graphile-worker (LISTEN/NOTIFY; defaults)', raw));
    log(`  ${JSON.stringify(pickup.at(-1))}`);
    pickup.push(summarize('graphile-worker through src/queue (`enqueueSessionJob` → `runQueueWorker` handler)', adapter));
    log(`  ${JSON.stringify(pickup.at(-1))}`);
    pickup.push(await pickupPgBoss(url, pbSchema, jobs, 0.5));
    log(`  ${JSON.stringify(pickup.at(-1))}`);
    pickup.push(await pickupPgBoss(url, pbSchema, Math.max(10, Math.round(jobs / 4)), undefined));
    log(`  ${JSON.stringify(pickup.at(-1))}`);
  } finally {
    await dropSchema(url, gwSchema);
    await dropSchema(url, adapterSchema);
    await dropSchema(url, pbSchema);
  }
  const capMs = 20_000;
  const row = async (figure: Omit<KillFigure, 'handedOverMs' | 'capMs'>, measure: () => Promise<number | null>) => {
    kill.push({ ...figure, handedOverMs: await measure(), capMs });
    log(`  ${JSON.stringify(kill.at(-1))}`);
  };
  await row({ name: 'graphile-worker, defaults', action: 'nothing', note: 'a job stays locked by the dead worker until its lock is 4 hours old (then any worker unlocks it)' }, () => killGraphile(script, url, false, capMs));
  await row({ name: 'graphile-worker, defaults', action: '`forceUnlockWorkers([deadPoolId])` at once', note: '' }, () => killGraphile(script, url, true, capMs));
  await row({ name: 'pg-boss, defaults', action: 'nothing', note: 'an active job expires after `expireInSeconds` (default 15 min), noticed by maintenance (every 120 s), then retried' }, () => killPgBoss(script, url, 'default', capMs));
  await row({ name: 'pg-boss, `expireInSeconds: 5`, maintenance every 1 s, polling 0.5 s', action: 'nothing (expiry)', note: '' }, () => killPgBoss(script, url, 'expire', capMs));
  await row({ name: 'pg-boss, polling 0.5 s', action: '`fail(queue, jobId)` at once (retried: `retryLimit` default 2)', note: '' }, () => killPgBoss(script, url, 'fail', capMs));
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const version = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
  const { loadavg } = await import('node:os');
  return { versions: { graphileWorker: version('graphile-worker'), pgBoss: version('pg-boss') }, pickup, kill, loadAverage: loadavg()[0] ?? 0 };
}

/** The child worker: runs until killed; its handler announces the job and never returns. */
export async function runQueueBenchChild(configJson: string): Promise<void> {
  const config = JSON.parse(configJson) as ChildConfig;
  const say = (line: ChildLine) => process.stdout.write(`${JSON.stringify(line)}\n`);
  const hang = () => new Promise<never>(() => undefined);
  if (config.lib === 'graphile-worker') {
    // The pool's id is the `locked_by` of the jobs it holds: what `forceUnlockWorkers` takes.
    let poolId: string | undefined;
    const events = new EventEmitter() as WorkerEvents;
    events.on('pool:create', ({ workerPool }) => (poolId = workerPool.id));
    const runner = await run({
      connectionString: config.url,
      schema: config.schema,
      concurrency: 1,
      noHandleSignals: true,
      logger: silentLogger,
      events,
      taskList: {
        [TASK]: async (_payload, helpers) => {
          say({ started: helpers.job.id });
          await hang();
        },
      },
    });
    say({ ready: true, ...(poolId === undefined ? {} : { poolId }) });
    await runner.promise;
    return;
  }
  const boss = new PgBoss({
    connectionString: config.url,
    schema: config.schema,
    schedule: false,
    ...(config.maintenanceIntervalSeconds === undefined ? {} : { maintenanceIntervalSeconds: config.maintenanceIntervalSeconds }),
  });
  boss.on('error', (error) => process.stderr.write(`pg-boss: ${error.message}\n`));
  await boss.start();
  await boss.work(TASK, { batchSize: 1, ...(config.pollingIntervalSeconds === undefined ? {} : { pollingIntervalSeconds: config.pollingIntervalSeconds }) }, async ([job]) => {
    say({ started: job!.id });
    await hang();
  });
  say({ ready: true });
  await hang();
}
