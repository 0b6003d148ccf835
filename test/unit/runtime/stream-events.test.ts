import { describe, expect, it } from 'vitest';
import { StreamParseError, parseStreamLine, subtypeOf, toolNameOf, type StreamMessage } from '../../../src/runtime/stream-events.js';
import { decideOutcome } from '../../../src/runtime/claude-session.js';
import { StoppedError, SessionTimeoutError } from '../../../src/lib/errors.js';
import { streamFixture } from '../../helpers/fixtures.js';

const parseAll = (name: string): StreamMessage[] => streamFixture(name).map(parseStreamLine);
const resultOf = (messages: StreamMessage[]) => {
  const result = messages.find((message) => message.kind === 'result');
  if (!result || result.kind !== 'result') throw new Error('fixture has no result');
  return result;
};

describe('stream parser on streams recorded from the real CLI', () => {
  it('reads a multi-tool session: init, tool uses in order, tool results, and the final usage and cost', () => {
    const messages = parseAll('multi-tool-success');
    const init = messages.find((message) => message.kind === 'system_init');
    expect(init).toMatchObject({ kind: 'system_init', cwd: '/WORKDIR', cliVersion: '2.1.197', tools: ['Bash', 'Edit', 'Read', 'Write'] });
    expect(messages.map(toolNameOf).filter(Boolean)).toEqual(['Write', 'Bash', 'Read', 'Edit']);
    const results = messages.filter((message) => message.kind === 'user');
    expect(results).toHaveLength(4);
    const result = resultOf(messages);
    expect(result.subtype).toBe('success');
    expect(result.isError).toBe(false);
    expect(result.numTurns).toBe(5);
    expect(result.result).toBe('COMPLETE: notes.txt written and fixed');
    // The scripted turns declared 1000+1100+1200+1300+1400 input and 50+30+20+40+25 output tokens.
    expect(result.usage).toEqual({ input_tokens: 6000, output_tokens: 165, cache_creation_input_tokens: 0, cache_read_input_tokens: 500 });
    expect(result.totalCostUsd).toBeGreaterThan(0);
    expect(result.sessionId).toBe(init?.kind === 'system_init' ? init.sessionId : 'missing');
  });

  it('sees the PreToolUse hook callbacks as control requests, one per tool call', () => {
    const controls = parseAll('multi-tool-success').filter((message) => message.kind === 'control_request');
    expect(controls).toHaveLength(4);
    expect(controls.every((message) => message.kind === 'control_request' && message.subtype === 'hook_callback')).toBe(true);
  });

  it('reads an API error the CLI gave up on as an error result with the HTTP status', () => {
    const messages = parseAll('api-error-529');
    expect(messages.filter((message) => message.kind === 'system' && message.subtype === 'api_retry')).toHaveLength(1);
    const assistant = messages.find((message) => message.kind === 'assistant');
    expect(assistant?.kind === 'assistant' && assistant.error).toBe('server_error');
    const result = resultOf(messages);
    expect(result).toMatchObject({ subtype: 'success', isError: true, apiErrorStatus: 529 });
  });

  it('reads an interrupted session as error_during_execution', () => {
    const result = resultOf(parseAll('interrupted'));
    expect(result.subtype).toBe('error_during_execution');
    expect(result.isError).toBe(true);
  });

  it('rejects a line that is not a JSON object and keeps unknown types', () => {
    expect(() => parseStreamLine('not json')).toThrow(StreamParseError);
    expect(() => parseStreamLine('[1,2]')).toThrow(StreamParseError);
    const unknown = parseStreamLine('{"type":"brand_new_thing","x":1}');
    expect(unknown).toMatchObject({ kind: 'unknown', type: 'brand_new_thing' });
    expect(subtypeOf(parseStreamLine('{"type":"system","subtype":"compact_boundary"}'))).toBe('compact_boundary');
  });
});

describe('deciding a session outcome', () => {
  const base = { exitCode: 0, signal: null, assistantError: null, lastAssistantText: null, stderrTail: [] as string[] };

  it('is a success only with a success result and exit code 0', () => {
    const result = resultOf(parseAll('multi-tool-success'));
    expect(decideOutcome({ ...base, result }, null)).toEqual({ outcome: 'succeeded', errorKind: null, errorMessage: null });
    expect(decideOutcome({ ...base, result, exitCode: 1 }, null).outcome).toBe('failed');
  });

  it('calls an is_error result an API error with its status', () => {
    const messages = parseAll('api-error-400');
    const outcome = decideOutcome({ ...base, exitCode: 1, assistantError: 'unknown', result: resultOf(messages) }, null);
    expect(outcome.outcome).toBe('failed');
    expect(outcome.errorKind).toBe('api_error');
    expect(outcome.errorMessage).toContain('HTTP 400');
    expect(outcome.errorMessage).toContain('bad thing');
  });

  it('calls a missing result a failure, with the exit and the stderr tail', () => {
    const outcome = decideOutcome({ ...base, exitCode: 143, result: null, stderrTail: ['boom'] }, null);
    expect(outcome).toMatchObject({ outcome: 'failed', errorKind: 'missing_result' });
    expect(outcome.errorMessage).toContain('code 143');
    expect(outcome.errorMessage).toContain('boom');
  });

  it('lets the abort reason decide: timeout → timed_out, stop → stopped', () => {
    const result = resultOf(parseAll('interrupted'));
    expect(decideOutcome({ ...base, result }, new SessionTimeoutError('inactivity', 5000))).toMatchObject({ outcome: 'timed_out', errorKind: 'inactivity' });
    expect(decideOutcome({ ...base, result }, new SessionTimeoutError('wall_clock', 5000))).toMatchObject({ outcome: 'timed_out', errorKind: 'wall_clock' });
    expect(decideOutcome({ ...base, result }, new StoppedError('by test'))).toMatchObject({ outcome: 'stopped', errorKind: 'stop_requested', errorMessage: 'by test' });
  });
});
