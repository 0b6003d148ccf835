import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteDatabase as Database } from '../../../src/store/sqlite-driver.js';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/index.js';
import { MIGRATIONS } from '../../../src/store/schema.js';
import type { RunId } from '../../../src/events/index.js';
import { StoreError } from '../../../src/lib/errors.js';
import { runStoreConformance } from '../../conformance/store.js';

runStoreConformance('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'store-'));
  return { store: SqliteStore.open(join(dir, 'nested', 'o.db')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('sqlite specifics', () => {
  it('uses WAL, applies migrations once, and keeps data across reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'store-'));
    const path = join(dir, 'o.db');
    const first = SqliteStore.open(path);
    await first.createRun({ id: '01keep' as RunId, agent: 'a', taskKind: 't', prompt: 'p', cwd: '/', ownerPid: 1, host: 'h', createdAt: '2026-11-24T10:00:00.000Z' });
    await first.close();
    const second = SqliteStore.open(path);
    expect((await second.getRun('01keep' as RunId))?.createdAt).toBe('2026-11-24T10:00:00.000Z');
    await second.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.prepare('SELECT version, name FROM schema_migrations').all()).toEqual([
      { version: 1, name: 'initial' },
      { version: 2, name: 'cost_estimates' },
      { version: 3, name: 'roadmap_warnings' },
      { version: 4, name: 'scheduler_waits' },
      { version: 5, name: 'workers' },
      { version: 8, name: 'agent_messages' },
    ]);
    raw.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('adds the cost-estimate columns to a database made before them: its invocations read as the CLI\'s own figures', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'store-'));
    const path = join(dir, 'old.db');
    const old = new Database(path);
    old.exec(MIGRATIONS[0]!.sqlite);
    old.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL); INSERT INTO schema_migrations VALUES (1, 'initial', 'then')");
    old.exec("INSERT INTO runs (id, agent, task_kind, prompt, status, cwd, owner_pid, host, created_at) VALUES ('01old', 'architect', 'spec', 'p', 'succeeded', '/', 1, 'h', '2026-11-01T00:00:00.000Z')");
    old.exec("INSERT INTO invocations (id, run_id, prompt, started_at, ended_at, status, cost_usd) VALUES ('i-old', '01old', 'p', 'a', 'b', 'succeeded', 0.75)");
    old.close();
    const store = SqliteStore.open(path);
    expect(await store.listInvocations('01old' as RunId)).toMatchObject([{ id: 'i-old', costUsd: 0.75, costEstimated: false, costNote: null }]);
    expect((await store.listRuns())[0]).toMatchObject({ costUsd: 0.75, costEstimated: false });
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('explains a database it cannot create, with the fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'store-'));
    await writeFile(join(dir, 'a-file'), 'x');
    expect(() => SqliteStore.open(join(dir, 'a-file', 'o.db'))).toThrow(StoreError);
    try {
      SqliteStore.open(join(dir, 'a-file', 'o.db'));
    } catch (error) {
      expect((error as StoreError).message).toContain(`cannot open the database ${join(dir, 'a-file', 'o.db')}`);
      expect((error as StoreError).hint).toContain('--db');
    }
    await rm(dir, { recursive: true, force: true });
  });
});
