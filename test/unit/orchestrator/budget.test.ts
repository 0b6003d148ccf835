import { describe, expect, it } from 'vitest';
import { BudgetLedger } from '../../../src/orchestrator/budget.js';
import type { Store, UsageRow } from '../../../src/store/index.js';

/** Only what the ledger reads: today's spend, as the store's usage query returns it. */
function spending(costUsd: { value: number }): Store {
  return { usage: async (): Promise<UsageRow[]> => [{ key: '2026-11-26', costUsd: costUsd.value } as UsageRow] } as unknown as Store;
}

describe('BudgetLedger', () => {
  it('reserves each session its cap out of what is neither spent nor reserved, and gives it back when the session ends', async () => {
    const spent = { value: 0.5 };
    const ledger = new BudgetLedger(spending(spent), { perRunUsd: 1, perDayUsd: 3 }, 4);
    const a = await ledger.reserve();
    const b = await ledger.reserve();
    expect(a.ok && a.reservation.maxBudgetUsd).toBe(1);
    expect(b.ok && b.reservation.maxBudgetUsd).toBe(1);
    // 3 − 0.5 spent − 2 reserved: the third session may spend only what is left, so the day cannot be overshot.
    const c = await ledger.reserve();
    expect(c.ok && c.reservation.maxBudgetUsd).toBeCloseTo(0.5);
    const d = await ledger.reserve();
    expect(d).toMatchObject({ ok: false, exhausted: false });
    expect(!d.ok && d.detail).toContain('reserved by running sessions');
    if (a.ok) a.reservation.release();
    const e = await ledger.reserve();
    expect(e.ok && e.reservation.maxBudgetUsd).toBe(1);
    expect(ledger.reservedUsd).toBeCloseTo(2.5);
  });

  it('shares the day among the slots when no per-session budget is set, and stops when the day is spent', async () => {
    const spent = { value: 0 };
    const ledger = new BudgetLedger(spending(spent), { perDayUsd: 8 }, 4);
    const first = await ledger.reserve();
    expect(first.ok && first.reservation.maxBudgetUsd).toBe(2);
    spent.value = 8;
    const none = await ledger.reserve();
    expect(none).toMatchObject({ ok: false, exhausted: true });
    expect(!none.ok && none.detail).toContain('daily budget of $8 reached');
  });

  it('caps nothing without a daily budget but the per-session one', async () => {
    const ledger = new BudgetLedger(spending({ value: 1_000 }), { perRunUsd: 2 }, 4);
    const outcome = await ledger.reserve();
    expect(outcome.ok && outcome.reservation.maxBudgetUsd).toBe(2);
    expect((await ledger.state()).exhausted).toBe(false);
  });
});
