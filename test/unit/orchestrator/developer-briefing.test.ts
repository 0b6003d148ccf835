import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../../src/events/index.js';
import { developerBriefing } from '../../../src/orchestrator/landed.js';
import { SqliteStore } from '../../../src/store/index.js';

const ID = 'P-1' as WorkItemId;

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'orch-briefing-'));
  const store = SqliteStore.open(join(dir, 'o.db'));
  try {
    await store.upsertWorkItem({ id: ID, kind: 'priority', number: '1', title: 'One', slug: 'one', state: 'planned', position: 0, at: '2026-11-26T10:00:00.000Z' });
    await fn(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function move(store: SqliteStore, from: string, to: string, minute: number): Promise<void> {
  expect(await store.transitionWorkItem(ID, from, to, `${from} → ${to}`, `2026-11-26T10:${String(minute).padStart(2, '0')}:00.000Z`)).toBe(true);
}

describe('developerBriefing: what the next developer session is told, from the audit trail alone', () => {
  it('names the conflicting files after a merge sent the item back, and the last refused attempt since', async () => {
    await withStore(async (store) => {
      await move(store, 'planned', 'spec_ready', 1);
      await move(store, 'spec_ready', 'implementing', 2);
      await store.appendEvent({ at: '2026-11-26T10:03:00.000Z', kind: 'attempt.failed', workItemId: ID, message: 'code-developer attempt 1 of 3 not accepted: an old failure' });
      await move(store, 'implementing', 'reviewing', 4);
      await move(store, 'reviewing', 'merging', 5);
      expect(await developerBriefing(store, ID)).toEqual({ conflictFiles: null, previousFailure: null });
      await store.appendEvent({ at: '2026-11-26T10:06:00.000Z', kind: 'merge.conflicted', workItemId: ID, message: 'conflicted', data: { files: ['src/a.js', 'README.md'] } });
      await move(store, 'merging', 'implementing', 7);
      expect(await developerBriefing(store, ID)).toEqual({ conflictFiles: ['src/a.js', 'README.md'], previousFailure: null });
      await store.appendEvent({ at: '2026-11-26T10:08:00.000Z', kind: 'attempt.failed', workItemId: ID, message: 'code-developer attempt 2 of 3 not accepted: committed files still contain merge conflict markers: src/a.js' });
      expect(await developerBriefing(store, ID)).toEqual({ conflictFiles: ['src/a.js', 'README.md'], previousFailure: 'committed files still contain merge conflict markers: src/a.js' });
    });
  });

  it('names no conflict when the item came back from a review', async () => {
    await withStore(async (store) => {
      await store.appendEvent({ at: '2026-11-26T10:00:30.000Z', kind: 'merge.conflicted', workItemId: ID, message: 'an earlier round', data: { files: ['x'] } });
      await move(store, 'planned', 'implementing', 1);
      await move(store, 'implementing', 'reviewing', 2);
      await move(store, 'reviewing', 'changes_requested', 3);
      await move(store, 'changes_requested', 'implementing', 4);
      expect(await developerBriefing(store, ID)).toEqual({ conflictFiles: null, previousFailure: null });
    });
  });
});
