import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus, type OrchestratorEvents, type WorkItemId } from '../../../src/events/index.js';
import { recordWorkItemWait } from '../../../src/orchestrator/index.js';
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

describe('recordWorkItemWait', () => {
  it('stores the wait and tells the bus; null clears all three columns', async () => {
    const id = 'P-4' as WorkItemId;
    await store.upsertWorkItem({ id, kind: 'priority', number: '4', title: 'Four', slug: 'four', state: 'spec_ready', position: 4, at: '2026-11-25T10:00:00.000Z' });
    const bus = new EventBus();
    const events: OrchestratorEvents['work_item.waiting'][] = [];
    bus.on('work_item.waiting', (event) => events.push(event));

    await recordWorkItemWait(store, bus, id, { reason: 'slot', detail: '4 of 4 sessions running' }, { at: '2026-11-25T10:00:01.000Z' });
    expect(await store.getWorkItem(id)).toMatchObject({ waitingFor: 'slot', waitingDetail: '4 of 4 sessions running', waitingSince: '2026-11-25T10:00:01.000Z', updatedAt: '2026-11-25T10:00:01.000Z' });
    // The same wait with new words keeps its start.
    await recordWorkItemWait(store, bus, id, { reason: 'slot', detail: '3 of 3 sessions running' }, { at: '2026-11-25T10:00:05.000Z', since: '2026-11-25T10:00:01.000Z' });
    expect(await store.getWorkItem(id)).toMatchObject({ waitingFor: 'slot', waitingDetail: '3 of 3 sessions running', waitingSince: '2026-11-25T10:00:01.000Z' });
    await recordWorkItemWait(store, bus, id, null, { at: '2026-11-25T10:00:09.000Z', since: '2026-11-25T10:00:01.000Z' });
    expect(await store.getWorkItem(id)).toMatchObject({ waitingFor: null, waitingDetail: null, waitingSince: null });

    expect(events).toEqual([
      { workItemId: id, waitingFor: 'slot', waitingDetail: '4 of 4 sessions running', waitingSince: '2026-11-25T10:00:01.000Z', at: '2026-11-25T10:00:01.000Z' },
      { workItemId: id, waitingFor: 'slot', waitingDetail: '3 of 3 sessions running', waitingSince: '2026-11-25T10:00:01.000Z', at: '2026-11-25T10:00:05.000Z' },
      { workItemId: id, waitingFor: null, waitingDetail: null, waitingSince: null, at: '2026-11-25T10:00:09.000Z' },
    ]);
  });
});
