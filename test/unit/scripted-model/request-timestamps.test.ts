import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ScriptedModelServer } from '../../../src/scripted-model/index.js';

/** The receive and answer-sent stamps the steering benchmark measures from (epoch ms, sub-ms). */

const server = new ScriptedModelServer({
  scenarios: [{ name: 'stamped', match: { prompt: 'STAMP' }, turns: [{ delayMs: 30, text: 'first' }, { text: 'second' }] }],
});
beforeAll(async () => {
  await server.start();
});
afterAll(async () => {
  await server.close();
});

async function ask(prompt: string): Promise<string> {
  const response = await fetch(`${server.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-claude-code-session-id': 'stamp-session' },
    body: JSON.stringify({ model: 'claude-test', stream: true, messages: [{ role: 'user', content: prompt }] }),
  });
  return response.text();
}

describe('scripted model request stamps', () => {
  it('stamps when a request was received and when its answer was sent in full, after the turn delay', async () => {
    const before = performance.timeOrigin + performance.now();
    expect(await ask('STAMP one')).toContain('first');
    const [first] = server.requests;
    expect(first?.kind).toBe('turn');
    expect(first?.receivedAtMs).toBeGreaterThanOrEqual(before);
    await vi.waitFor(() => expect(first?.respondedAtMs).not.toBeNull());
    // The answer is sent after the turn's 30 ms delay, so it is stamped at least that much after the request.
    expect((first?.respondedAtMs ?? 0) - (first?.receivedAtMs ?? 0)).toBeGreaterThanOrEqual(29);

    expect(await ask('STAMP two')).toContain('second');
    const second = server.requests[1];
    await vi.waitFor(() => expect(second?.respondedAtMs).not.toBeNull());
    expect(second?.receivedAtMs).toBeGreaterThanOrEqual(first?.respondedAtMs ?? Number.POSITIVE_INFINITY);
  });

  it('stamps a request it cannot answer too (a 404 for an unknown path)', async () => {
    const response = await fetch(`${server.url}/v1/unknown`);
    expect(response.status).toBe(404);
    await response.text();
    const recorded = server.requests.find((request) => request.path === '/v1/unknown');
    expect(recorded?.kind).toBe('other');
    await vi.waitFor(() => expect(recorded?.respondedAtMs).toBeGreaterThanOrEqual(recorded?.receivedAtMs ?? Number.POSITIVE_INFINITY));
  });
});
