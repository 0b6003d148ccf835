import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ScriptedModelServer, estimateInputTokens, parseScenarios, type MessagesRequestBody } from '../../../src/scripted-model/index.js';
import { ConfigError } from '../../../src/lib/errors.js';

const server = new ScriptedModelServer();
beforeAll(async () => {
  await server.start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

function requestBody(prompt: string, options: { stream?: boolean; system?: string } = {}): MessagesRequestBody {
  return {
    model: 'claude-test',
    stream: options.stream ?? true,
    system: [{ type: 'text', text: options.system ?? 'You are Claude Code.\nPrimary working directory: /work/repo' }],
    tools: [{ name: 'Edit' }, { name: 'Read' }],
    messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
  };
}

function post(sessionId: string, prompt: string, options: { stream?: boolean; system?: string } = {}) {
  return fetch(`${server.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-claude-code-session-id': sessionId },
    body: JSON.stringify(requestBody(prompt, options)),
  });
}

/** The tool_use inputs of a streamed answer, in order. */
function toolInputs(data: { type: string; [key: string]: unknown }[]): unknown[] {
  return data
    .filter((event) => event.type === 'content_block_delta' && (event.delta as { type: string }).type === 'input_json_delta')
    .map((event) => JSON.parse((event.delta as { partial_json: string }).partial_json) as unknown);
}

/** The input_tokens a streamed answer reports (message_start). */
function reportedInputTokens(data: { type: string; [key: string]: unknown }[]): number | undefined {
  const start = data.find((event) => event.type === 'message_start') as { message: { usage: { input_tokens: number } } } | undefined;
  return start?.message.usage.input_tokens;
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

  it('expands a tool with `each` into one tool_use per match of the task prompt, with its named groups', async () => {
    // The scenario's own placeholder n0 (from match) stays available beside each match's n and title.
    const pm = {
      name: 'pm',
      match: { prompt: '^ROLE: project-manager\\nPRIORITY (?<n0>\\d+)' },
      turns: [
        {
          tools: [
            { name: 'Read', input: { file_path: '{{cwd}}/ROADMAP.md' } },
            { name: 'Edit', each: '^PRIORITY (?<n>\\d+): (?<title>[^\\n]+)$', input: { file_path: '{{cwd}}/ROADMAP.md', old_string: '### PRIORITY {{n}}: {{title}} (first: {{n0}})' } },
          ],
        },
      ],
    };
    server.addScenarios([pm]);
    const batched = await events(await post('e1', 'ROLE: project-manager\nPRIORITY 3: Title three\nPRIORITY 5: Title five\n\nMark them. Not PRIORITY 9: this line does not start with it.'));
    expect(toolInputs(batched)).toEqual([
      { file_path: '/work/repo/ROADMAP.md' },
      { file_path: '/work/repo/ROADMAP.md', old_string: '### PRIORITY 3: Title three (first: 3)' },
      { file_path: '/work/repo/ROADMAP.md', old_string: '### PRIORITY 5: Title five (first: 3)' },
    ]);
    const single = await events(await post('e2', 'ROLE: project-manager\nPRIORITY 7: Seven\n\nMark it.'));
    expect(toolInputs(single)).toEqual([{ file_path: '/work/repo/ROADMAP.md' }, { file_path: '/work/repo/ROADMAP.md', old_string: '### PRIORITY 7: Seven (first: 7)' }]);
    // Zero matches: the entry adds no tool call (the Read still runs).
    server.reset([{ name: 'none', turns: [{ tools: [{ name: 'Read', input: { file_path: 'x' } }, { name: 'Edit', each: '^PRIORITY (?<n>\\d+)', input: { n: '{{n}}' } }] }] }]);
    expect(toolInputs(await events(await post('e3', 'no priorities here')))).toEqual([{ file_path: 'x' }]);
  });

  it('refuses an `each` that is not a valid regex, naming the scenario and where it is', () => {
    const bad = { scenarios: [{ name: 'pm-batch', turns: [{ text: 'ok' }, { tools: [{ name: 'Edit', input: {}, each: '^PRIORITY (?<n>\\d+' }] }] }] };
    expect(() => parseScenarios(bad, 'f.json')).toThrow(ConfigError);
    expect(() => parseScenarios(bad, 'f.json')).toThrow(/f\.json: invalid scenario at scenarios\.0\.turns\.1\.tools\.0\.each: scenario "pm-batch": `each` is not a valid regex/);
  });

  it('reports input tokens estimated from the request when the scenario asks and the turn gives none', async () => {
    server.addScenarios([
      { name: 'measured', match: { prompt: '^measured' }, estimateInputTokens: true, turns: [{ text: 'a' }, { text: 'b', usage: { input_tokens: 42 } }] },
      { name: 'scripted', match: { prompt: '^scripted' }, turns: [{ text: 'c' }] },
    ]);
    const prompt = `measured ${'x'.repeat(4_000)}`;
    const expected = estimateInputTokens(requestBody(prompt));
    // characters / 4 of system + tools + messages as sent: the 4,000-character prompt alone is 1,000 tokens.
    expect(expected).toBe(Math.ceil((JSON.stringify(requestBody(prompt).system).length + JSON.stringify(requestBody(prompt).tools).length + JSON.stringify(requestBody(prompt).messages).length) / 4));
    expect(expected).toBeGreaterThan(1_000);
    expect(reportedInputTokens(await events(await post('m1', prompt)))).toBe(expected);
    expect(reportedInputTokens(await events(await post('m1', prompt)))).toBe(42); // the turn's own figure wins
    expect(reportedInputTokens(await events(await post('m2', 'scripted')))).toBe(100); // not asked: the fixed default
    const json = (await (await post('m3', 'measured short', { stream: false })).json()) as { usage: { input_tokens: number } };
    expect(json.usage.input_tokens).toBe(estimateInputTokens(requestBody('measured short', { stream: false })));
  });
});
