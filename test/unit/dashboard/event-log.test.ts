import { describe, expect, it } from 'vitest';
import { EventLog } from '../../../src/dashboard/index.js';
import type { InvocationId, MessageRecord, RunId } from '../../../src/events/index.js';
import { registerSecret } from '../../../src/lib/redact.js';

const notice = (message: string) => ({ level: 'info' as const, message, at: '2026-11-25T10:00:00.000Z' });

describe('EventLog', () => {
  it('replays exactly the events after a Last-Event-ID, and nothing twice', () => {
    const log = new EventLog();
    const ids = ['a', 'b', 'c', 'd'].map((text) => log.idOf(log.append('orchestrator.notice', notice(text))));
    const replay = log.replayAfter(ids[1]!);
    expect(replay.kind).toBe('events');
    expect(replay.kind === 'events' && replay.events.map((event) => (JSON.parse(event.json) as { message: string }).message)).toEqual(['c', 'd']);
    const none = log.replayAfter(ids[3]!);
    expect(none.kind === 'events' && none.events).toEqual([]);
  });

  it('says gap when the id is from another server life, from the future, malformed, or no longer kept', () => {
    const log = new EventLog({ capacity: 4 });
    const first = log.idOf(log.append('orchestrator.notice', notice('first')));
    for (let i = 0; i < 10; i++) log.append('orchestrator.notice', notice(`n${i}`));
    expect(log.replayAfter(first).kind).toBe('gap');
    expect(log.replayAfter(`00000000.${log.lastSeq}`).kind).toBe('gap');
    expect(log.replayAfter(`${log.epoch}.${log.lastSeq + 5}`).kind).toBe('gap');
    expect(log.replayAfter('garbage').kind).toBe('gap');
    const recent = log.replayAfter(`${log.epoch}.${log.lastSeq - 2}`);
    expect(recent.kind === 'events' && recent.events.map((event) => event.seq)).toEqual([log.lastSeq - 1, log.lastSeq]);
  });

  it('redacts secrets in what it keeps, messages and their digests alike', () => {
    registerSecret('planted-secret-value-123');
    const log = new EventLog();
    const record: MessageRecord = {
      runId: 'r1' as RunId,
      invocationId: 'i1' as InvocationId,
      seq: 1,
      at: '2026-11-25T10:00:00.000Z',
      type: 'assistant',
      subtype: null,
      toolName: 'Bash',
      payload: { type: 'assistant', message: { id: 'm1', content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'echo planted-secret-value-123 sk-ant-api03-abcdefghijklmnop' } }] } },
    };
    const event = log.append('run.message', record);
    expect(event.json).not.toContain('planted-secret-value-123');
    expect(event.json).not.toContain('sk-ant-api03-abcdefghijklmnop');
    expect(event.digestJson).not.toContain('planted-secret-value-123');
    expect(JSON.parse(event.digestJson!)).toMatchObject({ toolName: 'Bash', summary: 'Bash echo [REDACTED] [REDACTED]' });
  });
});
