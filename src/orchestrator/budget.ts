import type { Store } from '../store/index.js';

export interface BudgetLimits {
  perRunUsd?: number | undefined;
  perDayUsd?: number | undefined;
}

/** What a session may spend: its `--max-budget-usd`, held against the day's budget until the session ends. */
export interface BudgetReservation {
  /** The session's cap (undefined: no cap configured). */
  readonly maxBudgetUsd: number | undefined;
  release(): void;
}

export type ReserveOutcome = { ok: true; reservation: BudgetReservation } | { ok: false; exhausted: boolean; detail: string };

/** Below this, what is left of the day's budget is not worth a session. */
const MIN_SESSION_USD = 0.01;

/**
 * The daily budget, shared by parallel sessions. Before a session is spawned it reserves its cap (budgets.perRunUsd,
 * or an equal share of the day's budget per slot when only perDayUsd is set) out of what is neither spent nor
 * reserved; the session runs with that cap as `--max-budget-usd`, and the reservation is released when it ends (its
 * real cost is in the store by then). So the caps of all running sessions fit in what is left of the day, and
 * sessions started together cannot overshoot the day by more than the CLI's own overshoot of one session's cap.
 */
export class BudgetLedger {
  readonly #reserved = new Set<{ amount: number }>();

  constructor(
    private readonly store: Store,
    private readonly limits: BudgetLimits,
    private readonly slots: number,
    private readonly today: () => string = () => new Date().toISOString().slice(0, 10),
  ) {}

  get reservedUsd(): number {
    let sum = 0;
    for (const entry of this.#reserved) sum += entry.amount;
    return sum;
  }

  /** Spent today (from the store), the limit, and whether nothing more may start today. */
  async state(): Promise<{ limit: number | null; spent: number; reserved: number; exhausted: boolean }> {
    const limit = this.limits.perDayUsd ?? null;
    if (limit === null) return { limit, spent: 0, reserved: this.reservedUsd, exhausted: false };
    const rows = await this.store.usage({ by: 'day', since: `${this.today()}T00:00:00.000Z` });
    const spent = rows.reduce((sum, row) => sum + row.costUsd, 0);
    return { limit, spent, reserved: this.reservedUsd, exhausted: limit - spent < MIN_SESSION_USD };
  }

  /** Reserves one session's cap, or says why not (exhausted: nothing left today; else: held by running sessions). */
  async reserve(): Promise<ReserveOutcome> {
    const { perRunUsd, perDayUsd } = this.limits;
    if (perDayUsd === undefined) return { ok: true, reservation: this.#hold(0, perRunUsd) };
    const { spent, exhausted } = await this.state();
    const reserved = this.reservedUsd; // read after the await: another reservation may have been made meanwhile
    if (exhausted) return { ok: false, exhausted: true, detail: `daily budget of $${perDayUsd} reached ($${spent.toFixed(4)} spent today)` };
    const unreserved = perDayUsd - spent - reserved;
    if (unreserved < MIN_SESSION_USD) {
      return { ok: false, exhausted: false, detail: `$${Math.max(0, unreserved).toFixed(2)} of today's $${perDayUsd} is free: $${reserved.toFixed(2)} is reserved by running sessions` };
    }
    const share = perRunUsd ?? perDayUsd / Math.max(1, this.slots);
    const cap = Math.min(share, unreserved);
    return { ok: true, reservation: this.#hold(cap, cap) };
  }

  #hold(amount: number, maxBudgetUsd: number | undefined): BudgetReservation {
    const entry = { amount };
    this.#reserved.add(entry);
    return {
      maxBudgetUsd,
      release: () => {
        this.#reserved.delete(entry);
      },
    };
  }
}
