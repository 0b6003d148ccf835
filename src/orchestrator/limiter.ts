/**
 * Session slots: a global cap on running sessions and a cap per role (default 3 developers). A slot is held by a
 * running session only: from just before spawn until the session ends, never while its step prepares (worktree,
 * branch history, briefing), nor while it waits for the integration lock, a backoff or a dependency, nor while the
 * orchestrator runs its own checks or tests.
 *
 * A step that will run a session first takes a claim (`claim`), then prepares, then asks for its slot
 * (`SlotClaim.acquire`) just before it spawns. Slots go to claims in rank order (roadmap order: lower first), the
 * claim still preparing included: a slot freed while the first item in roadmap order prepares is kept for it, so
 * claims never jump the queue. The scheduler lets a step claim ahead of a free slot (`blockedBy`): one claim per
 * role beyond the running sessions, plus any claim that outranks a waiting one, so that when a session ends the
 * next one, already prepared, spawns at once.
 */
export class ConcurrencyLimiter {
  readonly #claims: Claim[] = [];
  #seq = 0;

  constructor(
    private readonly maxTotal: number,
    private readonly roleLimits: Readonly<Record<string, number>>,
  ) {}

  /**
   * Why a step running a session of `role` (of roadmap rank `rank`) cannot claim a slot now (for the scheduler's
   * wait reasons), or null when it can.
   */
  blockedBy(role: string, rank = Number.POSITIVE_INFINITY): string | null {
    const full = this.fullFor(role);
    if (full === null) return null;
    const ahead = this.#claims.filter((claim) => !claim.assigned);
    const aheadOfRole = ahead.filter((claim) => claim.role === role);
    if (aheadOfRole.length === 0 && ahead.length < this.maxTotal) return null;
    if (aheadOfRole.some((claim) => claim.rank > rank)) return null;
    return full;
  }

  /** Registers a step that will run a session of `role`; slots go to claims in rank order. */
  claim(role: string, rank: number): SlotClaim {
    const claim: Claim = { role, rank, seq: this.#seq++, assigned: false, grant: null };
    this.#claims.push(claim);
    this.#claims.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
    this.#dispatch();
    let released = false;
    return {
      get assigned() {
        return claim.assigned;
      },
      acquire: (signal?: AbortSignal) => {
        if (released) return Promise.reject(new Error('this slot claim was released'));
        if (claim.assigned) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          const onAbort = () => {
            claim.grant = null;
            reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted while waiting for a session slot'));
          };
          if (signal?.aborted) return onAbort();
          signal?.addEventListener('abort', onAbort, { once: true });
          claim.grant = () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          };
        });
      },
      release: () => {
        if (released) return;
        released = true;
        const index = this.#claims.indexOf(claim);
        if (index >= 0) this.#claims.splice(index, 1);
        this.#dispatch();
      },
    };
  }

  /** Takes a slot for `role` at once (the caller checked `blockedBy`); returns its release. */
  acquire(role: string): () => void {
    const claim = this.claim(role, Number.NEGATIVE_INFINITY);
    return () => claim.release();
  }

  /** Sessions holding a slot (running, or about to spawn). */
  get running(): number {
    return this.#claims.filter((claim) => claim.assigned).length;
  }

  /** Why no slot is free for `role` right now, or null. */
  fullFor(role: string): string | null {
    const assigned = this.#claims.filter((claim) => claim.assigned);
    if (assigned.length >= this.maxTotal) return `${assigned.length} of ${this.maxTotal} sessions running`;
    const limit = this.roleLimits[role];
    const ofRole = assigned.filter((claim) => claim.role === role).length;
    if (limit !== undefined && ofRole >= limit) return `${ofRole} of ${limit} ${role} sessions running`;
    return null;
  }

  /** Gives free slots to the waiting claims in rank order, skipping a claim whose role is at its own cap. */
  #dispatch(): void {
    for (const claim of this.#claims) {
      if (claim.assigned) continue;
      if (this.#claims.filter((other) => other.assigned).length >= this.maxTotal) return;
      if (this.fullFor(claim.role) !== null) continue;
      claim.assigned = true;
      const grant = claim.grant;
      claim.grant = null;
      grant?.();
    }
  }
}

interface Claim {
  readonly role: string;
  readonly rank: number;
  readonly seq: number;
  assigned: boolean;
  /** Set while the step waits in `acquire`. */
  grant: (() => void) | null;
}

/** A step's place in the queue for a session slot: `acquire` just before spawning, `release` when the session ends (idempotent). */
export interface SlotClaim {
  /** True once a slot is this claim's. */
  readonly assigned: boolean;
  acquire(signal?: AbortSignal): Promise<void>;
  release(): void;
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
