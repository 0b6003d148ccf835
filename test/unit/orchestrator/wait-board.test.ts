import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus, type OrchestratorEvents, type WorkItemId } from '../../../src/events/index.js';
import { WaitBoard } from '../../../src/orchestrator/wait-board.js';
import { SqliteStore } from '../../../src/store/index.js';

let dir: string;
let store: SqliteStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orch-waits-'));
  store = SqliteStore.open(join(dir, 'db.sqlite'));
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('WaitBoard', () => {
  it('stores each change of a wait and tells the bus, keeping the start while the reason stays; a clear empties all three columns', async () => {
    const id = 'P-4' as WorkItemId;
    await store.upsertWorkItem({ id, kind: 'priority', number: '4', title: 'Four', slug: 'four', state: 'spec_ready', position: 4, at: '2026-11-25T10:00:00.000Z' });
    const bus = new EventBus();
    const events: OrchestratorEvents['work_item.waiting'][] = [];
    bus.on('work_item.waiting', (event) => events.push(event));
    const board = new WaitBoard(store, bus);

    await board.wait(id, 'slot', '4 of 4 sessions running');
    const first = await store.getWorkItem(id);
    expect(first).toMatchObject({ waitingFor: 'slot', waitingDetail: '4 of 4 sessions running' });
    const since = first!.waitingSince!;
    expect(events).toEqual([{ workItemId: id, waitingFor: 'slot', waitingDetail: '4 of 4 sessions running', waitingSince: since, at: since }]);
    // The same decision again is no news.
    await board.wait(id, 'slot', '4 of 4 sessions running');
    expect(events).toHaveLength(1);
    // New words for the same wait keep its start.
    await board.wait(id, 'slot', '3 of 3 sessions running');
    expect(await store.getWorkItem(id)).toMatchObject({ waitingFor: 'slot', waitingDetail: '3 of 3 sessions running', waitingSince: since });
    expect(events[1]).toMatchObject({ waitingFor: 'slot', waitingDetail: '3 of 3 sessions running', waitingSince: since });
    await board.clear(id);
    await board.clear(id);
    expect(await store.getWorkItem(id)).toMatchObject({ waitingFor: null, waitingDetail: null, waitingSince: null });
    expect(events.slice(2)).toMatchObject([{ workItemId: id, waitingFor: null, waitingDetail: null, waitingSince: null }]);
    expect(board.reasonOf(id)).toBeNull();
  });

  it('works without a bus (the store alone)', async () => {
    const id = 'P-5' as WorkItemId;
    await store.upsertWorkItem({ id, kind: 'priority', number: '5', title: 'Five', slug: 'five', state: 'planned', position: 5, at: '2026-11-25T10:00:00.000Z' });
    const board = new WaitBoard(store);
    await board.wait(id, 'dependency', 'P-4 (merging)');
    expect(await store.getWorkItem(id)).toMatchObject({ waitingFor: 'dependency', waitingDetail: 'P-4 (merging)' });
    expect(board.reasonOf(id)).toBe('dependency');
  });
});
