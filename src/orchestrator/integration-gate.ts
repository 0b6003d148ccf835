import type { WorkItemId } from '../events/index.js';
import { nowIso } from '../lib/time.js';
import { RUN_MARKER_ENV } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import { runTestCommand, type TestRunResult } from './deliverables.js';
import { PriorityMutex } from './limiter.js';
import type { RepoOps } from './repo-ops.js';
import type { WaitBoard } from './wait-board.js';

export type LockPurpose = 'merge' | 'roadmap';

/** Who asks for the integration branch: the item (for waits and the audit trail) and its place in the roadmap. */
export interface GateClient {
  id: WorkItemId;
  rank: number;
  label: string;
}

export type LandOutcome =
  | { kind: 'landed'; sha: string; retests: number }
  | { kind: 'nothing_to_merge' }
  | { kind: 'conflict'; files: string[] }
  | { kind: 'tests_failed'; tests: TestRunResult; base: string }
  | { kind: 'shutdown' };

type Moved = { kind: 'moved'; from: string; to: string };

export interface GateOptions {
  repo: RepoOps;
  store: Store;
  waits: WaitBoard;
  integrationBranch: () => string;
  testCommand: string | null;
  testTimeoutMs: number;
  testEnv: Readonly<Record<string, string>>;
  maxRetests: number;
  signal: AbortSignal;
}

/** The marker the tests of a prepared merge carry, so a restart after a crash finds and ends them. */
export function mergeTestMarker(id: WorkItemId): string {
  return `merge-${id}`;
}

/**
 * The integration branch, which only one thing may advance at a time. The lock covers only that: a
 * compare-and-set of the branch from the commit a change was made on to the change. The work before it (making
 * the merge commit and running the tests in the item's own worktree, a project manager's session) runs outside
 * the lock, in parallel; if the branch moved meanwhile, the merge is made and tested again, at most `maxRetests`
 * times, after which the item holds the lock while it tests, so it cannot be starved. Waiters take the lock in
 * roadmap order. Every hold is recorded (`integration.lock`: purpose, held and waited milliseconds).
 */
export class IntegrationGate {
  readonly #lock = new PriorityMutex();
  #holder: { label: string; purpose: string } | null = null;

  constructor(private readonly options: GateOptions) {}

  /** Lands `branch` (checked out in `worktree`) on the integration branch with a merge commit, tested first. */
  async landBranch(client: GateClient, worktree: string, branch: string, message: string, onRetest: (from: string, to: string, retests: number) => Promise<void>): Promise<LandOutcome> {
    let retests = 0;
    for (;;) {
      let outcome: LandOutcome | Moved;
      if (retests >= this.options.maxRetests) {
        // Bounded: this time the branch cannot move under the test (but for a commit from outside the orchestrator).
        outcome = await this.#hold(client, 'merge', async () => {
          const prepared = await this.#prepareAndTest(client, worktree, branch, message);
          return prepared.kind === 'prepared' ? this.#advance(prepared, retests) : prepared;
        });
      } else {
        const prepared = await this.#prepareAndTest(client, worktree, branch, message);
        if (prepared.kind !== 'prepared') return prepared;
        if (this.options.signal.aborted) return { kind: 'shutdown' };
        outcome = await this.#hold(client, 'merge', () => this.#advance(prepared, retests));
      }
      if (outcome.kind !== 'moved') return outcome;
      retests += 1;
      await onRetest(outcome.from, outcome.to, retests);
    }
  }

  /** The compare-and-set: the integration branch moves to the tested merge only if it is still where the merge was made. */
  async #advance(prepared: { sha: string; base: string }, retests: number): Promise<LandOutcome | Moved> {
    const { repo } = this.options;
    const branch = this.options.integrationBranch();
    if (await repo.advanceBranch(branch, prepared.base, prepared.sha)) return { kind: 'landed', sha: prepared.sha, retests };
    return { kind: 'moved', from: prepared.base, to: await repo.headSha(branch) };
  }

  /**
   * Lands commit `sha` (made on `base`) by compare-and-set. When the branch has moved, `rebase` makes the change
   * again on the new tip (outside the lock) and returns the new commit, or null when it cannot: then nothing landed.
   */
  async landCommit(client: GateClient, base: string, sha: string, rebase: (onto: string) => Promise<string | null>, maxTries = 5): Promise<string | null> {
    const { repo } = this.options;
    let from = base;
    let commit = sha;
    for (let tries = 0; tries < maxTries; tries++) {
      const tip = await this.#hold(client, 'roadmap', async () => {
        const current = await repo.headSha(this.options.integrationBranch());
        if (current !== from) return current;
        return (await repo.advanceBranch(this.options.integrationBranch(), from, commit)) ? null : repo.headSha(this.options.integrationBranch());
      });
      if (tip === null) return commit;
      const again = await rebase(tip);
      if (again === null) return null;
      from = tip;
      commit = again;
    }
    return null;
  }

  async #prepareAndTest(client: GateClient, worktree: string, branch: string, message: string): Promise<{ kind: 'prepared'; sha: string; base: string } | Exclude<LandOutcome, { kind: 'landed' }>> {
    const { repo, testCommand, signal } = this.options;
    const base = await repo.headSha(this.options.integrationBranch());
    const prepared = await repo.prepareMerge(worktree, branch, base, message, signal);
    if (prepared.kind !== 'prepared' || testCommand === null) return prepared;
    const env = { ...this.options.testEnv, [RUN_MARKER_ENV]: mergeTestMarker(client.id) };
    const tests = await runTestCommand(testCommand, worktree, { timeoutMs: this.options.testTimeoutMs, env, signal });
    await this.options.store.appendEvent({
      at: nowIso(),
      kind: 'tests.ran',
      workItemId: client.id,
      message: `\`${testCommand}\` ${tests.passed ? 'passed' : 'failed'} on the merge of ${branch} into ${this.options.integrationBranch()} at ${base.slice(0, 7)}`,
      data: { exitCode: tests.exitCode, timedOut: tests.timedOut, durationMs: tests.durationMs, outputTail: tests.outputTail.join('\n'), merge: true },
    });
    if (signal.aborted) {
      await repo.checkoutBranch(worktree, branch);
      return { kind: 'shutdown' };
    }
    if (!tests.passed) {
      await repo.checkoutBranch(worktree, branch);
      return { kind: 'tests_failed', tests, base };
    }
    return prepared;
  }

  /** Runs `task` holding the lock; the item's wait says "lock" meanwhile, and the hold is recorded. */
  async #hold<T>(client: GateClient, purpose: LockPurpose, task: () => Promise<T>): Promise<T> {
    const { waits, store } = this.options;
    if (this.#lock.locked && this.#holder !== null) await waits.wait(client.id, 'lock', `${this.#holder.label} holds ${this.options.integrationBranch()} (${this.#holder.purpose}); waiters go in roadmap order`);
    return this.#lock.run(client.rank, async (waitedMs) => {
      this.#holder = { label: client.label, purpose: purpose === 'merge' ? 'merging' : 'roadmap update' };
      await waits.clear(client.id);
      const started = performance.now();
      try {
        return await task();
      } finally {
        this.#holder = null;
        const heldMs = Math.round(performance.now() - started);
        await store
          .appendEvent({ at: nowIso(), kind: 'integration.lock', workItemId: client.id, message: `${purpose}: held the integration lock ${heldMs} ms (waited ${Math.round(waitedMs)} ms)`, data: { purpose, heldMs, waitedMs: Math.round(waitedMs) } })
          .catch(() => undefined);
      }
    });
  }
}
