import { describe, expect, it } from 'vitest';
import { describeWait, summarizeWaits } from '../../../src/cli/waits.js';
import type { WaitReason } from '../../../src/store/index.js';

const NOW = Date.parse('2026-11-25T10:00:12.000Z');
const wait = (waitingFor: WaitReason | null, waitingDetail: string | null = null, waitingSince: string | null = null) => ({ waitingFor, waitingDetail, waitingSince });

describe('describeWait (the WAITING FOR cell of status)', () => {
  it('gives the reason, the detail and how long', () => {
    expect(describeWait(wait('slot', '4 of 4 sessions running', '2026-11-25T10:00:00.000Z'), NOW)).toBe('slot (4 of 4 sessions running) for 12s');
    expect(describeWait(wait('lock', 'P-3 (merging)', '2026-11-25T09:58:07.000Z'), NOW)).toBe('lock (P-3 (merging)) for 2m 05s');
  });

  it('leaves out what it does not know, and counts a start in the future as now', () => {
    expect(describeWait(wait('dependency', 'PRIORITY 2'), NOW)).toBe('dependency (PRIORITY 2)');
    expect(describeWait(wait('budget', null, '2026-11-25T10:00:11.500Z'), NOW)).toBe('budget for 500 ms');
    expect(describeWait(wait('backoff', '', 'not a time'), NOW)).toBe('backoff');
    expect(describeWait(wait('roadmap', null, '2026-11-25T10:05:00.000Z'), NOW)).toBe('roadmap for 0 ms');
  });

  it('cuts a long detail, never the duration', () => {
    const detail = 'the project manager is marking P-1, P-2, P-3, P-4, P-5, P-6, P-7, P-8; P-9 is in the next batch';
    expect(describeWait(wait('roadmap', detail, '2026-11-25T10:00:00.000Z'), NOW, 40)).toBe('roadmap (the project manager is marking P-1, P-2…) for 12s');
  });

  it('is null when the item does not wait', () => {
    expect(describeWait(wait(null, 'left over', '2026-11-25T10:00:00.000Z'), NOW)).toBeNull();
  });
});

describe('summarizeWaits (the one-line summary of status)', () => {
  it('counts the waits by reason, in a fixed order', () => {
    const items = [wait('dependency'), wait('slot'), wait(null), wait('lock'), wait('slot'), wait('dependency'), wait('slot')];
    expect(summarizeWaits(items)).toBe('waiting: 3 for a slot, 1 for the lock, 2 on dependencies');
    expect(summarizeWaits([wait('roadmap'), wait('budget'), wait('backoff'), wait('dependency')])).toBe('waiting: 1 on a dependency, 1 in backoff, 1 for the budget, 1 for the roadmap update');
  });

  it('is null when nothing waits', () => {
    expect(summarizeWaits([])).toBeNull();
    expect(summarizeWaits([wait(null), wait(null)])).toBeNull();
  });

  it('still counts a reason it does not know (written by a newer orchestrator)', () => {
    expect(summarizeWaits([wait('slot'), wait('quota' as WaitReason)])).toBe('waiting: 1 for a slot, 1 for quota');
  });
});
