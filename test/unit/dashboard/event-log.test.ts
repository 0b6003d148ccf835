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
    expect(replay.kind === 'events' && replay.events.map((event) => (JSON.parse(event.json!) as { message: string }).message)).toEqual(['c', 'd']);
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

  it('keeps full message bodies only for the newest ones; a run stream that needs an older one reloads', () => {
    const log = new EventLog({ maxMessageBodies: 3 });
    const message = (seq: number): MessageRecord => ({
      runId: 'r1' as RunId,
      invocationId: 'i1' as InvocationId,
      seq,
      at: '2026-11-25T10:00:00.000Z',
      type: 'assistant',
      subtype: null,
      toolName: null,
      payload: { type: 'assistant', message: { id: `m${seq}`, content: [{ type: 'text', text: `text ${seq}` }] } },
    });
    const ids = [1, 2, 3, 4, 5].map((seq) => log.idOf(log.append('run.message', message(seq))));
    const kept = log.kept();
    expect(kept.map((event) => event.json === null)).toEqual([true, true, false, false, false]);
    expect(kept.every((event) => log.activityJson(event) !== null)).toBe(true);
    expect(JSON.parse(kept[4]!.json!)).toEqual(message(5));
    // The global stream only needs digests: it resumes from anywhere kept.
    expect(log.replayAfter(ids[0]!).kind).toBe('events');
    // A run stream that would need the dropped body of message 2 reloads instead…
    expect(log.replayAfter(ids[0]!, { runId: 'r1' }).kind).toBe('gap');
    // …but resumes from message 2 on, and a stream of another run is not concerned.
    const resumed = log.replayAfter(ids[1]!, { runId: 'r1' });
    expect(resumed.kind === 'events' && resumed.events.map((event) => event.seq)).toEqual([3, 4, 5]);
    expect(log.replayAfter(ids[0]!, { runId: 'other' }).kind).toBe('events');
    // Many more than the front is trimmed at: the kept window stays right.
    for (let i = 0; i < 5000; i++) log.append('run.message', message(10 + i));
    expect(log.kept().filter((event) => event.json !== null)).toHaveLength(3);
    expect(log.kept().at(-1)!.seq).toBe(log.lastSeq);
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
    expect(log.activityJson(event)).not.toContain('planted-secret-value-123');
    expect(JSON.parse(log.activityJson(event)!)).toMatchObject({ toolName: 'Bash', summary: 'Bash echo [REDACTED] [REDACTED]' });
  });
});
