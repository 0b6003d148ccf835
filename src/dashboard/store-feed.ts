import type { EventBus, InvocationId, RunId } from '../events/index.js';
import { RUN_PROGRESS_EVENT, isTerminalRunStatus } from '../events/index.js';
import type { Store, StoreChange, StoreChangeNotifier, WorkItemRecord } from '../store/index.js';

/** A work item's wait as one comparable value ('' when it does not wait). */
const waitKey = (item: WorkItemRecord): string => (item.waitingFor === null ? '' : JSON.stringify([item.waitingFor, item.waitingDetail, item.waitingSince]));

/** How often the feed reads the store when nothing announces changes (SQLite). */
export const STORE_FEED_POLL_MS = 500;
/** With announcements (PostgreSQL), a slow round that would catch anything a notification could not say. */
export const STORE_FEED_SAFETY_NET_MS = 30_000;

export interface StoreFeedOptions {
  /** Between rounds read on a timer: default STORE_FEED_POLL_MS, or STORE_FEED_SAFETY_NET_MS when `changes` drives the feed. */
  intervalMs?: number;
  /** What drives the feed: default the store's own announcements (`store.changes`); null polls every intervalMs. */
  changes?: StoreChangeNotifier | null;
}

/**
 * For a dashboard running in its own process (`orchestrator dashboard`) while orchestrators run elsewhere: turns
 * what they write to the store into the same bus events an in-process orchestrator emits (runs starting and
 * ending, their messages, work-item transitions and waits). With a store that announces its changes
 * (PostgreSQL's LISTEN/NOTIFY) it reads when told, coalescing a burst into one round; otherwise (SQLite) it reads
 * what is new every `intervalMs`. In the orchestrator's own process the dashboard listens to its bus directly and
 * this is not used.
 */
export class StoreFeed {
  readonly #store: Store;
  readonly #bus: EventBus;
  readonly #intervalMs: number;
  readonly #changes: StoreChangeNotifier | null;
  readonly #active = new Map<RunId, { status: string; lastSeq: Map<InvocationId, number> }>();
  #lastEventId = 0;
  /** Each work item's last seen wait (waitKey); a wait is a column, not an event, so changes are found by comparing. */
  readonly #waits = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #subscription: AbortController | null = null;
  #onError: (error: unknown) => void = () => undefined;
  /** The rounds owed: a full one (anything but messages of a known session), and invocations whose messages are new. */
  #fullRoundDue = false;
  readonly #messagesDue = new Map<InvocationId, RunId>();
  #reading: Promise<void> | null = null;

  constructor(store: Store, bus: EventBus, options: StoreFeedOptions = {}) {
    this.#store = store;
    this.#bus = bus;
    this.#changes = options.changes === undefined ? (store.changes ?? null) : options.changes;
    this.#intervalMs = options.intervalMs ?? (this.#changes ? STORE_FEED_SAFETY_NET_MS : STORE_FEED_POLL_MS);
  }

  /** True when announcements drive the feed, not the timer. */
  get notified(): boolean {
    return this.#changes !== null;
  }

  /** Starts following from now: what is already in the store is the pages' snapshot, not news. */
  async start(onError: (error: unknown) => void): Promise<void> {
    this.#lastEventId = await this.#store.lastEventId();
    for (const item of await this.#store.listWorkItems()) this.#waits.set(item.id, waitKey(item));
    for (const run of await this.#store.listRuns({ statuses: ['queued', 'running'], limit: 1000 })) {
      const lastSeq = new Map<InvocationId, number>();
      for (const invocation of await this.#store.listInvocations(run.id)) {
        const messages = await this.#store.listMessages({ invocationId: invocation.id, afterSeq: 0, limit: 1_000_000 });
        lastSeq.set(invocation.id, messages.at(-1)?.seq ?? 0);
      }
      this.#active.set(run.id, { status: run.status, lastSeq });
    }
    this.#onError = onError;
    if (this.#changes) {
      this.#subscription = new AbortController();
      this.#changes.subscribe({ onChange: (change) => this.#heard(change), onResync: () => this.#heard(null) }, { signal: this.#subscription.signal });
    }
    this.#timer = setInterval(() => this.#heard(null), this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#subscription?.abort();
    this.#subscription = null;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#reading?.catch(() => undefined);
  }

  /**
   * A change announced (or null: the timer, a reconnect, anything that may have been missed). New messages of a
   * session the feed already follows are read alone; anything else owes a full round. Rounds never overlap: what
   * is heard during one is read, coalesced, right after it.
   */
  #heard(change: StoreChange | null): void {
    if (change?.kind === 'message' && this.#active.get(change.runId)?.lastSeq.has(change.invocationId)) this.#messagesDue.set(change.invocationId, change.runId);
    else this.#fullRoundDue = true;
    this.#read().catch(this.#onError);
  }

  /** The reading under way, or a new one: it reads until nothing is due. */
  #read(): Promise<void> {
    this.#reading ??= this.#readWhatIsDue();
    return this.#reading;
  }

  async #readWhatIsDue(): Promise<void> {
    // Never finishes synchronously, so #read has stored this reading before the `finally` below clears it.
    await Promise.resolve();
    try {
      while (this.#fullRoundDue || this.#messagesDue.size > 0) {
        if (this.#fullRoundDue) {
          this.#fullRoundDue = false;
          this.#messagesDue.clear();
          await this.#fullRound();
          continue;
        }
        const due = [...this.#messagesDue];
        this.#messagesDue.clear();
        for (const [invocationId, runId] of due) {
          const state = this.#active.get(runId);
          if (state) await this.#forwardInvocation(invocationId, state);
        }
      }
    } catch (error) {
      // What was due is not known to be read: the next change or tick reads everything.
      this.#fullRoundDue = true;
      throw error;
    } finally {
      // In the same step as the last look at what is due: a change heard after it starts a new reading.
      this.#reading = null;
    }
  }

  /** Reads one full round now (or right after the one under way): what `start` does on every change or tick. */
  async poll(): Promise<void> {
    this.#fullRoundDue = true;
    await this.#read();
  }

  /** One round: new runs, their new messages, ended runs, new transitions, changed waits. */
  async #fullRound(): Promise<void> {
    const active = await this.#store.listRuns({ statuses: ['queued', 'running'], limit: 1000 });
    const seen = new Set<RunId>();
    for (const run of active) {
      seen.add(run.id);
      let state = this.#active.get(run.id);
      if (!state) {
        state = { status: 'new', lastSeq: new Map() };
        this.#active.set(run.id, state);
        this.#bus.emit('run.queued', { runId: run.id, agent: run.agent, workItemId: run.workItemId, at: run.createdAt });
      }
      await this.#forwardMessages(run.id, state, run.status === 'running' && state.status !== 'running' ? run : null);
      state.status = run.status;
    }
    for (const [runId, state] of this.#active) {
      if (seen.has(runId)) continue;
      const run = await this.#store.getRun(runId);
      await this.#forwardMessages(runId, state, null);
      this.#active.delete(runId);
      if (run && isTerminalRunStatus(run.status)) {
        const invocations = await this.#store.listInvocations(runId);
        this.#bus.emit('run.ended', {
          runId,
          invocationId: invocations.at(-1)?.id ?? null,
          status: run.status,
          errorKind: run.errorKind,
          errorMessage: run.errorMessage,
          costUsd: invocations.reduce((sum, invocation) => sum + invocation.costUsd, 0),
          at: run.endedAt ?? new Date().toISOString(),
        });
      }
    }
    for (const event of await this.#store.listEvents({ afterId: this.#lastEventId, limit: 1000 })) {
      this.#lastEventId = event.id;
      if (event.kind === 'work_item.transitioned' && event.workItemId && typeof event.data.from === 'string' && typeof event.data.to === 'string') {
        this.#bus.emit('work_item.transitioned', { workItemId: event.workItemId, from: event.data.from, to: event.data.to, reason: event.message, at: event.at });
      }
      if (event.kind === 'budget.reached') {
        const scope = event.data.scope === 'run' ? 'run' : 'day';
        const limitUsd = typeof event.data.limitUsd === 'number' ? event.data.limitUsd : null;
        this.#bus.emit('budget.reached', { scope, limitUsd, workItemId: event.workItemId, runId: event.runId, message: event.message, at: event.at });
      }
      const questionId = event.data.questionId;
      if (event.kind === 'question.asked' && event.runId && (typeof questionId === 'string' || typeof questionId === 'number')) {
        this.#bus.emit('question.asked', { questionId: String(questionId), runId: event.runId, workItemId: event.workItemId, text: typeof event.data.text === 'string' ? event.data.text : event.message });
      }
      if (event.kind === RUN_PROGRESS_EVENT && event.runId) {
        const { status, percent } = event.data;
        this.#bus.emit('run.progress', { runId: event.runId, workItemId: event.workItemId, status: typeof status === 'string' ? status : event.message, percent: typeof percent === 'number' ? percent : null, at: event.at });
      }
      if (event.kind === 'orchestrator.notice') {
        const level = event.data.level === 'warn' || event.data.level === 'error' ? event.data.level : 'info';
        this.#bus.emit('orchestrator.notice', { level, message: event.message, at: event.at });
      }
    }
    for (const item of await this.#store.listWorkItems()) {
      const key = waitKey(item);
      if ((this.#waits.get(item.id) ?? '') === key) continue;
      this.#waits.set(item.id, key);
      this.#bus.emit('work_item.waiting', { workItemId: item.id, waitingFor: item.waitingFor, waitingDetail: item.waitingDetail, waitingSince: item.waitingSince, at: item.updatedAt });
    }
  }

  async #forwardMessages(runId: RunId, state: { lastSeq: Map<InvocationId, number> }, started: { pid: number | null; agent: string; startedAt: string | null } | null): Promise<void> {
    for (const invocation of await this.#store.listInvocations(runId)) {
      if (!state.lastSeq.has(invocation.id) && started?.pid) {
        this.#bus.emit('run.started', { runId, invocationId: invocation.id, agent: started.agent, pid: started.pid, at: started.startedAt ?? invocation.startedAt });
      }
      await this.#forwardInvocation(invocation.id, state);
    }
  }

  /** The invocation's messages after the last one forwarded. */
  async #forwardInvocation(invocationId: InvocationId, state: { lastSeq: Map<InvocationId, number> }): Promise<void> {
    let after = state.lastSeq.get(invocationId) ?? 0;
    for (;;) {
      const messages = await this.#store.listMessages({ invocationId, afterSeq: after, limit: 2000 });
      for (const message of messages) this.#bus.emit('run.message', message);
      if (messages.length > 0) after = messages.at(-1)!.seq;
      state.lastSeq.set(invocationId, after);
      if (messages.length < 2000) break;
    }
  }
}
