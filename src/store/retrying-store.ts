import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from './store.js';

/**
 * Network and server states after which the same statement can succeed once the database is back: the socket went
 * (refused, reset, cut, unreachable), PostgreSQL ended the session or is starting (`57P01`–`57P03`), any SQLSTATE of
 * class `08` (connection exception), too many connections (`53300`). Not a bad password (`28P01`) or a missing
 * database (`3D000`): those do not heal by waiting.
 */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);
/** What node-postgres says, without a code, when the socket of a client or a pool ends under it. */
const CONNECTION_MESSAGES = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Client was closed/i;

/** True when `error` (or an error in its `cause` chain) says the database is out of reach, not that the statement is wrong. */
export function isConnectionError(error: unknown): boolean {
  for (let current = error, depth = 0; current !== null && current !== undefined && depth < 5; depth++) {
    if (typeof current !== 'object') return false;
    const code = 'code' in current ? String(current.code) : '';
    if (CONNECTION_CODES.has(code) || code.startsWith('08')) return true;
    if (current instanceof Error && CONNECTION_MESSAGES.test(current.message)) return true;
    current = 'cause' in current ? current.cause : undefined;
  }
  return false;
}

/** PostgreSQL's unique_violation, SQLite's SQLITE_CONSTRAINT_PRIMARYKEY/UNIQUE. */
function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = String(error.code);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * How long a write is retried while the database is out of reach: 10 minutes. A worker's sessions go on meanwhile
 * (their stream messages wait in the MessageWriter's buffer); past it, the write fails as it would have at once.
 */
export const DEFAULT_STORE_RETRY_MS = 10 * 60_000;

export interface StoreRetryOptions {
  /** Total time one call may spend retrying, from its first failure (default DEFAULT_STORE_RETRY_MS). */
  maxRetryMs?: number;
  /** First wait after a failure (default 100 ms), doubling (with jitter) up to `maxDelayMs` (default 5 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Stops retrying (the last error is thrown): the process is going away. */
  signal?: AbortSignal;
  /** The first failed call of an outage (not one per call or retry). */
  onOutage?: (error: unknown) => void;
  /** The first call that succeeded after an outage, with how long the database was out of reach for this process. */
  onRecovered?: (outageMs: number) => void;
}

/**
 * Retries connection failures of one operation with exponential backoff and equal jitter (the change listener's
 * policy), for at most the policy's total time. Any other failure is thrown at once.
 */
export class ConnectionRetry {
  readonly #options: StoreRetryOptions;
  #outageSince: number | null = null;

  constructor(options: StoreRetryOptions = {}) {
    this.#options = options;
  }

  /** True while the last call failed for want of the database. */
  get inOutage(): boolean {
    return this.#outageSince !== null;
  }

  /**
   * Runs `operation` until it succeeds, fails with an error that is not a connection error, or the retry time is
   * spent. `afterLostAttempt` handles an error seen on a retry whose earlier attempt may have committed before its
   * answer was lost (a duplicate key): it returns the value to resolve with, or throws.
   */
  async run<T>(operation: () => Promise<T>, afterLostAttempt?: (error: unknown) => Promise<T>): Promise<T> {
    const maxRetryMs = this.#options.maxRetryMs ?? DEFAULT_STORE_RETRY_MS;
    const base = this.#options.baseDelayMs ?? 100;
    const cap = this.#options.maxDelayMs ?? 5_000;
    let firstFailure: number | null = null;
    for (let attempt = 0; ; attempt++) {
      try {
        const value = await operation();
        this.#recovered();
        return value;
      } catch (error) {
        if (attempt > 0 && afterLostAttempt && isUniqueViolation(error)) {
          const value = await afterLostAttempt(error);
          this.#recovered();
          return value;
        }
        if (!isConnectionError(error)) throw error;
        const now = Date.now();
        firstFailure ??= now;
        if (this.#outageSince === null) {
          this.#outageSince = now;
          this.#options.onOutage?.(error);
        }
        if (now - firstFailure >= maxRetryMs || this.#options.signal?.aborted) throw error;
        const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 20));
        const delay = Math.min(ceiling / 2 + Math.random() * (ceiling / 2), Math.max(0, firstFailure + maxRetryMs - now));
        try {
          await sleep(delay, undefined, this.#options.signal ? { signal: this.#options.signal } : undefined);
        } catch {
          throw error;
        }
      }
    }
  }

  #recovered(): void {
    if (this.#outageSince === null) return;
    const outageMs = Date.now() - this.#outageSince;
    this.#outageSince = null;
    this.#options.onRecovered?.(outageMs);
  }
}

/** Methods passed through untouched: closing, and what is not a database call. */
const PASS_THROUGH = new Set<PropertyKey>(['close', 'kind', 'location', 'changes']);

/**
 * The same store, with every call retried while the database is out of reach (ConnectionRetry), for code that must
 * outlive a lost connection: a worker's sessions, which keep running while their machine cannot reach PostgreSQL.
 * Every Store write is safe to repeat (updates set values, worker rows are upserted or deleted), except inserts
 * whose first attempt may have committed before the connection went: a run or an invocation that then already
 * exists is read back, and a batch of messages whose rows are already there (one transaction: all or none) counts
 * as written, instead of failing. An audit event whose
 * commit was lost in flight can be recorded twice (it has no key of its own).
 */
export function retryingStore(store: Store, retry: ConnectionRetry): Store {
  const special: Partial<Store> = {
    createRun: (input) => retry.run(
      () => store.createRun(input),
      async (error) => (await store.getRun(input.id)) ?? Promise.reject(error instanceof Error ? error : new Error(String(error))),
    ),
    // One batch is one transaction: a duplicate key on a retry means the attempt whose answer was lost committed it all.
    appendMessages: (records) => retry.run(
      () => store.appendMessages(records),
      async () => undefined,
    ),
    createInvocation: (input) => retry.run(
      () => store.createInvocation(input),
      async (error) => (await store.listInvocations(input.runId)).find((invocation) => invocation.id === input.id) ?? Promise.reject(error instanceof Error ? error : new Error(String(error))),
    ),
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || PASS_THROUGH.has(property)) return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      const own = special[property as keyof Store];
      if (typeof own === 'function') return own;
      return (...args: unknown[]) => retry.run(() => (value as (...args: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
}
