import type { MessageRecord } from '../events/index.js';
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
  /** A failed write keeps its records for the next flush; this hears about the failure. */
  onError?: (error: unknown) => void;
}

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
  #closed = false;

  constructor(store: Pick<Store, 'appendMessages'>, options: MessageWriterOptions = {}) {
    this.#store = store;
    this.#maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.#flushIntervalMs = options.flushIntervalMs ?? 50;
    this.#onError = options.onError ?? (() => {});
  }

  get written(): number {
    return this.#written;
  }

  get pending(): number {
    return this.#buffer.length;
  }

  write(record: MessageRecord): void {
    if (this.#closed) throw new Error('MessageWriter is closed');
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
    } catch (error) {
      this.#onError(error);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush().catch(() => undefined);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
