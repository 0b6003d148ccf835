import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { StoreError } from '../lib/errors.js';
import { redactText } from '../lib/redact.js';
import { changeChannelSql, parseStoreChange, type StoreChangeNotifier, type StoreChangeSubscriber } from './change-notifications.js';

export type ChangeListenerState = 'idle' | 'connecting' | 'listening' | 'stopped';

export interface PostgresChangeListenerOptions {
  /** A direct connection to PostgreSQL: LISTEN does not work through a transaction-mode pooler (PgBouncer). */
  connectionString: string;
  /** The schema whose changes to hear (its tables' search_path, as PostgresStore.open takes it); else the URL's. */
  schema?: string | undefined;
  /** Stops the listener and ends its connection. */
  signal: AbortSignal;
  /** The first wait before reconnecting; it doubles on each failed attempt up to maxBackoffMs. Default 100. */
  initialBackoffMs?: number;
  /** Default 5000. */
  maxBackoffMs?: number;
  /** How often an idle connection is checked with `SELECT 1`: a half-open TCP connection reports nothing. Default 15000. */
  healthCheckMs?: number;
  /** A health check unanswered this long counts as a lost connection. Default 5000. */
  healthTimeoutMs?: number;
  /** Hears every lost connection and failed attempt (the listener keeps trying). Messages are redacted. */
  onError?: (error: StoreError) => void;
  /** Waits `ms` before a reconnect (tests hold a reconnect back); resolves early, or rejects, when `signal` aborts. */
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** What LISTEN needs that a pooled or pooler connection cannot give, said once for every connection failure. */
const LISTEN_HINT =
  'The listener reconnects by itself with backoff. Check that PostgreSQL is reachable at database.url, and that the URL reaches PostgreSQL directly: LISTEN does not work through a transaction-mode pooler such as PgBouncer.';

/** A connection attempt (or one of its setup queries) that takes longer fails, and is retried after the backoff. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long ending a lost connection may take before it is left to the garbage collector. */
const END_WAIT_MS = 2000;

/** Resolves after `ms` (true) or when `signal` aborts (false); never rejects, never keeps the process alive. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal, ref: false });
    return true;
  } catch {
    return false;
  }
}

/**
 * Hears a PostgreSQL store's change notifications (migration 6's triggers) on a dedicated pg.Client of its own,
 * never a pooled connection: a LISTEN belongs to one session. Connects at the first subscription; on a lost
 * connection (an error, the server ending it, an unanswered health check) it reconnects with exponential
 * backoff, LISTENs again, and tells every subscriber to re-read what it may have missed (onResync), from the last
 * ids the subscriber keeps itself. Stops when `signal` aborts; `closed` resolves once its connection is ended.
 */
export class PostgresChangeListener implements StoreChangeNotifier {
  readonly #options: PostgresChangeListenerOptions;
  readonly #subscribers = new Set<StoreChangeSubscriber>();
  #state: ChangeListenerState = 'idle';
  #loop: Promise<void> | null = null;
  #backendPid: number | null = null;
  #connections = 0;

  constructor(options: PostgresChangeListenerOptions) {
    if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) throw new StoreError(`not a schema name: ${options.schema}`);
    this.#options = options;
    options.signal.addEventListener('abort', () => {
      if (this.#state === 'idle') this.#state = 'stopped';
    }, { once: true });
  }

  get state(): ChangeListenerState {
    return this.#state;
  }

  /** The server process of the listening connection (pg_stat_activity.pid), null while not listening. */
  get backendPid(): number | null {
    return this.#backendPid;
  }

  /** How many times a connection reached LISTEN: 1 after the first, +1 per reconnect. */
  get connections(): number {
    return this.#connections;
  }

  /** Resolves when the listener has stopped and its connection is closed (at once if it never connected). */
  get closed(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  subscribe(subscriber: StoreChangeSubscriber, options: { signal: AbortSignal }): void {
    if (options.signal.aborted || this.#options.signal.aborted) return;
    this.#subscribers.add(subscriber);
    options.signal.addEventListener('abort', () => this.#subscribers.delete(subscriber), { once: true });
    if (this.#state === 'listening') {
      // What was committed before this subscriber joined is its own snapshot's business, but not what came between.
      setImmediate(() => {
        if (this.#subscribers.has(subscriber)) this.#resync(subscriber);
      });
    }
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    const signal = this.#options.signal;
    const initial = this.#options.initialBackoffMs ?? 100;
    const max = this.#options.maxBackoffMs ?? 5000;
    const wait = this.#options.wait ?? (async (ms: number, abort: AbortSignal) => void (await pause(ms, abort)));
    let failures = 0;
    while (!signal.aborted) {
      this.#state = 'connecting';
      const listened = await this.#listenUntilLost(signal);
      if (signal.aborted) break;
      failures = listened ? 0 : failures + 1;
      // Equal jitter: half the exponential delay, plus a random share of the other half.
      const delay = Math.min(max, initial * 2 ** failures);
      try {
        await wait(delay / 2 + Math.random() * (delay / 2), signal);
      } catch {
        // aborted
      }
    }
    this.#state = 'stopped';
  }

  /** One connection's life: connect, LISTEN, deliver until it is lost. True if it reached LISTEN. */
  async #listenUntilLost(signal: AbortSignal): Promise<boolean> {
    const { connectionString, schema } = this.#options;
    const client = new pg.Client({
      connectionString,
      application_name: 'orchestrator-listener',
      keepAlive: true,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // The setup queries (channel, LISTEN) on a connection that went dead between connect and them.
      query_timeout: CONNECT_TIMEOUT_MS,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    let markLost: (reason: Error) => void = () => undefined;
    const lost = new Promise<Error>((resolve) => {
      markLost = resolve;
    });
    client.on('error', (error) => markLost(error));
    client.on('end', () => markLost(new Error('the server ended the connection')));
    const onAbort = () => void client.end().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    let listened = false;
    try {
      await client.connect();
      client.on('notification', (notification) => this.#deliver(notification.payload));
      const { rows } = await client.query<{ channel: string; pid: number }>(`SELECT ${changeChannelSql('current_schema()')} AS channel, pg_backend_pid() AS pid`);
      const row = rows[0];
      if (!row?.channel) throw new Error('no current schema: the search_path names no existing schema');
      await client.query(`LISTEN ${client.escapeIdentifier(row.channel)}`);
      listened = true;
      this.#backendPid = row.pid;
      this.#connections += 1;
      this.#state = 'listening';
      for (const subscriber of [...this.#subscribers]) this.#resync(subscriber);
      const reason = await this.#watch(client, lost, signal);
      if (reason) this.#report(reason, 'lost the connection that listens for changes');
    } catch (error) {
      if (!signal.aborted) this.#report(error, listened ? 'lost the connection that listens for changes' : 'cannot listen for changes');
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#backendPid = null;
      if (!signal.aborted) this.#state = 'connecting';
      // end() waits for the server's goodbye; a dead socket may never send one.
      const ending = new AbortController();
      await Promise.race([client.end().catch(() => undefined), pause(END_WAIT_MS, ending.signal)]);
      ending.abort();
    }
    return listened;
  }

  /** Waits until the connection is lost (its reason), or `signal` aborts (null); checks its health meanwhile. */
  async #watch(client: pg.Client, lost: Promise<Error>, signal: AbortSignal): Promise<Error | null> {
    const healthCheckMs = this.#options.healthCheckMs ?? 15_000;
    const healthTimeoutMs = this.#options.healthTimeoutMs ?? 5000;
    let onStop = (): void => undefined;
    const stopped = new Promise<null>((resolve) => {
      onStop = () => resolve(null);
      if (signal.aborted) resolve(null);
    });
    signal.addEventListener('abort', onStop, { once: true });
    try {
      for (;;) {
        // One controller per round, so that no timer outlives its round (and no listener piles up on `signal`).
        const round = new AbortController();
        try {
          const idle = pause(healthCheckMs, round.signal).then(() => 'check' as const);
          const first = await Promise.race([lost, stopped, idle]);
          if (first !== 'check') return first;
          const answered = client.query('SELECT 1').then(
            () => 'ok' as const,
            (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
          );
          const timeout = pause(healthTimeoutMs, round.signal).then(() => new Error(`no answer to a health check within ${healthTimeoutMs} ms`));
          const health = await Promise.race([answered, lost, stopped, timeout]);
          if (health !== 'ok') return health;
        } finally {
          round.abort();
        }
      }
    } finally {
      signal.removeEventListener('abort', onStop);
    }
  }

  #deliver(payload: string | undefined): void {
    const change = parseStoreChange(payload);
    if (!change) return;
    for (const subscriber of [...this.#subscribers]) {
      try {
        subscriber.onChange(change);
      } catch (error) {
        this.#report(error, 'a change subscriber failed');
      }
    }
  }

  #resync(subscriber: StoreChangeSubscriber): void {
    try {
      subscriber.onResync();
    } catch (error) {
      this.#report(error, 'a change subscriber failed');
    }
  }

  #report(error: unknown, what: string): void {
    const message = redactText(error instanceof Error ? error.message : String(error));
    this.#options.onError?.(new StoreError(`${what}: ${message}`, { cause: error, hint: LISTEN_HINT, retryable: true }));
  }
}
