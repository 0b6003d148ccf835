import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreFeed } from '../../../src/dashboard/index.js';
import { EventBus, type InvocationId, type OrchestratorEventName, type RunId, type WorkItemId } from '../../../src/events/index.js';
import { SqliteStore } from '../../../src/store/index.js';

let dir: string;
let store: SqliteStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orch-feed-'));
  store = SqliteStore.open(join(dir, 'db.sqlite'));
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const message = (runId: string, invocationId: string, seq: number) => ({
  runId: runId as RunId,
  invocationId: invocationId as InvocationId,
  seq,
  at: '2026-11-25T10:00:00.000Z',
  type: 'assistant',
  subtype: null,
  toolName: null,
  payload: { type: 'assistant', message: { id: `m${seq}`, content: [{ type: 'text', text: `hello ${seq}` }] } },
});

describe('StoreFeed (a dashboard in its own process follows what orchestrators commit)', () => {
  it('turns new runs, their messages, their end and work-item transitions into bus events, each once', async () => {
    // Already there before the feed starts: the page snapshot has it, so it is not news.
    await store.upsertWorkItem({ id: 'P-1' as WorkItemId, kind: 'priority', number: '1', title: 'A', slug: 'a', state: 'planned', position: 0, at: '2026-11-25T10:00:00.000Z' });
    await store.transitionWorkItem('P-1' as WorkItemId, 'planned', 'specifying', 'old news', '2026-11-25T10:00:00.000Z');
    const bus = new EventBus();
    const seen: [OrchestratorEventName, string][] = [];
    bus.onAny((name, payload) => seen.push([name, 'seq' in payload ? `${payload.runId}#${payload.seq}` : 'runId' in payload ? String(payload.runId) : String((payload as { to?: string }).to)]));
    const notices: string[] = [];
    bus.on('orchestrator.notice', (notice) => notices.push(`${notice.level}: ${notice.message}`));
    const feed = new StoreFeed(store, bus, { intervalMs: 60_000 });
    await feed.start(() => {});
    try {
      await store.createRun({ id: 'r1' as RunId, agent: 'code-developer', taskKind: 't', prompt: 'p', cwd: dir, ownerPid: 1, host: 'h', createdAt: '2026-11-25T10:00:00.000Z' });
      await store.markRunRunning('r1' as RunId, { pid: 4242, startedAt: '2026-11-25T10:00:00.000Z' });
      await store.createInvocation({ id: 'i1' as InvocationId, runId: 'r1' as RunId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: '2026-11-25T10:00:00.000Z' });
      await store.appendMessages([message('r1', 'i1', 1), message('r1', 'i1', 2)]);
      await feed.poll();
      expect(seen).toEqual([
        ['run.queued', 'r1'],
        ['run.started', 'r1'],
        ['run.message', 'r1#1'],
        ['run.message', 'r1#2'],
      ]);
      seen.length = 0;
      await store.appendMessages([message('r1', 'i1', 3)]);
      await store.finishRun('r1' as RunId, { status: 'succeeded', endedAt: '2026-11-25T10:01:00.000Z' });
      await store.transitionWorkItem('P-1' as WorkItemId, 'specifying', 'spec_ready', 'spec written', '2026-11-25T10:01:00.000Z');
      await store.appendEvent({ at: '2026-11-25T10:01:01.000Z', kind: 'orchestrator.notice', message: 'daily budget reached', data: { level: 'warn' } });
      await feed.poll();
      await feed.poll();
      expect(seen).toEqual([
        ['run.message', 'r1#3'],
        ['run.ended', 'r1'],
        ['work_item.transitioned', 'spec_ready'],
        ['orchestrator.notice', 'undefined'],
      ]);
      expect(notices).toEqual(['warn: daily budget reached']);
    } finally {
      await feed.stop();
    }
  });
});

describe('StoreFeed: waits', () => {
  it('tells the bus when a wait begins, changes and ends, not what was there before it started', async () => {
    const at = '2026-11-25T10:00:00.000Z';
    for (const n of ['1', '2', '3']) await store.upsertWorkItem({ id: `P-${n}` as WorkItemId, kind: 'priority', number: n, title: n, slug: n, state: 'planned', position: Number(n), at });
    await store.updateWorkItem('P-1' as WorkItemId, { waitingFor: 'dependency', waitingDetail: 'PRIORITY 0', waitingSince: at, updatedAt: at });
    const bus = new EventBus();
    const seen: string[] = [];
    bus.on('work_item.waiting', (event) => seen.push(`${event.workItemId}: ${event.waitingFor ?? 'none'} ${event.waitingDetail ?? ''} ${event.waitingSince ?? ''}`.trim()));
    const feed = new StoreFeed(store, bus, { intervalMs: 60_000 });
    await feed.start(() => {});
    try {
      await feed.poll();
      expect(seen).toEqual([]);
      await store.updateWorkItem('P-2' as WorkItemId, { waitingFor: 'slot', waitingDetail: '4 of 4 sessions running', waitingSince: '2026-11-25T10:00:01.000Z', updatedAt: '2026-11-25T10:00:01.000Z' });
      await feed.poll();
      await feed.poll();
      expect(seen).toEqual(['P-2: slot 4 of 4 sessions running 2026-11-25T10:00:01.000Z']);
      seen.length = 0;
      await store.updateWorkItem('P-2' as WorkItemId, { waitingDetail: '3 of 3 sessions running', updatedAt: '2026-11-25T10:00:02.000Z' });
      await store.updateWorkItem('P-1' as WorkItemId, { waitingFor: null, waitingDetail: null, waitingSince: null, updatedAt: '2026-11-25T10:00:02.000Z' });
      await feed.poll();
      expect(seen.sort()).toEqual(['P-1: none', 'P-2: slot 3 of 3 sessions running 2026-11-25T10:00:01.000Z']);
    } finally {
      await feed.stop();
    }
  });
});
