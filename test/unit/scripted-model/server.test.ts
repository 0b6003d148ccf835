import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ScriptedModelServer, parseScenarios } from '../../../src/scripted-model/index.js';
import { ConfigError } from '../../../src/lib/errors.js';

const server = new ScriptedModelServer();
beforeAll(async () => {
  await server.start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

function post(sessionId: string, prompt: string, options: { stream?: boolean; system?: string } = {}) {
  return fetch(`${server.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-claude-code-session-id': sessionId },
    body: JSON.stringify({
      model: 'claude-test',
      stream: options.stream ?? true,
      system: [{ type: 'text', text: options.system ?? 'You are Claude Code.\nPrimary working directory: /work/repo' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
    }),
  });
}

/** Parses an SSE body into its data objects. */
async function events(response: Response): Promise<{ type: string; [key: string]: unknown }[]> {
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as { type: string });
}

describe('scripted model server', () => {
  it('streams a tool_use turn with placeholders filled from the request and the match', async () => {
    server.addScenarios([{ name: 'dev', match: { prompt: 'PRIORITY (?<n>\\d+)' }, turns: [{ text: 'ok', tools: [{ name: 'Write', input: { file_path: '{{cwd}}/SPEC-{{n}}.md', content: 'x' } }], usage: { input_tokens: 7, output_tokens: 3 } }] }]);
    const response = await post('s1', 'Implement PRIORITY 12 now');
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const data = await events(response);
    expect(data.map((event) => event.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const toolDelta = data[5] as unknown as { delta: { partial_json: string } };
    expect(JSON.parse(toolDelta.delta.partial_json)).toEqual({ file_path: '/work/repo/SPEC-12.md', content: 'x' });
    expect((data[7] as unknown as { delta: { stop_reason: string } }).delta.stop_reason).toBe('tool_use');
    expect(server.requests[0]).toMatchObject({ sessionId: 's1', scenario: 'dev', turnIndex: 0, kind: 'turn' });
  });

  it('plays turns in order per session, errors included, and fails loudly when a scenario runs out', async () => {
    server.addScenarios([{ name: 'flaky', turns: [{ error: { status: 529, type: 'overloaded_error', message: 'busy' } }, { text: 'recovered' }] }]);
    const first = await post('s2', 'hi');
    expect(first.status).toBe(529);
    expect(await first.json()).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'busy' } });
    const second = await post('s2', 'hi');
    expect((await events(second)).find((event) => event.type === 'content_block_delta')).toMatchObject({ delta: { text: 'recovered' } });
    const third = await post('s2', 'hi');
    expect(third.status).toBe(400);
    expect(JSON.stringify(await third.json())).toContain('has no turn 3');
  });

  it('answers a session no scenario matches with 400, and a non-streaming request with JSON', async () => {
    server.addScenarios([{ name: 'only-b', match: { prompt: '^b' }, maxSessions: 1, turns: [{ text: 'B' }] }]);
    expect((await post('s3', 'a prompt')).status).toBe(400);
    const json = (await (await post('s4', 'b prompt', { stream: false })).json()) as { content: unknown[]; stop_reason: string };
    expect(json.content).toEqual([{ type: 'text', text: 'B' }]);
    expect(json.stop_reason).toBe('end_turn');
    expect((await post('s5', 'b again')).status).toBe(400); // maxSessions reached
  });

  it('validates scenario files with the path of the problem', () => {
    expect(() => parseScenarios({ scenarios: [{ name: 'x', turns: [{ error: { status: 200 } }] }] }, 'f.json')).toThrow(ConfigError);
    expect(() => parseScenarios({ scenarios: [{ name: 'x', turns: [] }] }, 'f.json')).toThrow(/f\.json: invalid scenario at scenarios\.0\.turns/);
  });
});
