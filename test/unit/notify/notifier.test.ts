import { describe, expect, it } from 'vitest';
import { EventBus, type RunId, type WorkItemId } from '../../../src/events/index.js';
import { Notifier, type PostWebhook, type WebhookBody } from '../../../src/notify/index.js';
import { SqliteStore } from '../../../src/store/index.js';

const P1 = 'P-1' as WorkItemId;
const RUN = 'run-0001' as RunId;
const policy = { maxAttempts: 2, retryBaseDelayMs: 1, retryMaxDelayMs: 2, timeoutMs: 5_000, queueSize: 50 };
const at = '2026-12-06T10:00:00.000Z';

async function storeWithItem(): Promise<SqliteStore> {
  const store = SqliteStore.open(':memory:');
  await store.upsertWorkItem({ id: P1, kind: 'priority', number: '1', title: 'Slugify <helper> & co', slug: 'slugify', state: 'merging', position: 0, at });
  return store;
}

function recordingPost(status = 200): { post: PostWebhook; posts: { url: string; body: WebhookBody }[] } {
  const posts: { url: string; body: WebhookBody }[] = [];
  return {
    posts,
    post: async (url, body) => {
      posts.push({ url, body: JSON.parse(body) as WebhookBody });
      return { ok: status < 300, status };
    },
  };
}

describe('the notifier (a bus subscriber)', () => {
  it('notifies done, blocked, a budget reached and a question, each to the webhooks that take its kind, and nothing else', async () => {
    const store = await storeWithItem();
    const bus = new EventBus();
    const { post, posts } = recordingPost();
    const notifier = await new Notifier({
      bus,
      store,
      webhooks: [
        { name: 'all', url: 'http://all.test/hook', target: 'http://all.test/…', kinds: ['question', 'blocked', 'done', 'budget'] },
        { name: 'questions', url: 'http://questions.test/hook', target: 'http://questions.test/…', kinds: ['question'] },
      ],
      policy,
      warn: () => undefined,
      post,
    }).start();
    bus.emit('work_item.transitioned', { workItemId: P1, from: 'planned', to: 'specifying', reason: 'start', at });
    bus.emit('work_item.transitioned', { workItemId: P1, from: 'marking_done', to: 'done', reason: 'roadmap marked', at });
    bus.emit('work_item.transitioned', { workItemId: P1, from: 'implementing', to: 'blocked', reason: 'code-developer failed 3 time(s)', at: '2026-12-06T10:00:01.000Z' });
    bus.emit('budget.reached', { scope: 'day', limitUsd: 5, workItemId: null, runId: null, message: 'daily budget of $5 reached ($5.0100 spent today): no new sessions until tomorrow', at });
    bus.emit('question.asked', { questionId: 'q-7', runId: RUN, workItemId: P1, text: 'Should slugify keep accents?' });
    bus.emit('orchestrator.notice', { level: 'warn', message: 'not a notification', at });
    await notifier.close({ graceMs: 30_000 });
    await store.close();

    const to = (url: string) => posts.filter((entry) => entry.url === url).map((entry) => entry.body);
    expect(to('http://all.test/hook').map((body) => body.event)).toEqual(['done', 'blocked', 'budget', 'question']);
    expect(to('http://questions.test/hook').map((body) => body.event)).toEqual(['question']);
    const [done, blocked, budget, question] = to('http://all.test/hook');
    // Slack markup in an item title is escaped in `text`; the structured fields keep it as it is.
    expect(done?.text).toBe('Done: PRIORITY 1 "Slugify &lt;helper&gt; &amp; co" (P-1) is merged and marked complete');
    expect(done?.item).toEqual({ id: 'P-1', kind: 'priority', number: '1', title: 'Slugify <helper> & co', state: 'merging' });
    expect(blocked?.text).toBe('Blocked: PRIORITY 1 "Slugify &lt;helper&gt; &amp; co" (P-1) needs a person: code-developer failed 3 time(s)');
    expect(blocked?.detail).toBe('code-developer failed 3 time(s)');
    expect(budget?.text).toBe('Budget reached: daily budget of $5 reached ($5.0100 spent today): no new sessions until tomorrow');
    expect(question).toMatchObject({ run: RUN, question: { id: 'q-7', text: 'Should slugify keep accents?' } });
    expect(question?.text).toMatch(/^Question waiting \(PRIORITY 1 .* \(P-1\), run run-0001\): Should slugify keep accents\?\. Answer it on the dashboard or with: orchestrator answer q-7 "…"$/);
  });

  it('records a delivery given up as notify.failed with the redacted target, and logs it without the URL', async () => {
    const store = await storeWithItem();
    const bus = new EventBus();
    const { post, posts } = recordingPost(500);
    const warnings: string[] = [];
    const url = 'https://hooks.example.test/services/T000/B000/very-secret-path-token';
    const notifier = await new Notifier({ bus, store, webhooks: [{ name: 'chat', url, target: 'https://hooks.example.test/…', kinds: ['done'] }], policy, warn: (line) => warnings.push(line), post }).start();
    bus.emit('work_item.transitioned', { workItemId: P1, from: 'marking_done', to: 'done', reason: 'marked', at });
    await notifier.close({ graceMs: 30_000 });
    expect(posts).toHaveLength(2);
    const [failed] = (await store.listEvents({})).filter((event) => event.kind === 'notify.failed');
    expect(failed).toMatchObject({ workItemId: P1, data: { webhook: 'chat', target: 'https://hooks.example.test/…', notification: 'done', attempts: 2, error: 'HTTP 500' } });
    expect(warnings).toEqual(['notifications: webhook chat (https://hooks.example.test/…): the done notification of P-1 was not delivered after 2 attempt(s): HTTP 500']);
    expect(JSON.stringify(await store.listEvents({}))).not.toContain('very-secret-path-token');
    await store.close();
  });

  it('sends a question once when it is heard both on the bus and from the store (a worker recorded it)', async () => {
    const store = await storeWithItem();
    const bus = new EventBus();
    const { post, posts } = recordingPost();
    const subscribers: { onChange: (change: never) => void; onResync: () => void }[] = [];
    Object.assign(store, { changes: { subscribe: (subscriber: (typeof subscribers)[number]) => subscribers.push(subscriber) } });
    const notifier = await new Notifier({ bus, store, webhooks: [{ name: 'q', url: 'http://q.test/', target: 'http://q.test/…', kinds: ['question'] }], policy, followStore: true, warn: () => undefined, post }).start();
    const recorded = await store.appendEvent({ at, kind: 'question.asked', runId: RUN, workItemId: P1, message: 'Which port?', data: { questionId: 'q-1', text: 'Which port?' } });
    await store.appendEvent({ at, kind: 'question.asked', runId: RUN, workItemId: P1, message: 'Which host?', data: { questionId: 'q-2', text: 'Which host?' } });
    for (const subscriber of subscribers) subscriber.onChange({ kind: 'event', id: recorded.id, eventKind: 'question.asked', runId: RUN, workItemId: P1 } as never);
    bus.emit('question.asked', { questionId: 'q-1', runId: RUN, workItemId: P1, text: 'Which port?' });
    await notifier.close({ graceMs: 30_000 });
    expect(posts.map((entry) => entry.body.question?.id).sort()).toEqual(['q-1', 'q-2']);
    await store.close();
  });
});
