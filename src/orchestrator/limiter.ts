/**
 * Session slots: a global cap on running sessions and a cap per role (default 3 developers). A slot is held by a
 * running session only: from just before spawn until the session ends, never while its step waits for the
 * integration lock, a backoff or a dependency, nor while the orchestrator runs its own checks or tests.
 * Synchronous bookkeeping; the scheduler asks `blockedBy` before launching and the step releases when its session ends.
 */
export class ConcurrencyLimiter {
  #total = 0;
  readonly #perRole = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly roleLimits: Readonly<Record<string, number>>,
  ) {}

  /** Why a session of `role` cannot start now (for the scheduler's wait reasons), or null when it can. */
  blockedBy(role: string): string | null {
    if (this.#total >= this.maxTotal) return `${this.#total} of ${this.maxTotal} sessions running`;
    const limit = this.roleLimits[role];
    const running = this.#perRole.get(role) ?? 0;
    if (limit !== undefined && running >= limit) return `${running} of ${limit} ${role} sessions running`;
    return null;
  }

  acquire(role: string): () => void {
    this.#total += 1;
    this.#perRole.set(role, (this.#perRole.get(role) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total -= 1;
      this.#perRole.set(role, (this.#perRole.get(role) ?? 1) - 1);
    };
  }

  get running(): number {
    return this.#total;
  }
}

interface Waiter {
  rank: number;
  seq: number;
  grant: () => void;
}

/**
 * A mutex whose waiters go in rank order (lower first; FIFO among equal ranks), so that when several items want
 * the integration branch at once, they take it in roadmap order. `run` reports how long the caller waited.
 */
export class PriorityMutex {
  #held = false;
  #seq = 0;
  readonly #waiters: Waiter[] = [];

  get locked(): boolean {
    return this.#held;
  }

  async run<T>(rank: number, task: (waitedMs: number) => Promise<T>): Promise<T> {
    const asked = performance.now();
    await this.#acquire(rank);
    try {
      return await task(performance.now() - asked);
    } finally {
      this.#release();
    }
  }

  #acquire(rank: number): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiters.push({ rank, seq: this.#seq++, grant: resolve });
      this.#waiters.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
    });
  }

  #release(): void {
    const next = this.#waiters.shift();
    if (next) next.grant();
    else this.#held = false;
  }
}
