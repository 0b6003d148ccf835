import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunId, WorkItemId } from '../../../src/events/index.js';
import { MESSAGE_DELIVERED_EVENT, readInbox, sendAgentMessage } from '../../../src/orchestrator/index.js';
import { SqliteStore } from '../../../src/store/index.js';

const ITEM = 'P-1' as WorkItemId;
const ME = 'run-developer-2' as RunId;
const EARLIER = 'run-developer-1' as RunId;
const REVIEWER = 'run-reviewer-1' as RunId;
const me = { runId: ME, role: 'code-developer', workItemId: ITEM };

let dir: string;
let store: SqliteStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inbox-reading-'));
  store = SqliteStore.open(join(dir, 'o.db'));
  await store.upsertWorkItem({ id: ITEM, kind: 'priority', number: '1', title: 'Widgets', slug: 'widgets', state: 'implementing', position: 1, at: new Date().toISOString() });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const add = (body: string, recipient: Parameters<SqliteStore['addAgentMessage']>[0]['recipient'], senderRunId: RunId = REVIEWER) =>
  store.addAgentMessage({ at: new Date().toISOString(), sender: { kind: 'agent', runId: senderRunId, role: 'code-reviewer', label: 'code-reviewer' }, recipient, workItemId: ITEM, body });

describe('readInbox (read_messages)', () => {
  it('claims what is waiting for the session, marks it read, and leaves out its own messages, other roles’ and those another run got', async () => {
    const waiting = await add('WAITING', { kind: 'role', role: 'code-developer', workItemId: ITEM });
    const earlierGot = await add('EARLIER-GOT', { kind: 'role', role: 'code-developer', workItemId: ITEM });
    await store.markMessagesDelivered([earlierGot.id], { runId: EARLIER, at: new Date().toISOString() });
    await add('FOR-THE-ARCHITECT', { kind: 'role', role: 'architect', workItemId: ITEM });
    await add('MY-OWN', { kind: 'work_item', workItemId: ITEM }, ME);
    const toMyRun = await add('TO-MY-RUN', { kind: 'run', runId: ME });

    const first = await readInbox(store, me, { unreadOnly: true });
    expect(first.messages.map((entry) => [entry.message.body, entry.wasUnread])).toEqual([
      ['WAITING', true],
      ['TO-MY-RUN', true],
    ]);
    // Claimed for this run, so live delivery does not write them into the session again; read; recorded on the run.
    for (const id of [waiting.id, toMyRun.id]) expect(await store.getAgentMessage(id)).toMatchObject({ deliveredToRun: ME, readAt: expect.any(String) });
    expect((await store.listEvents({ runId: ME, limit: 100 })).filter((event) => event.kind === MESSAGE_DELIVERED_EVENT).map((event) => event.data)).toEqual([
      { messageId: waiting.id, how: 'read_messages' },
      { messageId: toMyRun.id, how: 'read_messages' },
    ]);

    expect((await readInbox(store, me, { unreadOnly: true })).messages).toEqual([]);
    const again = await readInbox(store, me, { unreadOnly: false });
    expect(again.messages.map((entry) => [entry.message.body, entry.wasUnread])).toEqual([
      ['WAITING', false],
      ['TO-MY-RUN', false],
    ]);
    expect(await store.getAgentMessage(earlierGot.id)).toMatchObject({ deliveredToRun: EARLIER, readAt: null });
  });
});

describe('sendAgentMessage (send_message)', () => {
  it('counts the run’s cap across concurrent sends and refuses messages to the sender itself', async () => {
    const caps = { perRun: 2, perItem: 100 };
    const outcomes = await Promise.all(['a', 'b', 'c'].map((text) => sendAgentMessage(store, me, { kind: 'role', role: 'code-reviewer' }, text, caps)));
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['sent', 'sent', 'cap_reached']);
    const self = await sendAgentMessage(store, me, { kind: 'role', role: 'code-developer' }, 'hello me', { perRun: 10, perItem: 100 });
    expect(self).toEqual({ kind: 'refused', refusal: { problem: 'you are the code-developer of P-1: the message would come back to you', hint: expect.stringContaining('another role') } });
    const ownItem = await sendAgentMessage(store, me, { kind: 'work_item', workItem: 'p-1' }, 'hello item', { perRun: 10, perItem: 100 });
    expect(ownItem.kind === 'refused' && ownItem.refusal.problem).toBe('P-1 is your own work item: a message to it would come back to you');
    const empty = await sendAgentMessage(store, me, { kind: 'human' }, '   ', { perRun: 10, perItem: 100 });
    expect(empty.kind === 'refused' && empty.refusal.problem).toBe('the message is empty');
    expect((await store.listAgentMessages({ limit: 100 })).map((message) => message.body)).toEqual(['a', 'b']);
  });
});
