import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteDatabase as Database } from '../store/sqlite-driver.js';
import type { InvocationId, JsonObject, MessageRecord, RunId } from '../events/index.js';
import pg from 'pg';
import { DEFAULT_MAX_BATCH, MessageWriter, PostgresStore, SqliteStore, redactUrl } from '../store/index.js';

/** A stream message shaped like the CLI's (about 1 KB of JSON). */
function sampleMessage(seq: number): MessageRecord {
  const payload: JsonObject = {
    type: 'assistant',
    message: {
      id: `msg_${seq}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-opus-4-8',
      content: [{ type: 'tool_use', id: `toolu_${seq}`, name: 'Write', input: { file_path: `/work/repo/src/module-${seq}.ts`, content: 'export const value = 1;\n'.repeat(25) } }],
      usage: { input_tokens: 1200, output_tokens: 80, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    },
    parent_tool_use_id: null,
    session_id: '0cef0082-da1d-4357-a926-5f73f5400d62',
    uuid: `8f83ffc3-8e75-4d84-a8dc-${String(seq).padStart(12, '0')}`,
  };
  return { runId: 'bench-run' as RunId, invocationId: 'bench-invocation' as InvocationId, seq, at: new Date().toISOString(), type: 'assistant', subtype: null, toolName: 'Write', payload };
}

export interface IngestFigures {
  messages: number;
  /** One commit per message with SQLite's defaults (rollback journal, synchronous=FULL), as the seed system did. */
  perMessageCommitPerSec: number;
  /** One commit per message with our pragmas (WAL, synchronous=NORMAL): isolates the batching effect. */
  perMessageCommitWalPerSec: number;
  writerPerSec: number;
  rawBatchedPerSec: number;
  /** The same writer into PostgreSQL (a schema of its own), or why it was not measured. */
  postgres: { writerPerSec: number } | { skipped: string };
}

const INSERT = 'INSERT INTO messages (invocation_id, run_id, seq, at, type, subtype, tool_name, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';

function freshStore(dir: string, name: string): SqliteStore {
  const store = SqliteStore.open(join(dir, `${name}.db`));
  return store;
}

/**
 * Message ingest, three ways on three fresh SQLite files with the same schema and pragmas, side by side:
 * one commit per message (the seed system's method), our MessageWriter, and raw batched inserts (the ceiling).
 */
export async function benchmarkMessageIngest(messages: number, postgresUrl: string | null = null): Promise<IngestFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'orch-bench-ingest-'));
  const records = Array.from({ length: messages }, (_, index) => sampleMessage(index + 1));
  try {
    // 1. One INSERT + COMMIT per message (autocommit): with SQLite's defaults (the seed), then with WAL/NORMAL.
    const perMessage = (name: string, wal: boolean): number => {
      const schemaStore = freshStore(dir, name);
      void schemaStore.close();
      const naive = new Database(join(dir, `${name}.db`));
      naive.pragma(wal ? 'journal_mode = WAL' : 'journal_mode = DELETE');
      naive.pragma(wal ? 'synchronous = NORMAL' : 'synchronous = FULL');
      const naiveInsert = naive.prepare(INSERT);
      const count = Math.min(messages, wal ? 10_000 : 2_000);
      const begin = performance.now();
      for (const record of records.slice(0, count)) {
        naiveInsert.run(record.invocationId, record.runId, record.seq, record.at, record.type, record.subtype, record.toolName, JSON.stringify(record.payload));
      }
      const rate = count / ((performance.now() - begin) / 1000);
      naive.close();
      return rate;
    };
    const perMessageCommitPerSec = perMessage('naive-default', false);
    const perMessageCommitWalPerSec = perMessage('naive-wal', true);
    let start: number;

    // 2. Through the store's MessageWriter (what sessions use).
    const store = freshStore(dir, 'writer');
    const writer = new MessageWriter(store);
    start = performance.now();
    for (const record of records) writer.write(record);
    await writer.flush();
    const writerPerSec = messages / ((performance.now() - start) / 1000);
    await writer.close();
    await store.close();

    // 3. Raw batched inserts: the writer's batch size per transaction, no abstraction.
    const rawStore = freshStore(dir, 'raw');
    await rawStore.close();
    const raw = new Database(join(dir, 'raw.db'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    const rawInsert = raw.prepare(INSERT);
    const insertBatch = raw.transaction((batch: MessageRecord[]) => {
      for (const record of batch) rawInsert.run(record.invocationId, record.runId, record.seq, record.at, record.type, record.subtype, record.toolName, JSON.stringify(record.payload));
    });
    start = performance.now();
    for (let index = 0; index < records.length; index += DEFAULT_MAX_BATCH) insertBatch(records.slice(index, index + DEFAULT_MAX_BATCH));
    const rawBatchedPerSec = messages / ((performance.now() - start) / 1000);
    raw.close();
    return { messages, perMessageCommitPerSec, perMessageCommitWalPerSec, writerPerSec, rawBatchedPerSec, postgres: await postgresWriter(postgresUrl, records) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The MessageWriter into PostgreSQL, in a schema made and dropped for the run: for users choosing a store. */
async function postgresWriter(url: string | null, records: readonly MessageRecord[]): Promise<{ writerPerSec: number } | { skipped: string }> {
  if (url === null) return { skipped: 'no PostgreSQL URL given' };
  const schema = `orch_bench_${Date.now().toString(36)}`;
  let store: PostgresStore;
  try {
    store = await PostgresStore.open(url, { schema });
  } catch (error) {
    return { skipped: `PostgreSQL at ${redactUrl(url)} not reachable: ${(error as Error).message}` };
  }
  try {
    const writer = new MessageWriter(store);
    const start = performance.now();
    for (const record of records) writer.write(record);
    await writer.flush();
    const writerPerSec = records.length / ((performance.now() - start) / 1000);
    await writer.close();
    return { writerPerSec };
  } finally {
    await store.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}
