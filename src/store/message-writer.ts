import type { MessageRecord, RunId } from '../events/index.js';
import type { Store } from './store.js';

/**
 * Records per transaction. 128 keeps each synchronous SQLite transaction short enough that 50 busy sessions
 * hold the event loop's p99 delay under 20 ms (256 measured 21-23 ms); see docs/benchmarks.md.
 */
export const DEFAULT_MAX_BATCH = 128;

export interface MessageWriterOptions {
  /** Flush when this many records are waiting. */
  maxBatch?: number;
  /** Flush at the latest this long after the first waiting record. */
  flushIntervalMs?: number;
  /** A failed write keeps its records and is tried again (with backoff); this hears about the failure. */
  onError?: (error: unknown) => void;
  /**
   * Records kept while the database cannot be written (a lost connection): beyond this many, new records are
   * dropped and counted (`dropped`), and `onOverflow` hears of the first one of each outage.
   */
  maxBuffered?: number;
  onOverflow?: (dropped: number) => void;
  /**
   * The first successful write after records were dropped, with the records each run lost during that outage (so
   * the caller can record the loss on each run, now that the database takes writes again).
   */
  onDropsEnded?: (droppedByRun: ReadonlyMap<RunId, number>) => void;
  /** First retry of a failed write after this long, doubling up to `retryMaxMs`. */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

/** Records kept while the database is out of reach: about 50 MB of typical stream lines. */
export const DEFAULT_MAX_BUFFERED = 50_000;

/**
 * The single writer of stream messages: records are buffered and written in batches, one transaction per batch
 * (the seed system committed once per message, which is 30–100× slower). Batches never overlap, so order is kept.
 */
export class MessageWriter {
  readonly #store: Pick<Store, 'appendMessages'>;
  readonly #maxBatch: number;
  readonly #flushIntervalMs: number;
  readonly #onError: (error: unknown) => void;
  #buffer: MessageRecord[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #written = 0;
  #dropped = 0;
  /** Records dropped per run since the last successful write. */
  #droppedByRun = new Map<RunId, number>();
  #overflowing = false;
  #failures = 0;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #options: MessageWriterOptions;

  constructor(store: Pick<Store, 'appendMessages'>, options: MessageWriterOptions = {}) {
    this.#store = store;
    this.#maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.#flushIntervalMs = options.flushIntervalMs ?? 50;
    this.#onError = options.onError ?? (() => {});
    this.#options = options;
  }

  /** Records dropped because the buffer was full while the database could not be written. */
  get dropped(): number {
    return this.#dropped;
  }

  get written(): number {
    return this.#written;
  }

  get pending(): number {
    return this.#buffer.length;
  }

  write(record: MessageRecord): void {
    if (this.#closed) throw new Error('MessageWriter is closed');
    if (this.#buffer.length >= (this.#options.maxBuffered ?? DEFAULT_MAX_BUFFERED)) {
      this.#dropped += 1;
      this.#droppedByRun.set(record.runId, (this.#droppedByRun.get(record.runId) ?? 0) + 1);
      if (!this.#overflowing) {
        this.#overflowing = true;
        this.#options.onOverflow?.(this.#dropped);
      }
      return;
    }
    this.#buffer.push(record);
    if (this.#buffer.length >= this.#maxBatch) {
      void this.flush().catch(() => undefined);
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        void this.flush().catch(() => undefined);
      }, this.#flushIntervalMs);
      this.#timer.unref();
    }
  }

  /** Writes everything buffered so far; resolves when it is in the database (rejects if the write failed). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing.catch(() => undefined);
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#buffer.length === 0) return;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#flushing = (async () => {
      try {
        for (let start = 0; start < batch.length; start += this.#maxBatch) {
          const slice = batch.slice(start, start + this.#maxBatch);
          try {
            await this.#store.appendMessages(slice);
          } catch (error) {
            // Keep what was not written, in order, ahead of anything buffered meanwhile.
            this.#buffer = [...batch.slice(start), ...this.#buffer];
            throw error;
          }
          this.#written += slice.length;
          // SQLite writes are synchronous: between batches, let the event loop breathe (sessions, timers, SSE).
          if (start + this.#maxBatch < batch.length) await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        this.#flushing = null;
      }
    })();
    try {
      await this.#flushing;
      this.#failures = 0;
      this.#overflowing = false;
      if (this.#droppedByRun.size > 0) {
        const dropped = this.#droppedByRun;
        this.#droppedByRun = new Map();
        this.#options.onDropsEnded?.(dropped);
      }
    } catch (error) {
      this.#onError(error);
      this.#scheduleRetry();
      throw error;
    }
  }

  /** A failed write is tried again even if nothing new is written (a session may be waiting on a long tool). */
  #scheduleRetry(): void {
    if (this.#retry || this.#closed) return;
    this.#failures += 1;
    const base = this.#options.retryBaseMs ?? 250;
    const delay = Math.min(this.#options.retryMaxMs ?? 5_000, base * 2 ** (this.#failures - 1));
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.flush().catch(() => undefined);
    }, delay);
    this.#retry.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    await this.flush().catch(() => undefined);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
