import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
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

export interface GateOptions {
  repo: RepoOps;
  store: Store;
  waits: WaitBoard;
  integrationBranch: () => string;
  testCommand: string | null;
  testTimeoutMs: number;
  testEnv: Readonly<Record<string, string>>;
  maxRetests: number;
  /**
   * Moves the integration branch from `base` to `next` by compare-and-set; false when it moved. Default: here only
   * (RepoOps.advanceBranch); with workers, on the shared remote first (RemoteIntegration.advance).
   */
  advance?: (branch: string, base: string, next: string) => Promise<boolean>;
  signal: AbortSignal;
}

/**
 * The marker the tests of a prepared merge carry, so a restart after a crash finds and ends them. It names the
 * repository too: item ids repeat across repositories (every roadmap has a P-1), and an orchestrator must never
 * end the tests of another one running on the same machine.
 */
export function mergeTestMarker(repoRoot: string, id: WorkItemId): string {
  return `merge-${createHash('sha256').update(resolve(repoRoot)).digest('hex').slice(0, 16)}-${id}`;
}

class Deferred<T> {
  readonly promise: Promise<T>;
  #resolve: (value: T) => void = () => {};
  #settled = false;

  constructor() {
    this.promise = new Promise<T>((resolve) => {
      this.#resolve = resolve;
    });
  }

  resolve(value: T): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(value);
  }
}

/** A change on its way to the integration branch: made on top of the changes ahead of it, landing after them. */
interface QueueEntry {
  client: GateClient;
  purpose: LockPurpose;
  /** The commit this change would move the branch to, once made (null: it could not be made, e.g. a conflict). */
  commit: Deferred<string | null>;
  /** Whether it landed; false when it left the queue without landing (its tests failed, a conflict, a shutdown). */
  landed: Deferred<boolean>;
}

type Made = { kind: 'made'; sha: string; base: string; after: QueueEntry | null };
/** The commit a change was made on did not become the branch's tip: it is made again. */
type Moved = { kind: 'moved'; from: string };
type Attempt = Made | Moved | Exclude<LandOutcome, { kind: 'landed' }>;

/**
 * The integration branch, as a merge queue. A change (an approved branch's merge, the project manager's roadmap
 * commit) is made and checked outside any lock, in parallel with the others, on top of the changes queued ahead of
 * it (speculatively, as merge queues do): a merge is made in the item's own worktree on the commit the change
 * ahead of it would produce, and tested there. It lands when the change ahead of it has landed, by compare-and-set
 * of the branch from that commit to its own, under a lock held only for that. When a change ahead fails (its tests,
 * a conflict), or the branch moved by a commit from outside the orchestrator, the changes built on it are made and
 * checked again: at most `maxRetests` times, after which the change waits for the queue ahead of it to empty and
 * holds the lock while it is tested, so it cannot be starved. Every lock hold is recorded (`integration.lock`).
 */
export class IntegrationGate {
  readonly #lock = new PriorityMutex();
  readonly #queue: QueueEntry[] = [];

  constructor(private readonly options: GateOptions) {}

  /** Lands `branch` (checked out in `worktree`) on the integration branch with a merge commit, tested first. */
  async landBranch(client: GateClient, worktree: string, branch: string, message: string, onRetest: (from: string, to: string, retests: number) => Promise<void>): Promise<LandOutcome> {
    const { repo } = this.options;
    let retests = 0;
    for (;;) {
      const exclusive = retests >= this.options.maxRetests;
      const entry = this.#enqueue(client, 'merge');
      try {
        if (exclusive) await this.#drainAhead(entry);
        const outcome = exclusive
          ? await this.#hold(client, 'merge', async () => {
              const made = await this.#makeMerge(entry, client, worktree, branch, message);
              if (made.kind !== 'made') return made;
              return (await this.#advance(this.options.integrationBranch(), made.base, made.sha)) ? ({ kind: 'landed', sha: made.sha, retests } as const) : ({ kind: 'moved', from: made.base } as const);
            }).then((outcome): LandOutcome | Moved => outcome)
          : await this.#landMade(entry, client, await this.#makeMerge(entry, client, worktree, branch, message), retests);
        if (outcome.kind !== 'moved') {
          entry.landed.resolve(outcome.kind === 'landed');
          return outcome;
        }
        entry.landed.resolve(false);
        retests += 1;
        await onRetest(outcome.from, await repo.headSha(this.options.integrationBranch()), retests);
      } finally {
        entry.commit.resolve(null);
        entry.landed.resolve(false);
        this.#dequeue(entry);
        await this.options.waits.clear(client.id);
      }
    }
  }

  /**
   * Lands commit `sha` (made on `base`) the same way. `rebase` makes the change again on another commit (outside
   * the lock) and returns the new commit, or null when it cannot: then nothing landed and null is returned.
   */
  async landCommit(client: GateClient, base: string, sha: string, rebase: (onto: string) => Promise<string | null>, maxTries = 5): Promise<string | null> {
    for (let tries = 0; tries < maxTries && !this.options.signal.aborted; tries++) {
      const entry = this.#enqueue(client, 'roadmap');
      try {
        const { base: onto, after } = await this.#baseFor(entry);
        const commit = onto === base ? sha : await rebase(onto);
        entry.commit.resolve(commit);
        if (commit === null) return null;
        const outcome = await this.#landMade(entry, client, { kind: 'made', sha: commit, base: onto, after }, tries);
        entry.landed.resolve(outcome.kind === 'landed');
        if (outcome.kind === 'landed') return commit;
      } finally {
        entry.commit.resolve(null);
        entry.landed.resolve(false);
        this.#dequeue(entry);
        await this.options.waits.clear(client.id);
      }
    }
    return null;
  }

  #advance(branch: string, base: string, next: string): Promise<boolean> {
    return this.options.advance ? this.options.advance(branch, base, next) : this.options.repo.advanceBranch(branch, base, next);
  }

  #enqueue(client: GateClient, purpose: LockPurpose): QueueEntry {
    const entry: QueueEntry = { client, purpose, commit: new Deferred(), landed: new Deferred() };
    this.#queue.push(entry);
    return entry;
  }

  #dequeue(entry: QueueEntry): void {
    const index = this.#queue.indexOf(entry);
    if (index >= 0) this.#queue.splice(index, 1);
  }

  /** The commit to build on: that of the nearest change ahead that could be made, else the branch's tip. */
  async #baseFor(entry: QueueEntry): Promise<{ base: string; after: QueueEntry | null }> {
    const ahead = this.#queue.slice(0, this.#queue.indexOf(entry)).reverse();
    for (const candidate of ahead) {
      const commit = await candidate.commit.promise;
      if (commit !== null && this.#queue.includes(candidate)) return { base: commit, after: candidate };
    }
    return { base: await this.options.repo.headSha(this.options.integrationBranch()), after: null };
  }

  /** Waits until every change ahead of this one has landed or left (the exclusive path). */
  async #drainAhead(entry: QueueEntry): Promise<void> {
    for (;;) {
      const ahead = this.#queue.slice(0, this.#queue.indexOf(entry));
      if (ahead.length === 0) return;
      await this.options.waits.wait(entry.client.id, 'lock', `${ahead.map((candidate) => candidate.client.label).join(', ')} ahead in the merge queue; then it holds ${this.options.integrationBranch()} while it is tested`);
      await Promise.all(ahead.map((candidate) => candidate.landed.promise));
      for (const candidate of ahead) this.#dequeue(candidate);
    }
  }

  /** Makes the merge on the queue's base (in the item's worktree) and tests it; the commit is shared at once with those behind. */
  async #makeMerge(entry: QueueEntry, client: GateClient, worktree: string, branch: string, message: string): Promise<Attempt> {
    const { repo, testCommand, signal } = this.options;
    const { base, after } = await this.#baseFor(entry);
    const prepared = await repo.prepareMerge(worktree, branch, base, message, signal);
    if (prepared.kind !== 'prepared') {
      entry.commit.resolve(null);
      return prepared;
    }
    entry.commit.resolve(prepared.sha);
    if (testCommand === null) return { kind: 'made', sha: prepared.sha, base, after };
    const env = { ...this.options.testEnv, [RUN_MARKER_ENV]: mergeTestMarker(this.options.repo.root, client.id) };
    const tests = await runTestCommand(testCommand, worktree, { timeoutMs: this.options.testTimeoutMs, env, signal });
    const on = after === null ? `${this.options.integrationBranch()} at ${base.slice(0, 7)}` : `${base.slice(0, 7)} (${this.options.integrationBranch()} with ${this.#queue.slice(0, this.#queue.indexOf(entry)).map((candidate) => candidate.client.label).join(', ')} ahead)`;
    await this.options.store.appendEvent({
      at: nowIso(),
      kind: 'tests.ran',
      workItemId: client.id,
      message: `\`${testCommand}\` ${tests.passed ? 'passed' : 'failed'} on the merge of ${branch} into ${on}`,
      data: { exitCode: tests.exitCode, timedOut: tests.timedOut, durationMs: tests.durationMs, outputTail: tests.outputTail.join('\n'), merge: true, base },
    });
    if (signal.aborted) {
      await repo.checkoutBranch(worktree, branch);
      return { kind: 'shutdown' };
    }
    if (!tests.passed) {
      // Failing on top of a change ahead that itself fails is not this branch's fault: wait and see.
      if (after !== null && !(await after.landed.promise)) return { kind: 'moved', from: base };
      await repo.checkoutBranch(worktree, branch);
      return { kind: 'tests_failed', tests, base };
    }
    return { kind: 'made', sha: prepared.sha, base, after };
  }

  /** Waits for the change ahead to land, then advances the branch by compare-and-set under the lock. */
  async #landMade(entry: QueueEntry, client: GateClient, made: Attempt, retests: number): Promise<LandOutcome | Moved> {
    if (made.kind !== 'made') return made;
    if (made.after !== null) {
      await this.options.waits.wait(client.id, 'lock', `lands after ${made.after.client.label} (${made.after.purpose === 'merge' ? 'merging' : 'roadmap update'}), on top of which it was ${entry.purpose === 'merge' ? 'tested' : 'made'}`);
      const aheadLanded = await made.after.landed.promise;
      if (!aheadLanded) return { kind: 'moved', from: made.base };
    }
    if (this.options.signal.aborted) return { kind: 'shutdown' };
    const branch = this.options.integrationBranch();
    return this.#hold(client, entry.purpose, async () => {
      if (await this.#advance(branch, made.base, made.sha)) return { kind: 'landed', sha: made.sha, retests } as const;
      return { kind: 'moved', from: made.base } as const;
    });
  }

  /** Runs `task` holding the lock; the item's wait says "lock" meanwhile, and the hold is recorded. */
  async #hold<T>(client: GateClient, purpose: LockPurpose, task: () => Promise<T>): Promise<T> {
    const { waits, store } = this.options;
    if (this.#lock.locked) await waits.wait(client.id, 'lock', `${this.options.integrationBranch()} is being updated; waiters go in roadmap order`);
    return this.#lock.run(client.rank, async (waitedMs) => {
      await waits.clear(client.id);
      const started = performance.now();
      try {
        return await task();
      } finally {
        const heldMs = Math.round(performance.now() - started);
        await store
          .appendEvent({ at: nowIso(), kind: 'integration.lock', workItemId: client.id, message: `${purpose}: held the integration lock ${heldMs} ms (waited ${Math.round(waitedMs)} ms)`, data: { purpose, heldMs, waitedMs: Math.round(waitedMs) } })
          .catch(() => undefined);
      }
    });
  }
}
