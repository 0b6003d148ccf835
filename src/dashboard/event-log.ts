import { randomBytes } from 'node:crypto';
import { payloadJsonOf, type EventBus, type OrchestratorEventName, type OrchestratorEvents } from '../events/index.js';
import { mayContainSecret, redactValue } from '../lib/redact.js';
import type { LiveRuns } from './live-runs.js';
import { digestOf, type MessageDigest } from './message-digest.js';

type MessageEvent = OrchestratorEvents['run.message'];

function redactedJson(value: unknown): string {
  const json = JSON.stringify(value);
  return mayContainSecret(json) ? JSON.stringify(redactValue(JSON.parse(json) as unknown)) : json;
}

/** A message's JSON: its fields, and the payload's JSON as the orchestrator recorded it (redacted), spliced in. */
function messageJson(record: MessageEvent): string {
  const { payload: _payload, ...head } = record;
  const json = `${JSON.stringify(head).slice(0, -1)},"payload":${payloadJsonOf(record)}}`;
  return mayContainSecret(json) ? redactedJson(JSON.parse(json) as unknown) : json;
}

/** One orchestrator event as the dashboard streams it: serialized (and redacted) once, sent to every client. */
export interface LoggedEvent {
  /** Increases by one per event within this server's life (its epoch). */
  readonly seq: number;
  readonly name: OrchestratorEventName;
  readonly runId: string | null;
  /**
   * The event's JSON, for streams that follow one run. Only the newest `maxMessageBodies` messages keep theirs
   * (null after): older ones are in the store, and a client that missed them reloads from there.
   */
  json: string | null;
  /** For `run.message`: its digest, which the global stream sends as `run.activity` (see EventLog.activityJson). */
  readonly digest: MessageDigest | null;
  /** The activity JSON, once made (only when a page is there to receive it). */
  activity?: string;
}

export type ReplayResult = { kind: 'events'; events: LoggedEvent[] } | { kind: 'gap' };

/**
 * The dashboard's memory of recent events, fed by the orchestrator's event bus. Each event gets an id
 * `<epoch>.<seq>`; a client reconnecting with Last-Event-ID gets exactly the events after it. When the id is
 * from another server life (the epoch changed), or older than what is kept, or a message it would need has
 * dropped its body, the client is told to reload its snapshot from the store instead: it never silently misses
 * events and never receives one twice. Messages are the bulk of the traffic; the log keeps every event's small
 * form (digests) for `capacity` events but full message bodies only for the newest `maxMessageBodies`, so that
 * 50 busy sessions cost the orchestrator a few MB, not a copy of their output (measured: keeping 20,000 events
 * with their bodies added about 40 MB to its peak RSS at 50 sessions).
 */
export class EventLog {
  readonly epoch: string = randomBytes(4).toString('hex');
  readonly #capacity: number;
  readonly #maxMessageBodies: number;
  readonly #events: LoggedEvent[] = [];
  /** Index of the oldest kept event in #events (dropped ones leave the front in chunks). */
  #start = 0;
  /** Messages whose body is kept, oldest first (indexes into the sequence by seq). */
  readonly #withBody: LoggedEvent[] = [];
  #withBodyStart = 0;
  #nextSeq = 1;
  readonly #subscribers = new Set<(event: LoggedEvent) => void>();
  readonly #liveRuns: LiveRuns | null;

  /** `liveRuns`, when given, must be attached to the bus before this log so that its state includes the event. */
  constructor(options: { capacity?: number; maxMessageBodies?: number; liveRuns?: LiveRuns } = {}) {
    this.#capacity = options.capacity ?? 5_000;
    this.#maxMessageBodies = options.maxMessageBodies ?? 500;
    this.#liveRuns = options.liveRuns ?? null;
  }

  /** Subscribes to every bus event; returns the unsubscribe function. */
  attach(bus: EventBus): () => void {
    return bus.onAny((name, payload) => this.append(name, payload));
  }

  append<K extends OrchestratorEventName>(name: K, payload: OrchestratorEvents[K]): LoggedEvent {
    const runId = 'runId' in payload && typeof payload.runId === 'string' ? payload.runId : null;
    let event: LoggedEvent;
    if (name === 'run.message') {
      const record = payload as MessageEvent;
      event = { seq: this.#nextSeq++, name, runId, json: messageJson(record), digest: digestOf(record) };
      this.#withBody.push(event);
      while (this.#withBody.length - this.#withBodyStart > this.#maxMessageBodies) this.#withBody[this.#withBodyStart++]!.json = null;
      if (this.#withBodyStart >= 1024) this.#withBodyStart = this.#trimFront(this.#withBody, this.#withBodyStart);
    } else {
      event = { seq: this.#nextSeq++, name, runId, json: redactedJson(payload), digest: null };
    }
    this.#events.push(event);
    while (this.#events.length - this.#start > this.#capacity) this.#start += 1;
    if (this.#start >= 1024) this.#start = this.#trimFront(this.#events, this.#start);
    for (const subscriber of this.#subscribers) subscriber(event);
    return event;
  }

  #trimFront(list: LoggedEvent[], start: number): number {
    list.splice(0, start);
    return 0;
  }

  /**
   * A message's `run.activity` JSON for the global stream: its digest and its run's live state (tokens, last tool
   * call), made on first use, so that an orchestrator with no page open spends nothing on it.
   */
  activityJson(event: LoggedEvent): string | null {
    if (event.digest === null) return null;
    event.activity ??= redactedJson({ ...event.digest, live: this.#liveRuns?.get(event.digest.runId) ?? null });
    return event.activity;
  }

  get lastSeq(): number {
    return this.#nextSeq - 1;
  }

  idOf(event: LoggedEvent): string {
    return `${this.epoch}.${event.seq}`;
  }

  /**
   * The events after a client's Last-Event-ID, or `gap` when they are no longer all here. `needBodies`: the
   * client follows one run and needs full messages (`run` = that run's id), not just their digests.
   */
  replayAfter(lastEventId: string, needBodies: { runId: string } | null = null): ReplayResult {
    const match = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(lastEventId);
    if (!match || match[1] !== this.epoch) return { kind: 'gap' };
    const after = Number(match[2]);
    if (after > this.lastSeq) return { kind: 'gap' };
    const oldest = this.#events[this.#start]?.seq ?? this.#nextSeq;
    if (after + 1 < oldest) return { kind: 'gap' };
    const from = this.#events.length - (this.lastSeq - after);
    const events = this.#events.slice(Math.max(this.#start, from));
    if (needBodies && events.some((event) => event.runId === needBodies.runId && event.json === null)) return { kind: 'gap' };
    return { kind: 'events', events };
  }

  /** Every event still kept, oldest first. */
  kept(): readonly LoggedEvent[] {
    return this.#events.slice(this.#start);
  }

  subscribe(listener: (event: LoggedEvent) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }
}
