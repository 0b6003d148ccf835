import type { EventBus, InvocationId, RunId } from '../events/index.js';
import { isTerminalRunStatus } from '../events/index.js';
import type { Store, WorkItemRecord } from '../store/index.js';

/** A work item's wait as one comparable value ('' when it does not wait). */
const waitKey = (item: WorkItemRecord): string => (item.waitingFor === null ? '' : JSON.stringify([item.waitingFor, item.waitingDetail, item.waitingSince]));

/**
 * For a dashboard running in its own process (`orchestrator dashboard`) while orchestrators run elsewhere: turns
 * what they write to the store into the same bus events an in-process orchestrator emits (runs starting and
 * ending, their messages, work-item transitions and waits), by reading what is new every `intervalMs`. In the
 * orchestrator's own process the dashboard listens to its bus directly and this is not used.
 */
export class StoreFeed {
  readonly #store: Store;
  readonly #bus: EventBus;
  readonly #intervalMs: number;
  readonly #active = new Map<RunId, { status: string; lastSeq: Map<InvocationId, number> }>();
  #lastEventId = 0;
  /** Each work item's last seen wait (waitKey); a wait is a column, not an event, so changes are found by comparing. */
  readonly #waits = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;

  constructor(store: Store, bus: EventBus, options: { intervalMs?: number } = {}) {
    this.#store = store;
    this.#bus = bus;
    this.#intervalMs = options.intervalMs ?? 500;
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
    this.#timer = setInterval(() => {
      if (this.#polling) return;
      this.#polling = this.poll()
        .catch(onError)
        .finally(() => {
          this.#polling = null;
        });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#polling;
  }

  /** One round: new runs, their new messages, ended runs, new transitions, changed waits. */
  async poll(): Promise<void> {
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
      let after = state.lastSeq.get(invocation.id) ?? 0;
      for (;;) {
        const messages = await this.#store.listMessages({ invocationId: invocation.id, afterSeq: after, limit: 2000 });
        for (const message of messages) this.#bus.emit('run.message', message);
        if (messages.length > 0) after = messages.at(-1)!.seq;
        if (messages.length < 2000) break;
      }
      state.lastSeq.set(invocation.id, after);
    }
  }
}
