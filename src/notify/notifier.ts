import type { NotificationKind } from '../config/index.js';
import type { EventBus, WorkItemId } from '../events/index.js';
import { nowIso } from '../lib/time.js';
import { redactText } from '../lib/redact.js';
import type { Store } from '../store/index.js';
import { webhookBody, type NotifiedItem } from './format-notification.js';
import { FOLLOWED_AUDIT_KINDS, NOTIFYING_EVENTS, notificationOf, notificationOfAuditEvent, type Notification } from './notification.js';
import { WebhookDispatcher, type DeliveryFailure, type DeliveryPolicy, type PostWebhook, type WebhookDestination } from './webhook-dispatcher.js';

/** A webhook and the notifications it takes. */
export interface NotifyingWebhook extends WebhookDestination {
  kinds: readonly NotificationKind[];
}

export interface NotifierOptions {
  bus: EventBus;
  store: Store;
  webhooks: readonly NotifyingWebhook[];
  policy: DeliveryPolicy;
  /**
   * Also notify what other processes record in the store (a question asked in a worker's session), heard through
   * the store's change announcements. For the coordinator when workers run sessions.
   */
  followStore?: boolean;
  /** A line for the operator (stderr): a delivery given up. Already redacted. */
  warn: (line: string) => void;
  post?: PostWebhook;
  random?: () => number;
}

/** Keys of notifications already sent, kept to drop the second hearing of one (bus and store); bounded. */
const REMEMBERED_KEYS = 1_000;
/** Events read from the store per round when following it. */
const FOLLOW_BATCH = 500;

/** The audit-trail kind of a delivery given up. */
export const NOTIFY_FAILED_EVENT = 'notify.failed';

/**
 * The notifications subscriber: hears the bus (and, with `followStore`, the store) for the events that notify,
 * formats each once, and hands it to the webhook dispatcher for every webhook that takes its kind. Nothing here
 * is awaited by the pipeline: the bus listener only starts the work. A delivery given up is logged (by name and
 * host, never the URL) and recorded as a `notify.failed` event.
 */
export class Notifier {
  readonly #options: NotifierOptions;
  readonly #dispatcher: WebhookDispatcher;
  readonly #seen = new Set<string>();
  /** Work started by a bus listener and not awaited there: formatting, recording failures. close() waits for it. */
  readonly #background = new Set<Promise<void>>();
  #preparing: Promise<void> = Promise.resolve();
  readonly #detach: (() => void)[] = [];
  readonly #following = new AbortController();
  #cursor = 0;
  #reading: Promise<void> | null = null;
  #readAgain = false;

  constructor(options: NotifierOptions) {
    this.#options = options;
    this.#dispatcher = new WebhookDispatcher({
      policy: options.policy,
      onFailed: (failure) => this.#failed(failure),
      ...(options.post ? { post: options.post } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
  }

  /** Delivered and dropped counts, for the exit summary and tests. */
  get stats(): { delivered: number; dropped: number; pending: number } {
    return { delivered: this.#dispatcher.delivered, dropped: this.#dispatcher.dropped, pending: this.#dispatcher.pending };
  }

  /** Subscribes; with `followStore`, starts following the store from its newest event. */
  async start(): Promise<this> {
    const { bus, store } = this.#options;
    for (const name of NOTIFYING_EVENTS) {
      this.#detach.push(bus.on(name, (payload) => this.#heard(notificationOf(name, payload))));
    }
    if (this.#options.followStore && store.changes) {
      this.#cursor = await store.lastEventId();
      store.changes.subscribe(
        {
          onChange: (change) => {
            if (change.kind === 'event' && FOLLOWED_AUDIT_KINDS.has(change.eventKind)) this.#readStore();
          },
          onResync: () => this.#readStore(),
        },
        { signal: this.#following.signal },
      );
    }
    return this;
  }

  /**
   * Unsubscribes, then gives deliveries under way and waiting for a retry up to `graceMs` (the last `done` of an
   * `--until-idle` run is worth a moment); what is left is recorded as failed. Call before closing the store.
   */
  async close(options: { graceMs: number }): Promise<void> {
    for (const off of this.#detach.splice(0)) off();
    this.#following.abort();
    await this.#reading?.catch(() => undefined);
    await Promise.allSettled([...this.#background]);
    await this.#dispatcher.close(options);
    // Failures reported by the close itself are being recorded.
    await Promise.allSettled([...this.#background]);
  }

  /** A notification heard: formatted and queued in the background (the bus listener returns at once). */
  #heard(notification: Notification | null): void {
    if (notification === null || this.#seen.has(notification.key)) return;
    this.#seen.add(notification.key);
    if (this.#seen.size > REMEMBERED_KEYS) this.#seen.delete(this.#seen.values().next().value!);
    const targets = this.#options.webhooks.filter((hook) => hook.kinds.includes(notification.kind));
    if (targets.length === 0) return;
    // One after the other, so that receivers get notifications in the order they happened (an item's lookup
    // must not let a later budget notification overtake its done).
    this.#preparing = this.#preparing
      .then(() => this.#prepare(notification, targets))
      .catch((error: unknown) => this.#options.warn(`notifications: could not prepare a ${notification.kind} notification: ${redactText(String(error))}`));
    this.#inBackground(this.#preparing);
  }

  #inBackground(task: Promise<void>): void {
    this.#background.add(task);
    void task.finally(() => this.#background.delete(task));
  }

  async #prepare(notification: Notification, targets: readonly NotifyingWebhook[]): Promise<void> {
    const item = notification.workItemId === null ? null : await this.#item(notification.workItemId);
    const body = JSON.stringify(webhookBody(notification, item));
    for (const hook of targets) this.#dispatcher.enqueue(hook, body, notification);
  }

  async #item(id: WorkItemId): Promise<NotifiedItem | null> {
    const record = await this.#options.store.getWorkItem(id).catch(() => null);
    return record ? { id: record.id, kind: record.kind, number: record.number, title: record.title, state: record.state } : null;
  }

  #readStore(): void {
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = this.#readNewEvents()
      .catch((error: unknown) => this.#options.warn(`notifications: reading the store failed (will retry on the next change): ${redactText(String(error))}`))
      .finally(() => {
        this.#reading = null;
        if (this.#readAgain && !this.#following.signal.aborted) {
          this.#readAgain = false;
          this.#readStore();
        }
      });
  }

  async #readNewEvents(): Promise<void> {
    for (;;) {
      const events = await this.#options.store.listEvents({ afterId: this.#cursor, limit: FOLLOW_BATCH });
      for (const event of events) {
        this.#cursor = event.id;
        this.#heard(notificationOfAuditEvent(event));
      }
      if (events.length < FOLLOW_BATCH) return;
    }
  }

  #failed(failure: DeliveryFailure): void {
    const notification = failure.context as Notification | null;
    const about = notification ? `${notification.kind} notification${notification.workItemId ? ` of ${notification.workItemId}` : ''}` : 'notification';
    const message = `webhook ${failure.webhook} (${failure.target}): the ${about} was not delivered after ${failure.attempts} attempt(s): ${failure.error}`;
    this.#options.warn(`notifications: ${message}`);
    const recording = this.#options.store
      .appendEvent({
        at: nowIso(),
        kind: NOTIFY_FAILED_EVENT,
        runId: notification?.runId ?? null,
        workItemId: notification?.workItemId ?? null,
        message: redactText(message),
        data: { webhook: failure.webhook, target: failure.target, notification: notification?.kind ?? null, attempts: failure.attempts, error: failure.error },
      })
      .then(
        () => undefined,
        (error: unknown) => this.#options.warn(`notifications: could not record the failure: ${redactText(String(error))}`),
      );
    this.#inBackground(recording);
  }
}
