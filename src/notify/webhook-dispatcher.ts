import { setMaxListeners } from 'node:events';
import { redactText } from '../lib/redact.js';

/** Where notifications go. `url` is a secret: only `name` and `target` ever reach a message. */
export interface WebhookDestination {
  name: string;
  url: string;
  /** What messages show for it (scheme and host). */
  target: string;
}

export interface DeliveryPolicy {
  /** POSTs of one body, the first included. */
  maxAttempts: number;
  /** Delay before the first retry, doubled per retry, ±20 % jitter. */
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** One POST's time limit. */
  timeoutMs: number;
  /** Deliveries waiting (to be sent, or for a retry); past it the oldest waiting one is dropped. */
  queueSize: number;
}

/** A delivery given up: every attempt failed (or the process was closing). The error is redacted. */
export interface DeliveryFailure {
  webhook: string;
  target: string;
  attempts: number;
  error: string;
  /** What the body was about (passed through from `enqueue`). */
  context: unknown;
}

/** What one POST did: `ok` for any 2xx status. Never rejects for an HTTP status; rejects for a network error or abort. */
export type PostWebhook = (url: string, body: string, signal: AbortSignal) => Promise<{ ok: boolean; status: number }>;

/** POST with the runtime's fetch; the response body is discarded (a webhook answers `ok` at most). */
export const postWithFetch: PostWebhook = async (url, body, signal) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body, signal });
  await response.body?.cancel().catch(() => undefined);
  return { ok: response.ok, status: response.status };
};

/** POSTs to different webhooks (or of different notifications) under way at once. */
const MAX_CONCURRENT_POSTS = 4;

/** Delay before retry number `retry` (1-based): base × 2^(retry-1), capped, with ±20 % jitter. */
export function retryDelayMs(retry: number, policy: Pick<DeliveryPolicy, 'retryBaseDelayMs' | 'retryMaxDelayMs'>, random: () => number = Math.random): number {
  const raw = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

interface Delivery {
  destination: WebhookDestination;
  body: string;
  context: unknown;
  attempts: number;
  lastError: string;
}

export interface WebhookDispatcherOptions {
  policy: DeliveryPolicy;
  /** A delivery given up (after its last attempt, or dropped from a full queue, or left at close). */
  onFailed: (failure: DeliveryFailure) => void;
  post?: PostWebhook;
  random?: () => number;
}

/**
 * Sends webhook POSTs in the background. `enqueue` returns at once and never throws: the caller (a bus
 * subscriber) is never held up by a slow or failing receiver. A failed POST (network error, timeout, non-2xx) is
 * retried after an exponential backoff with jitter, up to `maxAttempts`; waiting for a retry holds no sending
 * slot, so one dead receiver does not delay the others. Memory is bounded by `queueSize`.
 */
export class WebhookDispatcher {
  readonly #policy: DeliveryPolicy;
  readonly #onFailed: (failure: DeliveryFailure) => void;
  readonly #post: PostWebhook;
  readonly #random: () => number;
  /** Ready to be sent, oldest first. */
  readonly #ready: Delivery[] = [];
  /** Waiting for their retry time. */
  readonly #delayed = new Map<Delivery, NodeJS.Timeout>();
  #inFlight = 0;
  #closing = false;
  /** Aborts POSTs under way: the end of the close grace. */
  readonly #hardStop = new AbortController();
  #idleWaiters: (() => void)[] = [];
  #dropped = 0;
  #delivered = 0;

  constructor(options: WebhookDispatcherOptions) {
    this.#policy = options.policy;
    this.#onFailed = options.onFailed;
    this.#post = options.post ?? postWithFetch;
    this.#random = options.random ?? Math.random;
    setMaxListeners(0, this.#hardStop.signal);
  }

  /** Deliveries dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bodies a receiver accepted (2xx). */
  get delivered(): number {
    return this.#delivered;
  }

  /** Waiting, retrying or under way. */
  get pending(): number {
    return this.#ready.length + this.#delayed.size + this.#inFlight;
  }

  /** Queues one POST of `body` (JSON) to `destination`; ignored once closing. */
  enqueue(destination: WebhookDestination, body: string, context: unknown = null): void {
    if (this.#closing) return;
    if (this.#ready.length + this.#delayed.size >= this.#policy.queueSize) {
      const oldest = this.#ready.shift() ?? this.#oldestDelayed();
      if (oldest) {
        this.#dropped += 1;
        this.#fail(oldest, 'dropped: too many notifications waiting (notifications.queueSize)');
      }
    }
    this.#ready.push({ destination, body, context, attempts: 0, lastError: '' });
    this.#pump();
  }

  /**
   * Stops taking new deliveries, gives those under way and waiting up to `graceMs` to finish (retries included),
   * then aborts what is left and reports it failed.
   */
  async close(options: { graceMs: number }): Promise<void> {
    this.#closing = true;
    if (this.pending > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    for (const [delivery, timer] of this.#delayed) {
      clearTimeout(timer);
      this.#fail(delivery, `not delivered before the orchestrator exited (last error: ${delivery.lastError})`);
    }
    this.#delayed.clear();
    for (const delivery of this.#ready.splice(0)) this.#fail(delivery, 'not delivered before the orchestrator exited');
    this.#hardStop.abort();
    // POSTs under way see the abort and settle at once.
    if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  #oldestDelayed(): Delivery | undefined {
    const first = this.#delayed.entries().next();
    if (first.done) return undefined;
    const [delivery, timer] = first.value;
    clearTimeout(timer);
    this.#delayed.delete(delivery);
    return delivery;
  }

  #pump(): void {
    while (this.#inFlight < MAX_CONCURRENT_POSTS && this.#ready.length > 0 && !this.#hardStop.signal.aborted) {
      const delivery = this.#ready.shift()!;
      this.#inFlight += 1;
      void this.#attempt(delivery).finally(() => {
        this.#inFlight -= 1;
        this.#pump();
        this.#notifyIdle();
      });
    }
    this.#notifyIdle();
  }

  #notifyIdle(): void {
    if (this.pending > 0 && !(this.#hardStop.signal.aborted && this.#inFlight === 0)) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  async #attempt(delivery: Delivery): Promise<void> {
    delivery.attempts += 1;
    const error = await this.#postOnce(delivery);
    if (error === null) {
      this.#delivered += 1;
      return;
    }
    delivery.lastError = error;
    if (delivery.attempts >= this.#policy.maxAttempts || this.#hardStop.signal.aborted) {
      this.#fail(delivery, error);
      return;
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(delivery);
      this.#ready.push(delivery);
      this.#pump();
    }, retryDelayMs(delivery.attempts, this.#policy, this.#random));
    // A retry waiting does not keep the process alive: close() decides how long to wait for it.
    timer.unref();
    this.#delayed.set(delivery, timer);
  }

  /** One POST: null when the receiver took it, else why not (redacted). Never throws. */
  async #postOnce(delivery: Delivery): Promise<string | null> {
    const timeout = AbortSignal.timeout(this.#policy.timeoutMs);
    try {
      const response = await this.#post(delivery.destination.url, delivery.body, AbortSignal.any([timeout, this.#hardStop.signal]));
      return response.ok ? null : `HTTP ${response.status}`;
    } catch (error) {
      if (timeout.aborted) return `no answer within ${this.#policy.timeoutMs} ms (notifications.timeoutMs)`;
      if (this.#hardStop.signal.aborted) return 'aborted: the orchestrator exited';
      return describeNetworkError(error);
    }
  }

  #fail(delivery: Delivery, error: string): void {
    try {
      this.#onFailed({ webhook: delivery.destination.name, target: delivery.destination.target, attempts: delivery.attempts, error: redactText(error), context: delivery.context });
    } catch {
      // A failing failure report must not break delivery of the others.
    }
  }
}

/** fetch's "fetch failed" says nothing; its cause says what (ECONNREFUSED, a reset socket, a DNS failure). */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return redactText(String(error));
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : null;
  return redactText(detail ? `${error.message} (${detail})` : error.message);
}
