import { describe, expect, it } from 'vitest';
import { parseStoreChange } from '../../../src/store/index.js';

describe('parseStoreChange (the payloads of migration 6)', () => {
  it('reads every kind the triggers send', () => {
    expect(parseStoreChange('{"k":"run","run":"r1","status":"running"}')).toEqual({ kind: 'run', runId: 'r1', status: 'running' });
    expect(parseStoreChange('{"k":"stop","run":"r1"}')).toEqual({ kind: 'stop', runId: 'r1' });
    expect(parseStoreChange('{"k":"invocation","run":"r1","inv":"i1"}')).toEqual({ kind: 'invocation', runId: 'r1', invocationId: 'i1' });
    expect(parseStoreChange('{"k":"message","run":"r1","inv":"i1","seq":7}')).toEqual({ kind: 'message', runId: 'r1', invocationId: 'i1', seq: 7 });
    expect(parseStoreChange('{"k":"event","id":12,"kind":"run.stop_seen","run":"r1","item":null}')).toEqual({ kind: 'event', id: 12, eventKind: 'run.stop_seen', runId: 'r1', workItemId: null });
    expect(parseStoreChange('{"k":"work_item","item":"P-1","state":"planned"}')).toEqual({ kind: 'work_item', workItemId: 'P-1', state: 'planned' });
  });

  it('ignores what it does not know (a newer writer, a foreign NOTIFY on the channel)', () => {
    for (const payload of [undefined, '', 'not json', 'null', '42', '{"k":"vote"}', '{"k":"run","run":"r1","status":"dancing"}', '{"k":"message","run":"r1","inv":"i1"}']) {
      expect(parseStoreChange(payload)).toBeNull();
    }
  });
});
