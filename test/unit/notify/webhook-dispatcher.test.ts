import { describe, expect, it } from 'vitest';
import { WebhookDispatcher, retryDelayMs, type DeliveryFailure, type PostWebhook } from '../../../src/notify/index.js';

const hook = { name: 'chat', url: 'https://hooks.example.test/services/T1/B2/secret-token-123456', target: 'https://hooks.example.test/…' };
const policy = { maxAttempts: 3, retryBaseDelayMs: 1, retryMaxDelayMs: 5, timeoutMs: 5_000, queueSize: 10 };

/** A post function whose answers the test scripts: each call waits for the test to settle it. */
function scriptedPost(answers: ('ok' | number | Error)[]): { post: PostWebhook; calls: { url: string; body: string }[] } {
  const calls: { url: string; body: string }[] = [];
  const post: PostWebhook = async (url, body) => {
    calls.push({ url, body });
    const answer = answers[calls.length - 1] ?? 'ok';
    if (answer instanceof Error) throw answer;
    return answer === 'ok' ? { ok: true, status: 204 } : { ok: false, status: answer };
  };
  return { post, calls };
}

describe('the webhook dispatcher', () => {
  it('retries a failing POST with backoff until it is taken, without reporting a failure', async () => {
    const { post, calls } = scriptedPost([500, new Error('fetch failed', { cause: { code: 'ECONNRESET' } }), 'ok']);
    const failures: DeliveryFailure[] = [];
    const dispatcher = new WebhookDispatcher({ policy, onFailed: (failure) => failures.push(failure), post });
    dispatcher.enqueue(hook, '{"text":"hello"}');
    await dispatcher.close({ graceMs: 30_000 });
    expect(calls.map((call) => call.body)).toEqual(['{"text":"hello"}', '{"text":"hello"}', '{"text":"hello"}']);
    expect(dispatcher.delivered).toBe(1);
    expect(failures).toEqual([]);
  });

  it('gives up after maxAttempts and reports the last error by name and target, never the URL', async () => {
    const { post, calls } = scriptedPost([500, 502, 503, 'ok']);
    const failures: DeliveryFailure[] = [];
    const dispatcher = new WebhookDispatcher({ policy, onFailed: (failure) => failures.push(failure), post });
    dispatcher.enqueue(hook, '{}', 'context');
    await dispatcher.close({ graceMs: 30_000 });
    expect(calls).toHaveLength(3);
    expect(failures).toEqual([{ webhook: 'chat', target: 'https://hooks.example.test/…', attempts: 3, error: 'HTTP 503', context: 'context' }]);
  });

  it('returns from enqueue at once while a receiver hangs, and aborts the hung POST at the end of the close grace', async () => {
    let started = 0;
    const post: PostWebhook = (_url, _body, signal) => {
      started += 1;
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    };
    const failures: DeliveryFailure[] = [];
    const dispatcher = new WebhookDispatcher({ policy: { ...policy, maxAttempts: 5 }, onFailed: (failure) => failures.push(failure), post });
    dispatcher.enqueue(hook, '{}');
    expect(dispatcher.pending).toBe(1);
    await dispatcher.close({ graceMs: 1 });
    expect(started).toBe(1);
    expect(failures).toEqual([expect.objectContaining({ attempts: 1, error: 'aborted: the orchestrator exited' })]);
    expect(dispatcher.pending).toBe(0);
  });

  it('keeps at most queueSize deliveries waiting, dropping the oldest and counting it', async () => {
    const release: (() => void)[] = [];
    const bodies: string[] = [];
    const post: PostWebhook = (_url, body) => {
      bodies.push(body);
      return new Promise((resolve) => release.push(() => resolve({ ok: true, status: 200 })));
    };
    const failures: DeliveryFailure[] = [];
    const dispatcher = new WebhookDispatcher({ policy: { ...policy, queueSize: 2 }, onFailed: (failure) => failures.push(failure), post });
    // Four POSTs go out at once (the sending slots); two wait; the seventh drops the oldest waiting one (#5).
    for (let n = 1; n <= 7; n++) dispatcher.enqueue(hook, `#${n}`);
    expect(dispatcher.dropped).toBe(1);
    expect(failures.map((failure) => failure.error)).toEqual(['dropped: too many notifications waiting (notifications.queueSize)']);
    const closing = dispatcher.close({ graceMs: 30_000 });
    while (bodies.length < 6 || release.length > 0) {
      release.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await closing;
    expect(bodies).toEqual(['#1', '#2', '#3', '#4', '#6', '#7']);
    expect(dispatcher.delivered).toBe(6);
  });

  it('doubles the delay per retry, capped, with ±20 % jitter', () => {
    const backoff = { retryBaseDelayMs: 1_000, retryMaxDelayMs: 5_000 };
    expect([1, 2, 3, 4].map((retry) => retryDelayMs(retry, backoff, () => 0.5))).toEqual([1_000, 2_000, 4_000, 5_000]);
    expect(retryDelayMs(1, backoff, () => 0)).toBe(800);
    expect(retryDelayMs(1, backoff, () => 1)).toBe(1_200);
  });
});
