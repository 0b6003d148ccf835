import { setMaxListeners } from 'node:events';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, errorMessage, OrchestratorError, StoppedError } from '../../lib/errors.js';
import { redactText } from '../../lib/redact.js';
import { nowIso } from '../../lib/time.js';
import { InProcessSessionExecutor, JobIncompatibleError, registerWorker, sessionToolSettingsOf, WorkerHeartbeat, workerJobHandler, type WorkerJobEvent } from '../../orchestrator/index.js';
import { assertQueueInstalled, QueueUnreachableError, QueueWorkerStoppedError, runQueueWorker, type QueueLocation } from '../../queue/index.js';
import { locateClaudeCli } from '../../runtime/index.js';
import { ConnectionRetry, DEFAULT_MAX_BUFFERED, isConnectionError, MessageWriter, retryingStore, SCHEMA_VERSION } from '../../store/index.js';
import { priceTable } from '../../usage/index.js';
import { loadCommandConfig, openContextFor, type CommandContext, type GlobalOptions } from '../context.js';
import { packageVersion } from './dashboard.js';

export interface WorkerCommandOptions extends GlobalOptions {
  slots?: number;
  cacheDir?: string;
  queueSchema?: string;
}

/** The database is older or newer than this build: the worker takes no job. */
export class DatabaseSchemaNewerError extends OrchestratorError {
  constructor(database: number, build: number) {
    super('ORCH_SCHEMA_NEWER', `the database's schema is version ${database}, newer than this orchestrator's (${build}): this worker takes no jobs`, {
      hint: 'Install the orchestrator version the coordinator runs on this machine (npm install -g roadmap-orchestrator@<version>), then start the worker again.',
      data: { database, build },
    });
  }
}

/** Where a worker keeps its clones: --cache-dir, else git.cacheDir, else ~/.cache/orchestrator/clones (HOME from the environment). */
export function workerCacheDir(options: { flag?: string | undefined; configured?: string | undefined; home: string }): string {
  const chosen = options.flag ?? options.configured;
  return chosen ? resolve(chosen) : join(options.home, '.cache', 'orchestrator', 'clones');
}

function describe(event: WorkerJobEvent): string {
  switch (event.kind) {
    case 'started':
      return `job ${event.jobId} started: run ${event.runId}, ${event.workItemId} ${event.role}${event.attempts > 1 ? ` (restart ${event.attempts - 1} after a lost worker)` : ''}`;
    case 'finished':
      return `job ${event.jobId} done: run ${event.runId}, ${event.workItemId} ${event.role}: ${event.status} (branch ${event.pushed === 'pushed' ? 'pushed' : 'up to date'})`;
    case 'handed_back':
      return `job ${event.jobId} handed back: run ${event.runId}, ${event.workItemId} ${event.role}: ${event.reason}`;
    case 'refused':
      return `job ${event.jobId} refused: ${event.error.message}`;
  }
}

/**
 * `orchestrator worker`: takes role sessions from the job queue in PostgreSQL and runs them in its own clones of the
 * shared remote, until SIGINT/SIGTERM (a drain: no new jobs, running sessions finish or are handed back after the
 * grace; a second signal stops them at once). Works from any directory: a worker machine needs no checkout.
 */
export async function workerCommand(options: WorkerCommandOptions, env: Record<string, string | undefined> = process.env): Promise<number> {
  const config = await loadCommandConfig(options, { queueSchema: options.queueSchema }, env);
  const url = config.database.url;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError('a worker needs the PostgreSQL database the coordinator uses; none is configured', {
      hint: 'Pass --db postgres://user@host/db (or set ORCHESTRATOR_DATABASE_URL, or database.url in orchestrator.config.json) before `worker`: orchestrator --db <url> worker.',
    });
  }
  const slots = options.slots ?? config.workers.slots;
  const cacheDir = workerCacheDir({ flag: options.cacheDir, configured: config.git.cacheDir, home: env.HOME ?? homedir() });
  const version = packageVersion();
  const location: QueueLocation = { connectionString: url, schema: config.workers.queueSchema };
  const say = (line: string) => process.stdout.write(`worker: ${redactText(line)}\n`);

  const ctx = await openContextFor(config);
  try {
    const applied = await ctx.store.appliedSchemaVersion();
    if (applied > SCHEMA_VERSION) throw new DatabaseSchemaNewerError(applied, SCHEMA_VERSION);
    await assertQueueInstalled(location);

    const drain = new AbortController();
    const stopSessions = new AbortController();
    let workerId: string | null = null;
    let signals = 0;
    const onSignal = (name: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        say(`${name}: draining (no new jobs; running sessions finish, or go back to the queue after the grace; ${name} again stops them now)`);
        if (workerId !== null) void ctx.store.setWorkerState(workerId, 'draining').catch(() => undefined);
        drain.abort();
      } else if (!stopSessions.signal.aborted) {
        say(`${name} again: stopping running sessions now`);
        stopSessions.abort(new StoppedError(`stopped by a second ${name}; the job goes back to the queue`));
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let served: ServedQueue;
    try {
      served = await serveSessionJobs(ctx, {
        location,
        slots,
        cacheDir,
        version,
        drain,
        stopSessions,
        say,
        warn: (line) => process.stderr.write(`worker: ${redactText(line)}\n`),
        onRegistered: (id) => {
          workerId = id;
        },
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const { refused, lost } = served;
    if (refused) throw refused;
    if (lost) throw lost;
    say(`${workerId ?? 'worker'} on ${hostname()} stopped`);
    return 0;
  } finally {
    await ctx.close();
  }
}

export interface ServeSessionJobsOptions {
  location: QueueLocation;
  slots: number;
  cacheDir: string;
  version: string;
  /** Aborting it drains: no new jobs; running sessions finish, or go back to the queue after the grace. */
  drain: AbortController;
  /** Aborting it stops running sessions now (their jobs go back to the queue). */
  stopSessions: AbortController;
  say: (line: string) => void;
  warn: (line: string) => void;
  onRegistered?: (workerId: string) => void;
}

export interface ServedQueue {
  /** A job from a coordinator of another version made this worker stop taking jobs. */
  refused: JobIncompatibleError | null;
  /** The coordinator declared this worker lost (its heartbeat stopped reaching the database). */
  lost: Error | null;
}

/**
 * Takes role sessions from the queue until drained: registered as a worker with its heartbeat, running each job in
 * this machine's clones of the shared remote (workerJobHandler). `orchestrator worker` runs it, and so does `start`
 * for its local slots (workers.localSlots).
 */
export async function serveSessionJobs(ctx: CommandContext, options: ServeSessionJobsOptions): Promise<ServedQueue> {
  const { config } = ctx;
  const { drain, stopSessions, say } = options;
  // Every running session listens to these: as many as the slots, and more while jobs come and go.
  setMaxListeners(0, drain.signal, stopSessions.signal);
  // Set from the job handler (a closure): a holder, so the type checker does not narrow it to null.
  const refused: { error: JobIncompatibleError | null } = { error: null };
  const me = await registerWorker(ctx.store, { slots: options.slots, version: options.version });
  options.onRegistered?.(me.id);
  const heartbeat = new WorkerHeartbeat({
    store: ctx.store,
    workerId: me.id,
    intervalMs: config.workers.heartbeatSeconds * 1000,
    // One line when the heartbeat starts failing and one when it is back, not one per beat of an outage.
    onError: (error, consecutive) => {
      if (consecutive === 1) options.warn(`heartbeat failed (retrying every ${config.workers.heartbeatSeconds} s): ${String(error)}`);
    },
    onResumed: (failed) => options.warn(`heartbeat back after ${failed} failed beat${failed === 1 ? '' : 's'}`),
  }).start();
  heartbeat.lost.addEventListener(
    'abort',
    () => {
      const reason = heartbeat.lost.reason as Error;
      options.warn(`${reason.message}; stopping its sessions and taking no more jobs`);
      stopSessions.abort(reason);
      drain.abort(reason);
    },
    { once: true },
  );
  // The sessions' writes outlive a lost database: each is retried (ConnectionRetry) while the sessions go on, their
  // stream messages waiting in this writer's buffer; the heartbeat keeps the plain store (a failed beat is retried at
  // the next interval, and the lease decides).
  const retry = new ConnectionRetry({
    // A second signal means "now": writes waiting for the database give up instead of holding the exit.
    signal: stopSessions.signal,
    onOutage: (error) => options.warn(`the database is out of reach (${errorMessage(error)}): running sessions go on, their writes wait and are retried; no new jobs until it is back`),
    onRecovered: (outageMs) => options.warn(`the database is back (a write waited ${(outageMs / 1000).toFixed(1)} s): writing what waited`),
  });
  const sessionStore = retryingStore(ctx.store, retry);
  const messages = new MessageWriter(sessionStore, {
    onError: (error) => options.warn(`writing messages failed (will retry): ${String(error)}`),
    onOverflow: () => options.warn(`the database has been out of reach for too long: ${DEFAULT_MAX_BUFFERED} messages are kept for it, later ones are dropped and counted until it is back`),
    onDropsEnded: (droppedByRun) => {
      for (const [runId, dropped] of droppedByRun) {
        options.warn(`run ${runId}: ${dropped} stream message(s) were dropped while the database was out of reach`);
        void sessionStore
          .appendEvent({
            at: nowIso(),
            kind: MESSAGES_DROPPED_EVENT,
            runId,
            message: `${dropped} stream message(s) of this run were dropped on worker ${me.id} (${me.host}) while the database was out of reach (at most ${DEFAULT_MAX_BUFFERED} are kept)`,
            data: { dropped, workerId: me.id, host: me.host, maxBuffered: DEFAULT_MAX_BUFFERED },
          })
          .catch((error: unknown) => options.warn(`could not record the dropped messages of run ${runId}: ${String(error)}`));
      }
    },
  });
  const executor = new InProcessSessionExecutor({
    store: sessionStore,
    bus: ctx.bus,
    messages,
    cliPath: locateClaudeCli({ claudeBin: config.runtime.claudeBin, pathEnv: process.env.PATH }),
    // Model credentials come from this machine's environment, never from a job.
    env: config.sessionEnv,
    prices: priceTable(config.pricing),
    sessionTools: sessionToolSettingsOf(config),
  });
  const handler = workerJobHandler({
    store: sessionStore,
    executor,
    workerId: me.id,
    host: me.host,
    version: options.version,
    cacheDir: options.cacheDir,
    stopSessions: stopSessions.signal,
    onIncompatible: (error) => {
      refused.error ??= error;
      if (!drain.signal.aborted) {
        void ctx.store.setWorkerState(me.id, 'draining').catch(() => undefined);
        drain.abort(error);
      }
    },
    onEvent: (event) => say(describe(event)),
  });
  try {
    // The queue library survives a lost connection by itself (idle slots fail to fetch and try again at each poll,
    // its LISTEN reconnects with backoff), so no job is taken while the database is away. It stops its pool when
    // it cannot record a job's completion or failure: the pool is then started again, with backoff.
    await restartOnLostDatabase(
      (restarts) =>
        runQueueWorker({
          ...options.location,
          workerId: me.id,
          concurrency: options.slots,
          signal: drain.signal,
          handler,
          onReady: () => say(`${me.id} on ${me.host} ${restarts > 0 ? 'ready again' : 'ready'}: ${options.slots} slot${options.slots === 1 ? '' : 's'}, queue ${options.location.schema}, clones in ${options.cacheDir}`),
        }),
      { signal: drain.signal, onRestart: (error, delayMs) => options.warn(`the job queue's pool stopped (${errorMessage(error)}); starting it again in ${delayMs / 1000} s`) },
    );
  } finally {
    await heartbeat.stop();
    await messages.close();
    if (messages.pending > 0) options.warn(`${messages.pending} stream message(s) could not be written before the worker stopped`);
    await ctx.store.setWorkerState(me.id, 'stopped').catch(() => undefined);
  }
  return { refused: refused.error, lost: heartbeat.lost.aborted ? (heartbeat.lost.reason as Error) : null };
}

/** The audit event a worker records on a run whose stream messages overflowed its buffer while the database was away. */
export const MESSAGES_DROPPED_EVENT = 'run.messages_dropped';

/**
 * Runs the queue's pool (`runPool`, given how many times it was started again) until it ends by a drain, starting
 * it again after each stop for want of the database, with backoff: `baseDelayMs` (1 s) doubling to `maxDelayMs`
 * (30 s), from the base again once a pool runs longer than the longest wait. Any other failure is thrown; an
 * aborted `signal` (a drain) ends the waiting.
 */
export async function restartOnLostDatabase(
  runPool: (restarts: number) => Promise<void>,
  options: { signal: AbortSignal; onRestart?: (error: unknown, delayMs: number) => void; baseDelayMs?: number; maxDelayMs?: number },
): Promise<void> {
  const base = options.baseDelayMs ?? 1000;
  const cap = options.maxDelayMs ?? 30_000;
  let failuresInARow = 0;
  for (let restarts = 0; !options.signal.aborted; restarts++) {
    const startedAt = Date.now();
    try {
      await runPool(restarts);
      return;
    } catch (error) {
      if (options.signal.aborted || !isLostDatabase(error)) throw error;
      failuresInARow = Date.now() - startedAt > cap ? 1 : failuresInARow + 1;
      const delayMs = Math.min(cap, base * 2 ** Math.min(failuresInARow - 1, 10));
      options.onRestart?.(error, delayMs);
      await sleep(delayMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }
}

/** The queue stopped because the database went away (not because of a schema, a version or a bug). */
function isLostDatabase(error: unknown): boolean {
  return error instanceof QueueUnreachableError || (error instanceof QueueWorkerStoppedError && isConnectionError(error.cause));
}
