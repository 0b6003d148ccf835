import { setTimeout as sleep } from 'node:timers/promises';
import type { InvocationId, RunId } from '../events/index.js';
import { MessageWriter, PostgresStore } from '../store/index.js';

/**
 * The "session" of the live-feed benchmark (live-feed.ts), in a process of its own as on another worker: records
 * a run and writes LIVE_FEED_MESSAGES messages, one every LIVE_FEED_INTERVAL_MS, through the MessageWriter as a
 * real session does (flushing every LIVE_FEED_FLUSH_MS), each stamped with the moment it was written (epoch ms, performance.timeOrigin + now()).
 * The database URL comes in the environment, never on the command line.
 */
async function main(): Promise<void> {
  const env = process.env;
  const url = env.LIVE_FEED_DATABASE_URL;
  const schema = env.LIVE_FEED_SCHEMA;
  if (!url || !schema) throw new Error('LIVE_FEED_DATABASE_URL and LIVE_FEED_SCHEMA are needed');
  const runId = (env.LIVE_FEED_RUN_ID ?? 'live-feed-run') as RunId;
  const invocationId = `${runId}-1` as InvocationId;
  const count = Number(env.LIVE_FEED_MESSAGES ?? 200);
  const intervalMs = Number(env.LIVE_FEED_INTERVAL_MS ?? 50);
  const store = await PostgresStore.open(url, { schema, max: 2 });
  try {
    const at = new Date().toISOString();
    await store.createRun({ id: runId, agent: 'code-developer', taskKind: 'bench', prompt: 'bench', cwd: '/', ownerPid: process.pid, host: 'live-feed-session', createdAt: at });
    await store.markRunRunning(runId, { pid: process.pid, startedAt: at });
    await store.createInvocation({ id: invocationId, runId, prompt: 'bench', systemPrompt: null, model: null, resumeSessionId: null, startedAt: at });
    const writer = new MessageWriter(store, { flushIntervalMs: Number(env.LIVE_FEED_FLUSH_MS ?? 50) });
    for (let seq = 1; seq <= count; seq += 1) {
      const text = `step ${seq}: ${'lorem ipsum '.repeat(20)}`;
      writer.write({ runId, invocationId, seq, at: new Date().toISOString(), type: 'assistant', subtype: null, toolName: null, payload: { type: 'assistant', message: { id: `m${seq}`, content: [{ type: 'text', text }] }, sentAt: performance.timeOrigin + performance.now() } });
      await sleep(intervalMs);
    }
    await writer.close();
    await store.finishRun(runId, { status: 'succeeded', endedAt: new Date().toISOString() });
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
