import { describe, expect, it } from 'vitest';
import { WAIT_REASON_TITLES, waitSummary } from '../../../src/dashboard/ui/format.js';
import { WaitReason } from '../../../src/store/index.js';

describe("the dashboard's wait summary (Work items and Now)", () => {
  it('counts the waits by reason in the order status uses', () => {
    const items = ['lock', null, 'slot', 'dependency', 'slot', 'dependency', 'slot'].map((waitingFor) => ({ waitingFor }));
    expect(waitSummary(items)).toBe('3 for a slot, 1 for the lock, 2 on dependencies');
    expect(waitSummary(['roadmap', 'budget', 'backoff', 'dependency'].map((waitingFor) => ({ waitingFor })))).toBe('1 on a dependency, 1 in backoff, 1 for the budget, 1 for the roadmap update');
  });

  it('is empty when nothing waits, and counts an unknown reason by its name', () => {
    expect(waitSummary([{ waitingFor: null }])).toBe('');
    expect(waitSummary([{ waitingFor: 'quota' }, { waitingFor: 'slot' }])).toBe('1 for a slot, 1 for quota');
  });

  it('explains every reason the store knows', () => {
    expect(Object.keys(WAIT_REASON_TITLES).sort()).toEqual(Object.values(WaitReason).sort());
  });
});
