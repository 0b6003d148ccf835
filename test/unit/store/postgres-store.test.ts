import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { InvocationId, RunId } from '../../../src/events/index.js';
import { StoreError } from '../../../src/lib/errors.js';
import { PostgresStore, openStore } from '../../../src/store/index.js';
import { runStoreConformance } from '../../conformance/store.js';

/**
 * PostgreSQL runs on this project's machines and CI (127.0.0.1:5432, trust auth, database `test`). Each test gets
 * its own schema, dropped afterwards. ORCHESTRATOR_TEST_POSTGRES_URL points elsewhere.
 */
const URL = process.env.ORCHESTRATOR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

const freshSchema = () => `orch_test_${randomBytes(6).toString('hex')}`;

runStoreConformance('postgres', async () => {
  const schema = freshSchema();
  return { store: await PostgresStore.open(URL, { schema }), cleanup: () => dropSchema(schema) };
});

describe('postgres specifics', () => {
  it('applies migrations once even when two orchestrators open the database at the same moment', async () => {
    const schema = freshSchema();
    try {
      const [a, b] = await Promise.all([PostgresStore.open(URL, { schema }), PostgresStore.open(URL, { schema })]);
      await a.createRun({ id: '01pgrun' as RunId, agent: 'architect', taskKind: 'spec', prompt: 'p', cwd: '/w', ownerPid: 1, host: 'h', createdAt: '2026-11-25T10:00:00.000Z' });
      expect((await b.getRun('01pgrun' as RunId))?.agent).toBe('architect');
      await Promise.all([a.close(), b.close()]);
    } finally {
      await dropSchema(schema);
    }
  });

  it('writes a batch of messages in one statement and keeps their order and payloads', async () => {
    const schema = freshSchema();
    const store = await PostgresStore.open(URL, { schema });
    try {
      await store.createRun({ id: '01pgmsg' as RunId, agent: 'architect', taskKind: 'spec', prompt: 'p', cwd: '/w', ownerPid: 1, host: 'h', createdAt: '2026-11-25T10:00:00.000Z' });
      const records = Array.from({ length: 300 }, (_, i) => ({
        runId: '01pgmsg' as RunId,
        invocationId: 'inv' as InvocationId,
        seq: i + 1,
        at: `2026-11-25T10:00:${String(i % 60).padStart(2, '0')}.000Z`,
        type: 'assistant',
        subtype: null,
        toolName: i % 2 === 0 ? 'Bash' : null,
        payload: { type: 'assistant', n: i, text: "quotes ' \" and ? placeholders $1 survive" },
      }));
      await store.appendMessages(records);
      expect(await store.listMessages({ invocationId: 'inv' as InvocationId, limit: 1000 })).toEqual(records);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  it('names the database and the fix when it cannot connect, without the password', async () => {
    const error = await openStore({ url: 'postgres://someone:s3cret-pass@127.0.0.1:1/nowhere', sqlitePath: '/unused' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toContain('postgres://someone:***@127.0.0.1:1/nowhere');
    expect((error as StoreError).message).not.toContain('s3cret-pass');
    expect((error as StoreError).hint).toMatch(/PostgreSQL running/);
  });
});
