import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunId, WorkItemId } from '../../../src/events/index.js';
import { PostgresStore, SqliteStore, parseStoreChange, type StoreChange, type Store } from '../../../src/store/index.js';

const PG_URL = process.env.ORCHESTRATOR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function pgStatement(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

const RUN = 'run-dev-1' as RunId;
const OTHER_RUN = 'run-other' as RunId;
const ITEM = 'P-3' as WorkItemId;
const at = (second: number) => `2026-12-06T10:00:${String(second).padStart(2, '0')}.000Z`;

type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

function agentMessageBehaviour(name: string, makeStore: MakeStore): void {
  describe(`agent messages and questions: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it('keeps a message with its sender and recipient, undelivered and unread', async () => {
      const message = await store.addAgentMessage({
        at: at(1),
        sender: { kind: 'agent', runId: OTHER_RUN, role: 'code-reviewer', label: 'code-reviewer' },
        recipient: { kind: 'role', role: 'code-developer', workItemId: ITEM },
        body: 'Why does parse() swallow the error?',
      });
      expect(message).toMatchObject({
        createdAt: at(1),
        senderKind: 'agent',
        senderRunId: OTHER_RUN,
        senderRole: 'code-reviewer',
        recipientKind: 'role',
        recipientRole: 'code-developer',
        recipientWorkItemId: ITEM,
        recipientRunId: null,
        workItemId: ITEM,
        body: 'Why does parse() swallow the error?',
        deliveredAt: null,
        deliveredToRun: null,
        readAt: null,
      });
      expect(message.id).toBeGreaterThan(0);
      expect(await store.getAgentMessage(message.id)).toEqual(message);
      expect(await store.getAgentMessage(message.id + 1000)).toBeNull();
    });

    it('an inbox holds what is sent to the run, to its role on its item, and to its item; unread first', async () => {
      const toRun = await store.addAgentMessage({ at: at(1), sender: { kind: 'human', label: 'cli' }, recipient: { kind: 'run', runId: RUN }, workItemId: ITEM, body: 'to the run' });
      const toRole = await store.addAgentMessage({ at: at(2), sender: { kind: 'agent', runId: OTHER_RUN, role: 'code-reviewer' }, recipient: { kind: 'role', role: 'code-developer', workItemId: ITEM }, body: 'to the role' });
      const toItem = await store.addAgentMessage({ at: at(3), sender: { kind: 'orchestrator' }, recipient: { kind: 'work_item', workItemId: ITEM }, body: 'to the item' });
      // Not for this session: another run, another role on the item, the same role on another item, a person.
      await store.addAgentMessage({ at: at(4), sender: { kind: 'human' }, recipient: { kind: 'run', runId: OTHER_RUN }, body: 'other run' });
      await store.addAgentMessage({ at: at(5), sender: { kind: 'human' }, recipient: { kind: 'role', role: 'code-reviewer', workItemId: ITEM }, body: 'other role' });
      await store.addAgentMessage({ at: at(6), sender: { kind: 'human' }, recipient: { kind: 'role', role: 'code-developer', workItemId: 'P-9' as WorkItemId }, body: 'other item' });
      await store.addAgentMessage({ at: at(7), sender: { kind: 'agent', runId: RUN, role: 'code-developer' }, recipient: { kind: 'human' }, workItemId: ITEM, body: 'to a person' });

      const owner = { runId: RUN, role: 'code-developer', workItemId: ITEM };
      expect((await store.inboxFor(owner)).map((m) => m.body)).toEqual(['to the run', 'to the role', 'to the item']);
      expect(await store.markMessagesRead([toRun.id], at(10))).toBe(1);
      expect(await store.markMessagesRead([toRun.id], at(11))).toBe(0);
      expect((await store.inboxFor(owner)).map((m) => m.body)).toEqual(['to the role', 'to the item', 'to the run']);
      expect((await store.getAgentMessage(toRun.id))?.readAt).toBe(at(10));
      // A session with no item or role gets only what is sent to its run.
      expect((await store.inboxFor({ runId: RUN })).map((m) => m.id)).toEqual([toRun.id]);
      expect((await store.inboxFor({ ...owner, undeliveredOnly: true })).map((m) => m.id)).toEqual([toRole.id, toItem.id, toRun.id]);
    });

    it('a message is delivered to one run only: a second claim gets nothing, a release makes it claimable again', async () => {
      const a = await store.addAgentMessage({ at: at(1), sender: { kind: 'human' }, recipient: { kind: 'work_item', workItemId: ITEM }, body: 'a' });
      const b = await store.addAgentMessage({ at: at(2), sender: { kind: 'human' }, recipient: { kind: 'work_item', workItemId: ITEM }, body: 'b' });
      expect(await store.markMessagesDelivered([a.id, b.id], { runId: RUN, at: at(3) })).toEqual([a.id, b.id]);
      expect(await store.markMessagesDelivered([a.id, b.id], { runId: OTHER_RUN, at: at(4) })).toEqual([]);
      expect(await store.getAgentMessage(a.id)).toMatchObject({ deliveredAt: at(3), deliveredToRun: RUN });
      expect(await store.inboxFor({ runId: OTHER_RUN, workItemId: ITEM, undeliveredOnly: true })).toEqual([]);

      await store.releaseMessageDelivery([b.id], OTHER_RUN); // not OTHER_RUN's claim: nothing changes
      expect((await store.getAgentMessage(b.id))?.deliveredToRun).toBe(RUN);
      await store.releaseMessageDelivery([b.id], RUN);
      expect(await store.getAgentMessage(b.id)).toMatchObject({ deliveredAt: null, deliveredToRun: null });
      expect(await store.markMessagesDelivered([b.id], { runId: OTHER_RUN, at: at(5) })).toEqual([b.id]);
      expect(await store.markMessagesDelivered([], { runId: RUN, at: at(6) })).toEqual([]);
    });

    it('lists messages by run, item, recipient and delivery; the newest `limit`, oldest first', async () => {
      const first = await store.addAgentMessage({ at: at(1), sender: { kind: 'human', label: 'dashboard' }, recipient: { kind: 'run', runId: RUN }, workItemId: ITEM, body: 'one' });
      const second = await store.addAgentMessage({ at: at(2), sender: { kind: 'agent', runId: RUN, role: 'code-developer' }, recipient: { kind: 'human' }, workItemId: ITEM, body: 'two' });
      const third = await store.addAgentMessage({ at: at(3), sender: { kind: 'human' }, recipient: { kind: 'work_item', workItemId: 'P-4' as WorkItemId }, body: 'three' });
      await store.markMessagesDelivered([third.id], { runId: RUN, at: at(4) });
      const ids = (messages: { id: number }[]) => messages.map((m) => m.id);
      expect(ids(await store.listAgentMessages())).toEqual([first.id, second.id, third.id]);
      expect(ids(await store.listAgentMessages({ runId: RUN }))).toEqual([first.id, second.id, third.id]);
      expect(ids(await store.listAgentMessages({ runId: OTHER_RUN }))).toEqual([]);
      expect(ids(await store.listAgentMessages({ workItemId: ITEM }))).toEqual([first.id, second.id]);
      expect(ids(await store.listAgentMessages({ workItemId: 'P-4' as WorkItemId }))).toEqual([third.id]);
      expect(ids(await store.listAgentMessages({ recipientKind: 'human' }))).toEqual([second.id]);
      expect(ids(await store.listAgentMessages({ undelivered: true }))).toEqual([first.id, second.id]);
      expect(ids(await store.listAgentMessages({ limit: 2 }))).toEqual([second.id, third.id]);
      expect(ids(await store.listAgentMessages({ afterId: first.id }))).toEqual([second.id, third.id]);
    });

    it('a question is open with its choices and a `question.asked` event; the first answer wins', async () => {
      const before = await store.lastEventId();
      const question = await store.addQuestion({ runId: RUN, workItemId: ITEM, role: 'code-developer', text: 'Keep the old API?', choices: ['yes', 'no'], at: at(1), deadlineAt: at(59) });
      expect(question).toMatchObject({ runId: RUN, workItemId: ITEM, role: 'code-developer', text: 'Keep the old API?', choices: ['yes', 'no'], state: 'open', deadlineAt: at(59), answer: null });
      const asked = await store.listEvents({ afterId: before });
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ kind: 'question.asked', runId: RUN, workItemId: ITEM, data: { questionId: question.id, runId: RUN, workItemId: ITEM, text: 'Keep the old API?' } });

      expect((await store.listQuestions({ state: 'open' })).map((q) => q.id)).toEqual([question.id]);
      expect(await store.answerQuestion(question.id, { answer: 'yes', answeredBy: 'dashboard', at: at(5) })).toBe(true);
      expect(await store.answerQuestion(question.id, { answer: 'no', answeredBy: 'cli', at: at(6) })).toBe(false);
      expect(await store.expireQuestion(question.id, at(7))).toBe(false);
      expect(await store.getQuestion(question.id)).toMatchObject({ state: 'answered', answer: 'yes', answeredBy: 'dashboard', answeredAt: at(5) });
      expect(await store.listQuestions({ state: 'open' })).toEqual([]);
      const answered = (await store.listEvents({ afterId: before })).filter((event) => event.kind === 'question.answered');
      expect(answered).toHaveLength(1);
      expect(answered[0]?.data).toMatchObject({ questionId: question.id, answer: 'yes', answeredBy: 'dashboard' });
      expect(await store.answerQuestion(question.id + 100, { answer: 'x', answeredBy: 'cli', at: at(8) })).toBe(false);
      expect(await store.getQuestion(question.id + 100)).toBeNull();
    });

    it('an open question can expire or be cancelled, once; then no answer lands', async () => {
      const expiring = await store.addQuestion({ runId: RUN, text: 'Which port?', at: at(1) });
      const cancelled = await store.addQuestion({ runId: OTHER_RUN, text: 'Rename it?', at: at(2) });
      expect(expiring.choices).toBeNull();
      expect(await store.expireQuestion(expiring.id, at(3))).toBe(true);
      expect(await store.expireQuestion(expiring.id, at(4))).toBe(false);
      expect(await store.cancelQuestion(cancelled.id, at(5))).toBe(true);
      expect(await store.answerQuestion(cancelled.id, { answer: 'yes', answeredBy: 'cli', at: at(6) })).toBe(false);
      expect((await store.listQuestions({ state: 'expired' })).map((q) => q.id)).toEqual([expiring.id]);
      expect((await store.listQuestions({ runId: OTHER_RUN })).map((q) => q.state)).toEqual(['cancelled']);
      const kinds = (await store.listEvents()).map((event) => event.kind);
      expect(kinds).toEqual(['question.asked', 'question.asked', 'question.expired', 'question.cancelled']);
    });
  });
}

agentMessageBehaviour('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'agent-messages-'));
  return { store: SqliteStore.open(join(dir, 'o.db')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

const freshSchema = () => `orch_msgs_${randomBytes(6).toString('hex')}`;

agentMessageBehaviour('postgres', async () => {
  const schema = freshSchema();
  return { store: await PostgresStore.open(PG_URL, { schema }), cleanup: () => pgStatement(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
});

describe('agent messages on PostgreSQL: announced to other processes', () => {
  it('a new message and a question asked and answered reach a listener of the schema', async () => {
    const schema = freshSchema();
    const writer = await PostgresStore.open(PG_URL, { schema });
    const listener = await PostgresStore.open(PG_URL, { schema });
    const subscription = new AbortController();
    try {
      const heard: StoreChange[] = [];
      const waiters: { match: (change: StoreChange) => boolean; resolve: () => void }[] = [];
      const waitFor = (match: (change: StoreChange) => boolean) =>
        new Promise<void>((resolve) => {
          if (heard.some(match)) resolve();
          else waiters.push({ match, resolve });
        });
      await new Promise<void>((ready) => {
        listener.changes.subscribe(
          {
            onChange: (change) => {
              heard.push(change);
              for (const waiter of waiters.filter((w) => w.match(change))) waiter.resolve();
            },
            onResync: ready,
          },
          { signal: subscription.signal },
        );
      });
      const message = await writer.addAgentMessage({ at: at(1), sender: { kind: 'human', label: 'cli' }, recipient: { kind: 'run', runId: RUN }, workItemId: ITEM, body: 'secret body stays out of the payload' });
      await waitFor((change) => change.kind === 'agent_message' && change.id === message.id);
      expect(heard.find((change) => change.kind === 'agent_message')).toEqual({ kind: 'agent_message', id: message.id, recipientKind: 'run', runId: RUN, workItemId: ITEM });

      const question = await writer.addQuestion({ runId: RUN, workItemId: ITEM, text: 'Proceed?', at: at(2) });
      await waitFor((change) => change.kind === 'question' && change.id === question.id && change.state === 'open');
      await waitFor((change) => change.kind === 'event' && change.eventKind === 'question.asked');
      await writer.answerQuestion(question.id, { answer: 'yes', answeredBy: 'cli', at: at(3) });
      await waitFor((change) => change.kind === 'question' && change.id === question.id && change.state === 'answered');
      await waitFor((change) => change.kind === 'event' && change.eventKind === 'question.answered');
    } finally {
      subscription.abort();
      await Promise.all([writer.close(), listener.close()]);
      await pgStatement(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  it('reads the payloads of migration 8', () => {
    expect(parseStoreChange('{"k":"agent_message","id":4,"to":"role","run":null,"item":"P-3"}')).toEqual({ kind: 'agent_message', id: 4, recipientKind: 'role', runId: null, workItemId: 'P-3' });
    expect(parseStoreChange('{"k":"question","id":2,"state":"open","run":"r1"}')).toEqual({ kind: 'question', id: 2, state: 'open', runId: 'r1' });
    expect(parseStoreChange('{"k":"agent_message","to":"run"}')).toBeNull();
  });
});
