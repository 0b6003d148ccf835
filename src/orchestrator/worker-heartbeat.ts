import { hostname } from 'node:os';
import { OrchestratorError } from '../lib/errors.js';
import { newSortableId } from '../lib/ids.js';
import { SCHEMA_VERSION, type Store, type WorkerRecord, type WorkerState } from '../store/index.js';

/** The abort reason of a worker the database no longer counts as live: its jobs were (or will be) handed back. */
export class WorkerLostError extends OrchestratorError {
  constructor(workerId: string, state: WorkerState | null) {
    super('ORCH_WORKER_LOST', state === null ? `worker ${workerId} is not in the database` : `worker ${workerId} was marked ${state}: its heartbeat was late past the lease`, {
      hint: 'Its jobs go back to the queue for another worker. Stop this worker\'s sessions and start the worker again (it registers anew); if this repeats, raise workers.leaseSeconds or check the database connection.',
      data: { workerId, state },
    });
  }
}

export interface RegisterWorkerOptions {
  slots: number;
  /** The orchestrator package version this worker runs. */
  version: string;
  id?: string;
  host?: string;
  pid?: number;
}

/** Registers this process as an active worker (database clock: started and heartbeating now). */
export async function registerWorker(store: Store, options: RegisterWorkerOptions): Promise<WorkerRecord> {
  return store.registerWorker({
    id: options.id ?? newSortableId(),
    host: options.host ?? hostname(),
    pid: options.pid ?? process.pid,
    slots: options.slots,
    version: options.version,
    schemaVersion: SCHEMA_VERSION,
  });
}

export interface WorkerHeartbeatOptions {
  store: Store;
  workerId: string;
  /** Between the end of one heartbeat and the start of the next (workers.heartbeatSeconds). */
  intervalMs: number;
  /** Stops the heartbeat (the worker is shutting down). */
  signal?: AbortSignal;
  /**
   * A heartbeat that failed (the database is unreachable): the next one is tried at the next interval.
   * `consecutive` counts the failures in a row, this one included (1: the first of an outage).
   */
  onError?: (error: unknown, consecutive: number) => void;
  /** The first heartbeat accepted after `failed` failures in a row. */
  onResumed?: (failed: number) => void;
}

/**
 * Moves the worker's last heartbeat to the database's now every interval, until `signal` aborts or the database
 * says the worker is no longer live. `lost` aborts (with WorkerLostError) when a heartbeat is refused: the worker was
 * marked lost (its jobs handed back) or stopped, so its sessions must stop. A failed write is reported and retried
 * at the next interval: the lease, not one failure, decides when a worker is lost.
 */
export class WorkerHeartbeat {
  readonly #options: WorkerHeartbeatOptions;
  readonly #lost = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  #stopped = false;
  #failuresInARow = 0;
  /** Heartbeats the database accepted. */
  beats = 0;

  constructor(options: WorkerHeartbeatOptions) {
    this.#options = options;
  }

  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** Starts beating (the first beat after one interval: registration was the first). */
  start(): this {
    const { signal } = this.#options;
    if (signal?.aborted) return this;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.#schedule();
    return this;
  }

  /** One heartbeat now; the worker's state afterwards (null: no such worker). */
  async beat(): Promise<WorkerState | null> {
    const state = await this.#options.store.heartbeatWorker(this.#options.workerId);
    if (this.#failuresInARow > 0) {
      const failed = this.#failuresInARow;
      this.#failuresInARow = 0;
      this.#options.onResumed?.(failed);
    }
    if (state === 'active' || state === 'draining') this.beats++;
    else if (!this.#lost.signal.aborted) {
      this.#lost.abort(new WorkerLostError(this.#options.workerId, state));
      this.#stopTimer();
    }
    return state;
  }

  /** Stops beating and waits for a heartbeat in flight. */
  async stop(): Promise<void> {
    this.#stopTimer();
    await this.#inFlight;
  }

  #stopTimer(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.beat().then(
        () => this.#schedule(),
        (error: unknown) => {
          this.#failuresInARow++;
          this.#options.onError?.(error, this.#failuresInARow);
          this.#schedule();
        },
      );
    }, this.#options.intervalMs);
  }
}

/**
 * The lead's sweep: marks workers silent for longer than the lease as lost and returns them with their jobs (each
 * lost worker once, even with two sweeps at once), so the jobs go back through the queue and their runs are marked
 * orphaned with the worker's host.
 */
export async function sweepLostWorkers(store: Store, leaseSeconds: number): Promise<WorkerRecord[]> {
  return store.markLostWorkers(Math.round(leaseSeconds * 1000));
}
