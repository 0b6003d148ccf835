import { randomBytes } from 'node:crypto';
import type { EventBus, OrchestratorEventName, OrchestratorEvents } from '../events/index.js';
import { mayContainSecret, redactValue } from '../lib/redact.js';
import type { LiveRuns } from './live-runs.js';
import { digestMessage } from './message-digest.js';

/** One orchestrator event as the dashboard streams it: serialized (and redacted) once, sent to every client. */
export interface LoggedEvent {
  /** Increases by one per event within this server's life (its epoch). */
  readonly seq: number;
  readonly name: OrchestratorEventName;
  readonly runId: string | null;
  /** The event's JSON, for streams that follow one run. */
  readonly json: string;
  /** For `run.message`: the small digest JSON the global stream sends as `run.activity` instead. */
  readonly digestJson: string | null;
}

export type ReplayResult = { kind: 'events'; events: LoggedEvent[] } | { kind: 'gap' };

/**
 * The dashboard's memory of recent events, fed by the orchestrator's event bus. Each event gets an id
 * `<epoch>.<seq>`; a client reconnecting with Last-Event-ID gets exactly the events after it. When the id is
 * from another server life (the epoch changed) or older than what is kept, the client is told to reload its
 * snapshot from the store instead: it never silently misses events and never receives one twice.
 */
export class EventLog {
  readonly epoch: string = randomBytes(4).toString('hex');
  readonly #capacity: number;
  readonly #events: LoggedEvent[] = [];
  #nextSeq = 1;
  readonly #subscribers = new Set<(event: LoggedEvent) => void>();

  readonly #liveRuns: LiveRuns | null;

  /** `liveRuns`, when given, must be attached to the bus before this log so that its state includes the event. */
  constructor(options: { capacity?: number; liveRuns?: LiveRuns } = {}) {
    this.#capacity = options.capacity ?? 20_000;
    this.#liveRuns = options.liveRuns ?? null;
  }

  /** Subscribes to every bus event; returns the unsubscribe function. */
  attach(bus: EventBus): () => void {
    return bus.onAny((name, payload) => this.append(name, payload));
  }

  append<K extends OrchestratorEventName>(name: K, payload: OrchestratorEvents[K]): LoggedEvent {
    let json = JSON.stringify(payload);
    if (mayContainSecret(json)) json = JSON.stringify(redactValue(payload));
    const runId = 'runId' in payload && typeof payload.runId === 'string' ? payload.runId : null;
    let digestJson: string | null = null;
    if (name === 'run.message') {
      const record = payload as OrchestratorEvents['run.message'];
      digestJson = JSON.stringify({ ...digestMessage(record), live: this.#liveRuns?.get(record.runId) ?? null });
      if (mayContainSecret(digestJson)) digestJson = JSON.stringify(redactValue(JSON.parse(digestJson) as unknown));
    }
    const event: LoggedEvent = { seq: this.#nextSeq++, name, runId, json, digestJson };
    this.#events.push(event);
    if (this.#events.length > this.#capacity * 1.25) this.#events.splice(0, this.#events.length - this.#capacity);
    for (const subscriber of this.#subscribers) subscriber(event);
    return event;
  }

  get lastSeq(): number {
    return this.#nextSeq - 1;
  }

  idOf(event: LoggedEvent): string {
    return `${this.epoch}.${event.seq}`;
  }

  /** The events after a client's Last-Event-ID, or `gap` when they are no longer all here. */
  replayAfter(lastEventId: string): ReplayResult {
    const match = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(lastEventId);
    if (!match || match[1] !== this.epoch) return { kind: 'gap' };
    const after = Number(match[2]);
    if (after > this.lastSeq) return { kind: 'gap' };
    const oldest = this.#events[0]?.seq ?? this.#nextSeq;
    if (after + 1 < oldest) return { kind: 'gap' };
    const start = this.#events.length - (this.lastSeq - after);
    return { kind: 'events', events: this.#events.slice(Math.max(0, start)) };
  }

  /** Every event still kept, oldest first. */
  kept(): readonly LoggedEvent[] {
    return this.#events;
  }

  subscribe(listener: (event: LoggedEvent) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }
}
