import { hostname } from 'node:os';
import { TERMINAL_RUN_STATUSES, type WorkItemId } from '../events/index.js';
import { OrchestratorError, errorMessage } from '../lib/errors.js';
import { nowIso } from '../lib/time.js';
import type { QueueClient } from '../queue/index.js';
import type { RunRecord, Store, WorkerJobRecord, WorkerRecord } from '../store/index.js';
import { priceTable, type PriceTable } from '../usage/index.js';
import { cancelOpenQuestionsOfRun } from './question-wait.js';
import { closeOpenInvocations } from './open-invocations.js';
import { killRunProcesses } from '../runtime/index.js';
import { sweepLostWorkers } from './worker-heartbeat.js';

/** The audit event of a worker marked lost (one per worker), and of each run it left orphaned (one per run). */
export const WORKER_LOST_EVENT = 'worker.lost';
export const RUN_ORPHANED_EVENT = 'run.orphaned';
/** How long a lost worker's stray session process on this machine gets between SIGTERM and SIGKILL. */
const STRAY_GRACE_MS = 2_000;

/** A sweep, or the handling of one lost worker, failed (the database or the queue is out of reach): tried again at the next interval. */
export class LostWorkerSweepError extends OrchestratorError {
  constructor(what: string, worker: Pick<WorkerRecord, 'id' | 'host'> | null, cause: unknown) {
    super('ORCH_LOST_WORKER_SWEEP', `${what}${worker ? ` (worker ${worker.id} on ${worker.host})` : ''} failed: ${errorMessage(cause)}`, {
      hint: 'The sweep tries again at its next interval; if this repeats, check that the coordinator reaches the database and the queue schema is installed.',
      retryable: true,
      cause,
      data: worker ? { workerId: worker.id, host: worker.host } : {},
    });
  }
}

/** What the sweep did about one lost worker. */
export interface LostWorkerReport {
  /** The worker as marked lost, with the jobs it was running then. */
  worker: WorkerRecord;
  /** The queue jobs handed back for another worker (those the queue still had locked by it). */
  releasedJobIds: string[];
  /** Its runs that were still queued or running, now `orphaned` (as they were before). */
  orphanedRuns: RunRecord[];
  /** The work items of its jobs. */
  workItemIds: WorkItemId[];
  /** Handled by another sweep's leftovers (a coordinator that stopped half-way), not by the sweep that marked it. */
  adopted: boolean;
}

export interface LostWorkerSweeperOptions {
  store: Store;
  /** The coordinator's queue (only `releaseJobsOfDeadWorkers` is used). */
  queue: Pick<QueueClient, 'releaseJobsOfDeadWorkers'>;
  /** A worker whose heartbeat is older than this is lost (workers.leaseSeconds). */
  leaseSeconds: number;
  /** Between the end of one sweep and the start of the next; default a third of the lease. */
  intervalMs?: number;
  /** Stops the timer. */
  signal?: AbortSignal;
  /** Prices for the estimated cost of orphaned sessions (default: the built-in table). */
  prices?: PriceTable;
  /** After each lost worker is handled. */
  onLost?: (report: LostWorkerReport) => void;
  /** A failed sweep or handling (a LostWorkerSweepError): the next interval tries again. */
  onError?: (error: unknown) => void;
  /**
   * A lost worker that still has job rows this long (database clock) after it was marked lost was left half-handled
   * (its sweeper crashed or kept failing): any sweeper finishes it. Default: the lease.
   */
  adoptAfterMs?: number;
}

/**
 * The coordinator's side of a worker that dies. Every interval: marks workers whose heartbeat is older than the lease
 * as lost (each once, also with two sweepers racing: see Store.markLostWorkers), then for each one hands its queue
 * jobs back (graphile-worker's forceUnlockWorkers), marks its runs that were not over `orphaned` with an error naming
 * its host and id (their cost estimated from their recorded messages, as crash recovery does), appends audit events,
 * and closes its job rows last: a lost worker that still has job rows is not done, and is finished by the next sweep
 * of this sweeper, or by any sweeper once `adoptAfterMs` has passed. Every step is safe to repeat.
 */
export class LostWorkerSweeper {
  readonly #options: LostWorkerSweeperOptions;
  readonly #intervalMs: number;
  readonly #prices: PriceTable;
  /** Workers this sweeper marked lost whose handling failed: tried first at the next sweep. */
  readonly #pending = new Map<string, WorkerRecord>();
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #stopped = false;
  /** Sweeps that completed (with or without lost workers). */
  sweeps = 0;

  constructor(options: LostWorkerSweeperOptions) {
    if (!(options.leaseSeconds > 0)) throw new RangeError(`leaseSeconds must be positive, got ${options.leaseSeconds}`);
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? Math.max(1, Math.round((options.leaseSeconds * 1000) / 3));
    this.#prices = options.prices ?? priceTable();
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Starts sweeping (the first sweep at once: a coordinator that starts finds workers lost while it was down). */
  start(): this {
    const { signal } = this.#options;
    if (signal?.aborted) return this;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.#tick(0);
    return this;
  }

  /** Stops sweeping and waits for a sweep in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#chain.catch(() => undefined);
  }

  /**
   * One sweep now (after one in flight, never at the same time). Returns the lost workers it handled; a worker whose
   * handling failed is reported to onError and tried again at the next sweep. Throws (a LostWorkerSweepError) only
   * when the sweep itself could not run.
   */
  sweepOnce(): Promise<LostWorkerReport[]> {
    const next = this.#chain.catch(() => undefined).then(() => this.#sweep());
    this.#chain = next;
    return next;
  }

  async #sweep(): Promise<LostWorkerReport[]> {
    const { store, leaseSeconds } = this.#options;
    const todo = new Map<string, { worker: WorkerRecord; adopted: boolean }>();
    for (const [id, worker] of this.#pending) todo.set(id, { worker, adopted: false });
    let marked: WorkerRecord[];
    try {
      marked = await sweepLostWorkers(store, leaseSeconds);
    } catch (error) {
      throw new LostWorkerSweepError('marking workers lost', null, error);
    }
    for (const worker of marked) {
      this.#pending.set(worker.id, worker);
      todo.set(worker.id, { worker, adopted: false });
    }
    for (const worker of await this.#leftovers(todo)) todo.set(worker.id, { worker, adopted: true });

    const reports: LostWorkerReport[] = [];
    for (const { worker, adopted } of todo.values()) {
      let report: LostWorkerReport;
      try {
        report = await this.#handle(worker, adopted);
      } catch (error) {
        this.#report(new LostWorkerSweepError('handling a lost worker', worker, error));
        continue;
      }
      this.#pending.delete(worker.id);
      reports.push(report);
      try {
        this.#options.onLost?.(report);
      } catch (error) {
        this.#report(error);
      }
    }
    this.sweeps++;
    return reports;
  }

  /** Lost workers, not in `todo`, that still have job rows long after they were marked lost. */
  async #leftovers(todo: ReadonlyMap<string, unknown>): Promise<WorkerRecord[]> {
    const { store, leaseSeconds } = this.#options;
    const adoptAfterMs = this.#options.adoptAfterMs ?? leaseSeconds * 1000;
    try {
      const lost = (await store.listWorkers({ states: ['lost'] })).filter((worker) => worker.jobs.length > 0 && !todo.has(worker.id));
      if (lost.length === 0) return [];
      const now = Date.parse(await store.databaseNow());
      return lost.filter((worker) => now - Date.parse(worker.stateChangedAt) >= adoptAfterMs);
    } catch (error) {
      // The newly lost ones are still handled; leftovers wait for the next sweep.
      this.#report(new LostWorkerSweepError('looking for lost workers left half-handled', null, error));
      return [];
    }
  }

  async #handle(worker: WorkerRecord, adopted: boolean): Promise<LostWorkerReport> {
    const { store, queue, leaseSeconds } = this.#options;
    const { jobIds: releasedJobIds } = await queue.releaseJobsOfDeadWorkers([worker.id]);
    const orphanedRuns: RunRecord[] = [];
    for (const job of worker.jobs) {
      const run = await this.#orphanRun(worker, job, releasedJobIds);
      if (run) orphanedRuns.push(run);
    }
    const workItemIds = unique(worker.jobs.map((job) => job.workItemId));
    const runIds = unique(worker.jobs.map((job) => job.runId));
    const at = nowIso();
    for (const run of orphanedRuns) {
      await store.appendEvent({
        at,
        kind: RUN_ORPHANED_EVENT,
        runId: run.id,
        workItemId: run.workItemId,
        message: `run ${run.id} orphaned: worker ${worker.id} on ${worker.host} was lost`,
        data: { workerId: worker.id, host: worker.host, status: run.status },
      });
    }
    const jobList = worker.jobs.length === 0 ? 'no jobs' : `job${worker.jobs.length === 1 ? '' : 's'} ${worker.jobs.map((job) => job.jobId).join(', ')}`;
    await store.appendEvent({
      at,
      kind: WORKER_LOST_EVENT,
      message: `worker ${worker.id} on ${worker.host} lost (no heartbeat since ${worker.lastHeartbeatAt}, lease ${leaseSeconds} s): ${jobList}; ${releasedJobIds.length} handed back to the queue, ${orphanedRuns.length} run${orphanedRuns.length === 1 ? '' : 's'} orphaned`,
      data: {
        workerId: worker.id,
        host: worker.host,
        pid: worker.pid,
        lastHeartbeatAt: worker.lastHeartbeatAt,
        lostAt: worker.stateChangedAt,
        leaseSeconds,
        jobIds: worker.jobs.map((job) => job.jobId),
        releasedJobIds,
        runIds,
        orphanedRunIds: orphanedRuns.map((run) => run.id),
        workItemIds,
        adopted,
      },
    });
    // Last: a lost worker without job rows is done.
    for (const job of worker.jobs) await store.finishWorkerJob(worker.id, job.jobId);
    return { worker, releasedJobIds, orphanedRuns, workItemIds, adopted };
  }

  /** The job's run, if it was not over: its open sessions closed with an estimated cost, the run `orphaned`. */
  async #orphanRun(worker: WorkerRecord, job: WorkerJobRecord, releasedJobIds: readonly string[]): Promise<RunRecord | null> {
    const { store, leaseSeconds } = this.#options;
    if (job.runId === null) return null;
    const run = await store.getRun(job.runId);
    if (run === null || TERMINAL_RUN_STATUSES.includes(run.status)) return null;
    // A session the lost worker left running on this machine must not go on unsupervised (on another machine,
    // the CLI ends once its stdin, the dead worker's pipe, closes).
    if (worker.host === hostname()) await killRunProcesses(run.id, null, STRAY_GRACE_MS);
    await closeOpenInvocations(store, run, this.#prices);
    const queued = releasedJobIds.includes(job.jobId) ? `its job ${job.jobId} went back to the queue` : `its job ${job.jobId} was no longer held in the queue`;
    await store.finishRun(run.id, {
      status: 'orphaned',
      endedAt: nowIso(),
      errorKind: 'orphaned',
      errorMessage: `worker ${worker.id} on ${worker.host} was lost while the run was ${run.status}: no heartbeat since ${worker.lastHeartbeatAt} (lease ${leaseSeconds} s); ${queued}`,
    });
    await cancelOpenQuestionsOfRun(store, run.id);
    return run;
  }

  #report(error: unknown): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // A reporter that throws must not stop the sweeps.
    }
  }

  #tick(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.sweepOnce().then(
        () => this.#tick(this.#intervalMs),
        (error: unknown) => {
          this.#report(error);
          this.#tick(this.#intervalMs);
        },
      );
    }, delayMs);
  }
}

function unique<T>(values: readonly (T | null)[]): T[] {
  return [...new Set(values.filter((value): value is T => value !== null))];
}
