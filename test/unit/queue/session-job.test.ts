import { describe, expect, it } from 'vitest';
import { parseSessionJobPayload, QueuePayloadError, QueueSchemaMismatchError, QueueUnreachableError, sessionJobKey } from '../../../src/queue/index.js';
import { toQueueError } from '../../../src/queue/errors.js';
import { assertQueueSchemaName } from '../../../src/queue/queue-schema.js';

describe('session job payloads', () => {
  const payload = { kind: 'role-session', workItemId: 'W1', step: 'develop', role: 'code-developer', attempt: 1, agent: { name: 'x' } };

  it('keeps every field of a session payload', () => {
    expect(parseSessionJobPayload(payload)).toEqual(payload);
  });

  it('refuses payloads that are not session jobs, naming the field', () => {
    expect(() => parseSessionJobPayload([])).toThrow(QueuePayloadError);
    expect(() => parseSessionJobPayload({ ...payload, kind: 'other' })).toThrow(/kind "other"/);
    expect(() => parseSessionJobPayload({ ...payload, workItemId: '' })).toThrow(/workItemId/);
    expect(() => parseSessionJobPayload({ ...payload, attempt: '1' })).toThrow(/attempt/);
  });

  it('keys a job by work item and step', () => {
    expect(sessionJobKey('W1', 'develop')).toBe('item:W1:develop');
  });
});

describe('queue errors', () => {
  it('maps connection failures and schema revisions to typed errors with a fix', () => {
    const refused = toQueueError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
    expect(refused).toBeInstanceOf(QueueUnreachableError);
    expect(refused).toMatchObject({ code: 'ORCH_QUEUE_UNREACHABLE', retryable: true });
    const auth = toQueueError(Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' }));
    expect(auth).toBeInstanceOf(QueueUnreachableError);
    const newer = toQueueError(new Error('Database is using Graphile Worker schema revision 20 which includes breaking migration 20, but the currently running worker only supports up to revision 19.'));
    expect(newer).toBeInstanceOf(QueueSchemaMismatchError);
    const other = new Error('syntax error');
    expect(toQueueError(other)).toBe(other);
  });

  it('accepts only plain schema names', () => {
    expect(() => assertQueueSchemaName('orchestrator_queue')).not.toThrow();
    for (const bad of ['', 'Queue', 'a-b', 'x; drop table', '1abc']) expect(() => assertQueueSchemaName(bad)).toThrow(/not a queue schema name/);
  });
});
