/**
 * Concurrency limits: a global cap on running sessions and a cap per role (default 3 developers).
 * Synchronous bookkeeping only; the supervisor asks `canStart` before launching and releases when done.
 */
export class ConcurrencyLimiter {
  #total = 0;
  readonly #perRole = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly roleLimits: Readonly<Record<string, number>>,
  ) {}

  canStart(role: string): boolean {
    if (this.#total >= this.maxTotal) return false;
    const limit = this.roleLimits[role];
    return limit === undefined || (this.#perRole.get(role) ?? 0) < limit;
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

/** A FIFO mutex: the integration worktree takes one merge or roadmap edit at a time. */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  async run<T>(task: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release: () => void = () => {};
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await task();
    } finally {
      release();
    }
  }
}
