import { makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import { toQueueError } from './errors.js';
import { assertQueueInstalled, libraryOptions, workerPoolsTable, type QueueLocation, type QueueLog } from './queue-schema.js';
import { parseSessionJobPayload, SESSION_TASK, type SessionJobPayload } from './session-job.js';

/** Attempts a job gets by default: a worker that dies mid-job uses one up too (the queue counts every start). */
export const DEFAULT_MAX_ATTEMPTS = 5;

export interface EnqueueOptions {
  /** While a job with this key exists (waiting, running, or failed for good) no second one is added; see below. */
  jobKey: string;
  /** Default DEFAULT_MAX_ATTEMPTS. */
  maxAttempts?: number;
  /** Lower runs first (default 0). */
  priority?: number;
  runAt?: Date;
}

export interface EnqueueResult {
  jobId: string;
  /** False when a job with this key already existed: nothing was added, `jobId` is that job's. */
  created: boolean;
}

export interface ReleasedJobs {
  /** The jobs the dead workers held, now free for any worker (their attempts are kept). */
  jobIds: string[];
}

/** Where a job stands. A completed job is deleted by the library: `done`. */
export interface JobState {
  id: string;
  key: string | null;
  /** `waiting`: to run, or to be retried after a failed start; `running`: a worker holds it; `failed`: its attempts are used up. */
  state: 'waiting' | 'running' | 'failed' | 'done';
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
}

/** The coordinator's side of the queue: enqueue session jobs, follow them, hand back the jobs of dead workers. */
export interface QueueClient extends AsyncDisposable {
  readonly schema: string;
  jobState(jobId: string): Promise<JobState>;
  /** The jobs not done whose key starts with `prefix` (a work item's jobs: `item:<id>:`). */
  jobsWithKeyPrefix(prefix: string): Promise<JobState[]>;
  enqueueSessionJob<P extends SessionJobPayload>(payload: P, options: EnqueueOptions): Promise<EnqueueResult>;
  /**
   * Frees the jobs held by these workers (by the library's `forceUnlockWorkers`), for any worker to take at its next
   * poll; the attempt they used stays counted. Only for workers known dead (their heartbeat lease ran out): a live
   * worker whose job is freed would see it run twice.
   */
  releaseJobsOfDeadWorkers(workerIds: readonly string[]): Promise<ReleasedJobs>;
  close(): Promise<void>;
}

/**
 * Opens the queue of `location` (installed by `installQueueSchema`). Jobs are graphile-worker jobs of task
 * SESSION_TASK; the job key uses the library's `unsafe_dedupe` mode, the only one that never makes a second job
 * for a key whose job is running (`replace` would detach the key from the running job and add a new one).
 */
export async function openQueueClient(location: QueueLocation, options: { log?: QueueLog } = {}): Promise<QueueClient> {
  await assertQueueInstalled(location);
  let utils: WorkerUtils;
  try {
    utils = await makeWorkerUtils(libraryOptions(location, options.log));
  } catch (error) {
    throw toQueueError(error);
  }
  const close = async () => {
    await utils.release();
  };
  const readJobs = async (where: string, values: unknown[]): Promise<JobState[]> => {
    try {
      return await utils.withPgClient(async (client) => {
        const { rows } = await client.query<{ id: string; key: string | null; attempts: number; max_attempts: number; last_error: string | null; locked_by: string | null }>(
          `select id::text as id, key, attempts, max_attempts, last_error, locked_by from ${location.schema}.jobs where task_identifier = '${SESSION_TASK}' and ${where} order by id`,
          values,
        );
        return rows.map((row) => ({
          id: row.id,
          key: row.key,
          state: row.locked_by !== null ? 'running' : row.attempts >= row.max_attempts ? 'failed' : 'waiting',
          attempts: row.attempts,
          maxAttempts: row.max_attempts,
          lastError: row.last_error,
        }));
      });
    } catch (error) {
      throw toQueueError(error);
    }
  };
  return {
    schema: location.schema,

    async enqueueSessionJob(payload, enqueue) {
      parseSessionJobPayload(payload);
      try {
        const job = await utils.addJob(SESSION_TASK, payload, {
          jobKey: enqueue.jobKey,
          jobKeyMode: 'unsafe_dedupe',
          maxAttempts: enqueue.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
          ...(enqueue.priority === undefined ? {} : { priority: enqueue.priority }),
          ...(enqueue.runAt === undefined ? {} : { runAt: enqueue.runAt }),
        });
        return { jobId: job.id, created: job.revision === 0 };
      } catch (error) {
        throw toQueueError(error);
      }
    },

    async jobState(jobId) {
      const [row] = await readJobs('id = $1::bigint', [jobId]);
      return row ?? { id: jobId, key: null, state: 'done', attempts: 0, maxAttempts: 0, lastError: null };
    },

    async jobsWithKeyPrefix(prefix) {
      return readJobs("key like $1 escape '\\'", [`${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
    },

    async releaseJobsOfDeadWorkers(workerIds) {
      if (workerIds.length === 0) return { jobIds: [] };
      try {
        return await utils.withPgClient(async (client) => {
          const { rows: pools } = await client.query<{ pool_id: string }>(`select pool_id from ${workerPoolsTable(location.schema)} where worker_id = any($1::text[])`, [workerIds]);
          const poolIds = pools.map((row) => row.pool_id);
          if (poolIds.length === 0) return { jobIds: [] };
          const { rows: held } = await client.query<{ id: string }>(`select id::text as id from ${location.schema}.jobs where locked_by = any($1::text[]) order by id`, [poolIds]);
          await utils.forceUnlockWorkers(poolIds);
          await client.query(`delete from ${workerPoolsTable(location.schema)} where pool_id = any($1::text[])`, [poolIds]);
          return { jobIds: held.map((row) => row.id) };
        });
      } catch (error) {
        throw toQueueError(error);
      }
    },

    close,
    [Symbol.asyncDispose]: close,
  };
}
