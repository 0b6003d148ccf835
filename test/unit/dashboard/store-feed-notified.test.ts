import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreFeed } from '../../../src/dashboard/index.js';
import { EventBus, type InvocationId, type MessageRecord, type RunId } from '../../../src/events/index.js';
import { SqliteStore, type Store, type StoreChange, type StoreChangeNotifier, type StoreChangeSubscriber } from '../../../src/store/index.js';

/** A notifier the test drives by hand: what PostgreSQL's listener does, without PostgreSQL. */
class HandNotifier implements StoreChangeNotifier {
  subscriber: StoreChangeSubscriber | null = null;
  subscribe(subscriber: StoreChangeSubscriber, options: { signal: AbortSignal }): void {
    this.subscriber = subscriber;
    options.signal.addEventListener('abort', () => (this.subscriber = null), { once: true });
  }
  change(change: StoreChange): void {
    this.subscriber?.onChange(change);
  }
}

/** The store, counting the reads the feed makes. */
function counted(store: Store): { store: Store; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        reads.set(property, (reads.get(property) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, reads };
}

const HOUR_MS = 3_600_000;
const at = '2026-11-25T10:00:00.000Z';
const message = (seq: number): MessageRecord => ({
  runId: 'r1' as RunId,
  invocationId: 'i1' as InvocationId,
  seq,
  at,
  type: 'assistant',
  subtype: null,
  toolName: null,
  payload: { type: 'assistant', message: { id: `m${seq}`, content: [{ type: 'text', text: `hello ${seq}` }] } },
});

let dir: string;
let sqlite: SqliteStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orch-feed-notified-'));
  sqlite = SqliteStore.open(join(dir, 'db.sqlite'));
});
afterEach(async () => {
  await sqlite.close();
  await rm(dir, { recursive: true, force: true });
});

/** Resolves when the bus has carried message `seq`. */
const messageSeen = (bus: EventBus, seq: number) =>
  new Promise<void>((resolve) => {
    const off = bus.on('run.message', (record) => {
      if (record.seq !== seq) return;
      off();
      resolve();
    });
  });

describe('StoreFeed driven by change notifications', () => {
  it('reads when told (never on its timer), reads only the named session for its messages, and coalesces a burst', async () => {
    const notifier = new HandNotifier();
    const { store, reads } = counted(sqlite);
    const bus = new EventBus();
    const seen: string[] = [];
    bus.onAny((name, payload) => seen.push('seq' in payload ? `${name}#${payload.seq}` : name));
    const feed = new StoreFeed(store, bus, { changes: notifier, intervalMs: HOUR_MS });
    expect(feed.notified).toBe(true);
    await feed.start((error) => {
      throw error;
    });
    expect(notifier.subscriber).not.toBeNull();

    await sqlite.createRun({ id: 'r1' as RunId, agent: 'code-developer', taskKind: 't', prompt: 'p', cwd: dir, ownerPid: 1, host: 'h', createdAt: at });
    await sqlite.markRunRunning('r1' as RunId, { pid: 4242, startedAt: at });
    await sqlite.createInvocation({ id: 'i1' as InvocationId, runId: 'r1' as RunId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: at });
    await sqlite.appendMessages([message(1)]);
    const first = messageSeen(bus, 1);
    notifier.change({ kind: 'invocation', runId: 'r1' as RunId, invocationId: 'i1' as InvocationId });
    await first;
    expect(seen).toEqual(['run.queued', 'run.started', 'run.message#1']);

    // A burst of notifications for the followed session: its messages are read, not a full round each.
    const fullRounds = reads.get('listRuns') ?? 0;
    const messageReads = reads.get('listMessages') ?? 0;
    await sqlite.appendMessages(Array.from({ length: 50 }, (_, index) => message(index + 2)));
    const last = messageSeen(bus, 51);
    for (let seq = 2; seq <= 51; seq += 1) notifier.change({ kind: 'message', runId: 'r1' as RunId, invocationId: 'i1' as InvocationId, seq });
    await last;
    expect(seen.slice(3)).toEqual(Array.from({ length: 50 }, (_, index) => `run.message#${index + 2}`));
    expect(reads.get('listRuns') ?? 0).toBe(fullRounds);
    expect((reads.get('listMessages') ?? 0) - messageReads).toBeLessThanOrEqual(2);

    // A reconnect (resync) owes a full round: the run's end, missed while nobody listened, is read.
    await sqlite.finishRun('r1' as RunId, { status: 'succeeded', endedAt: at });
    const ended = new Promise<void>((resolve) => bus.on('run.ended', () => resolve()));
    notifier.subscriber?.onResync();
    await ended;

    await feed.stop();
    expect(notifier.subscriber).toBeNull();
  });

  it('polls on its timer when the store announces nothing (SQLite)', async () => {
    const feed = new StoreFeed(sqlite, new EventBus());
    expect(feed.notified).toBe(false);
  });
});
