import { EventEmitter } from 'node:events';
import { run, type Runner, type WorkerEvents } from 'graphile-worker';
import { errorMessage, StoppedError } from '../lib/errors.js';
import { QueueSchemaMismatchError, QueueWorkerStoppedError, toQueueError } from './errors.js';
import { assertQueueInstalled, libraryOptions, withClient, workerPoolsTable, type QueueLocation, type QueueLog } from './queue-schema.js';
import { parseSessionJobPayload, SESSION_TASK, type SessionJob } from './session-job.js';

/** How long running jobs may go on after a drain starts before their signal aborts (then they are handed back). */
export const DEFAULT_DRAIN_GRACE_MS = 30_000;

export type SessionJobHandler = (job: SessionJob, signal: AbortSignal) => Promise<void>;

export interface QueueWorkerOptions extends QueueLocation {
  /** This worker's id, as the heartbeat table knows it; `releaseJobsOfDeadWorkers` takes it. */
  workerId: string;
  /** Jobs run at once (slots). */
  concurrency: number;
  /** Aborting it drains the worker: no new jobs; running ones finish, or are handed back after `graceMs`. */
  signal: AbortSignal;
  /**
   * Runs one job. Resolving completes the job (the library deletes it); throwing fails it, and the library retries
   * it later (exponential backoff) until its `maxAttempts`. The signal aborts, with a StoppedError, `graceMs` after a
   * drain starts: return (or throw) promptly then, and the job goes back to the queue as a failed attempt. A handler
   * that ignores it keeps the drain waiting (the caller's second signal, e.g. a process kill, ends that).
   */
  handler: SessionJobHandler;
  graceMs?: number;
  /** How often an idle worker also looks for jobs that became due (retries, unlocked jobs); new jobs arrive by LISTEN/NOTIFY at once. Library default 2000 ms. */
  pollIntervalMs?: number;
  log?: QueueLog;
  /** Called once the worker is registered and waiting for jobs, with the library's pool id (the `locked_by` of its jobs). */
  onReady?: (info: { poolId: string }) => void;
}

/**
 * Runs a graphile-worker pool for session jobs until `signal` aborts and the drain is over. Resolves after a drain;
 * rejects with a typed error when the database is unreachable, the queue is not installed or of another version, or
 * the library stopped the pool by itself. The pool's id is recorded against `workerId` before any job runs, so a
 * coordinator can hand back the jobs of this worker if it dies.
 */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<void> {
  options.signal.throwIfAborted();
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
  await assertQueueInstalled(options);

  const events = new EventEmitter() as WorkerEvents;
  let poolId: string | undefined;
  let registered: Promise<void> = Promise.resolve();
  let migrationHeard = false;
  events.on('pool:create', ({ workerPool }) => {
    poolId = workerPool.id;
    registered = withClient(options, async (client) => {
      await client.query(`insert into ${workerPoolsTable(options.schema)} (pool_id, worker_id) values ($1, $2) on conflict do nothing`, [workerPool.id, options.workerId]);
    });
    registered.catch(() => undefined);
  });
  events.on('pool:listen:notification', ({ message }) => {
    if (message.channel === 'worker:migrate' && message.payload?.includes('"breaking":true')) migrationHeard = true;
  });

  const exitCodeBefore = process.exitCode;
  let runner: Runner;
  try {
    const shared = libraryOptions(options, options.log);
    runner = await run({
      ...shared,
      // Batched completion (flushed at once, delay 0) is awaited by the library's shutdown; the unbatched default
      // is not, so a job failing or completing during a drain could stay locked by a pool that is gone.
      preset: { extends: shared.preset ? [shared.preset] : [], worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      concurrency: options.concurrency,
      noHandleSignals: true,
      events,
      gracefulShutdownAbortTimeout: options.graceMs ?? DEFAULT_DRAIN_GRACE_MS,
      ...(options.pollIntervalMs === undefined ? {} : { pollInterval: options.pollIntervalMs }),
      taskList: {
        [SESSION_TASK]: async (payload, helpers) => {
          await registered;
          const job: SessionJob = { id: helpers.job.id, key: helpers.job.key, attempts: helpers.job.attempts, maxAttempts: helpers.job.max_attempts, payload: parseSessionJobPayload(payload) };
          const controller = new AbortController();
          const onAbort = () => controller.abort(new StoppedError('the worker is draining; the job goes back to the queue'));
          if (helpers.abortSignal.aborted) onAbort();
          else helpers.abortSignal.addEventListener('abort', onAbort, { once: true });
          try {
            await options.handler(job, controller.signal);
          } finally {
            helpers.abortSignal.removeEventListener('abort', onAbort);
          }
        },
      },
    });
  } catch (error) {
    throw toQueueError(error);
  }

  try {
    await registered;
  } catch (error) {
    await runner.stop().catch(() => undefined);
    throw toQueueError(error);
  }
  const drain = () => void runner.stop().catch(() => undefined);
  if (options.signal.aborted) drain();
  else options.signal.addEventListener('abort', drain, { once: true });
  if (poolId !== undefined) options.onReady?.({ poolId });

  let failure: unknown;
  try {
    await runner.promise;
  } catch (error) {
    failure = error;
  } finally {
    options.signal.removeEventListener('abort', drain);
  }
  if (!options.signal.aborted || failure !== undefined) {
    // The library stopped by itself; it may have set process.exitCode (57 after a migration): the error says it instead.
    process.exitCode = exitCodeBefore;
    if (migrationHeard) throw new QueueSchemaMismatchError('the queue schema of this database was migrated by a newer version while this worker ran', { cause: failure });
    if (failure === undefined) throw new QueueWorkerStoppedError('the queue library stopped the worker pool');
    const mapped = toQueueError(failure);
    throw mapped !== failure ? mapped : new QueueWorkerStoppedError(errorMessage(failure), { cause: failure });
  }
  if (poolId !== undefined) {
    const id = poolId;
    // A clean drain holds no job: the pool's row is no longer needed.
    await withClient(options, (client) => client.query(`delete from ${workerPoolsTable(options.schema)} where pool_id = $1`, [id])).catch(() => undefined);
  }
}
