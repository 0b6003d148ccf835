import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreFeed } from '../dashboard/index.js';
import { EventBus, type RunId } from '../events/index.js';
import { registerLocalSession, STOP_REQUEST_POLL_MS } from '../orchestrator/index.js';
import { PostgresStore, type Store } from '../store/index.js';
import { adminStatement, latencyFigure, type LatencyFigure } from './stats.js';

export interface LiveFeedFigures {
  messages: number;
  intervalMs: number;
  /** How long the session's MessageWriter holds a first message before it writes its batch (part of every latency). */
  writerFlushMs: number;
  /** Message written by the session → run.message on the dashboard process's bus. */
  messageNotify: LatencyFigure;
  messagePoll: LatencyFigure & { pollMs: number };
  /** Stop requested on one connection → the owner's session signal aborted (registerLocalSession) on another. */
  stopNotify: LatencyFigure;
  stopPoll: LatencyFigure & { pollMs: number };
  loadBefore: number;
  loadAfter: number;
}

/** The MessageWriter's default flush interval, which a real session's writer uses. */
const WRITER_FLUSH_MS = 50;
const clock = () => performance.timeOrigin + performance.now();

/** The store as a follower that is told nothing: the poll path SQLite takes, for the side-by-side figure. */
function withoutAnnouncements(store: Store): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'changes') return undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Issue 8's "a message written by a session on one worker → shown by a dashboard in another process", NOTIFY vs
 * today's 500 ms poll, side by side on the same messages: a session process (live-feed-session.js) writes
 * `messages` messages through the MessageWriter into a PostgreSQL schema of its own; this process follows the
 * schema with two StoreFeeds, as `orchestrator dashboard` does, one driven by LISTEN/NOTIFY, one polling every
 * 500 ms. Latency: the session's write() → the feed's run.message on the bus (the dashboard's SSE and DOM add
 * section 5's figure). Then `stops` stop requests, each from another connection, to a session registered in this
 * process, the owner hearing it by NOTIFY vs by its 500 ms poll.
 */
export async function benchmarkLiveFeed(options: { url: string; messages: number; intervalMs: number; stops: number }): Promise<LiveFeedFigures> {
  const schema = `bench_live_${randomBytes(5).toString('hex')}`;
  await adminStatement(options.url, `CREATE SCHEMA ${schema}`);
  const opened: PostgresStore[] = [];
  const open = async () => {
    const store = await PostgresStore.open(options.url, { schema });
    opened.push(store);
    return store;
  };
  const feeds: StoreFeed[] = [];
  const loadBefore = loadavg()[0] ?? 0;
  try {
    const [notifiedStore, polledStore, requester] = [await open(), await open(), await open()];
    const latencies = { notify: [] as number[], poll: [] as number[] };
    let done!: () => void;
    const allSeen = new Promise<void>((resolve) => (done = resolve));
    const follow = async (store: Store, changes: 'store' | null, into: number[]) => {
      const bus = new EventBus();
      bus.on('run.message', (record) => {
        const sentAt = record.payload.sentAt;
        if (typeof sentAt !== 'number') return;
        into.push(clock() - sentAt);
        if (latencies.notify.length === options.messages && latencies.poll.length === options.messages) done();
      });
      const feed = new StoreFeed(store, bus, changes === null ? { changes: null, intervalMs: 500 } : {});
      feeds.push(feed);
      await feed.start((error) => process.stderr.write(`live-feed: ${String(error)}\n`));
      return feed;
    };
    const notifiedFeed = await follow(notifiedStore, 'store', latencies.notify);
    await follow(polledStore, null, latencies.poll);
    // Listening before the session starts: wait for the listener's first resync and the round it causes.
    const listening = new AbortController();
    await new Promise<void>((resolve) => notifiedStore.changes.subscribe({ onChange: () => undefined, onResync: resolve }, { signal: listening.signal }));
    listening.abort();
    await notifiedFeed.poll();

    const session = spawn(process.execPath, [join(import.meta.dirname, 'live-feed-session.js')], {
      stdio: ['ignore', 'inherit', 'pipe'],
      env: { PATH: process.env.PATH ?? '', LIVE_FEED_DATABASE_URL: options.url, LIVE_FEED_SCHEMA: schema, LIVE_FEED_MESSAGES: String(options.messages), LIVE_FEED_INTERVAL_MS: String(options.intervalMs), LIVE_FEED_FLUSH_MS: String(WRITER_FLUSH_MS) },
    });
    let stderr = '';
    session.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exitCode = await new Promise<number | null>((resolve) => session.on('close', resolve));
    if (exitCode !== 0) throw new Error(`the session process exited ${exitCode}: ${stderr.trim()}`);
    const timer = new AbortController();
    const timedOut = sleep(60_000, undefined, { signal: timer.signal }).then(
      () => Promise.reject(new Error(`the feeds saw ${latencies.notify.length} and ${latencies.poll.length} of ${options.messages} messages within 60 s`)),
      () => undefined,
    );
    await Promise.race([allSeen, timedOut]).finally(() => timer.abort());

    const stopLatencies = { notify: [] as number[], poll: [] as number[] };
    for (let i = 0; i < options.stops; i += 1) {
      for (const [path, owner] of [
        ['notify', notifiedStore],
        ['poll', withoutAnnouncements(polledStore)],
      ] as const) {
        const runId = `stop-${path}-${i}` as RunId;
        await owner.createRun({ id: runId, agent: 'code-developer', taskKind: 'bench', prompt: 'bench', cwd: '/', ownerPid: process.pid, host: 'live-feed', createdAt: new Date().toISOString() });
        const session = registerLocalSession(owner, runId);
        // Any phase of the owner's poll, and a listener that has settled.
        await sleep(100 + Math.random() * STOP_REQUEST_POLL_MS);
        const aborted = new Promise<number>((resolve) => session.signal.addEventListener('abort', () => resolve(clock()), { once: true }));
        const requestedAt = clock();
        await requester.requestRunStop(runId, new Date().toISOString());
        stopLatencies[path].push((await aborted) - requestedAt);
        session.unregister();
      }
    }
    return {
      messages: options.messages,
      intervalMs: options.intervalMs,
      writerFlushMs: WRITER_FLUSH_MS,
      messageNotify: latencyFigure(latencies.notify),
      messagePoll: { ...latencyFigure(latencies.poll), pollMs: 500 },
      stopNotify: latencyFigure(stopLatencies.notify),
      stopPoll: { ...latencyFigure(stopLatencies.poll), pollMs: STOP_REQUEST_POLL_MS },
      loadBefore,
      loadAfter: loadavg()[0] ?? 0,
    };
  } finally {
    for (const feed of feeds) await feed.stop();
    for (const store of opened) await store.close();
    await adminStatement(options.url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}
