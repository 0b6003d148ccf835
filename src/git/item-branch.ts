import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OrchestratorError } from '../lib/errors.js';
import { assertBranchName, isAncestor, resolveCommit, runGit } from './git-command.js';
import { WORKER_REMOTE, type WorkerClone } from './clone-cache.js';
import { watchBranch } from './commit-watch.js';
import { pushWithLease, refusalReason, remoteBranchTip, type RefusalReason } from './remote-refs.js';

export class IntegrationBranchMissingError extends OrchestratorError {
  constructor(branch: string, display: string) {
    super('ORCH_GIT_NO_INTEGRATION_BRANCH', `the integration branch "${branch}" does not exist on ${display}`, {
      hint: `Push ${branch} to the remote first (git push origin ${branch}), or set integrationBranch in orchestrator.config.json to a branch the remote has.`,
    });
  }
}

/** Where the item's work continued from: its branch as pushed, the worker's own unpushed commits on it, or a fresh fork. */
export type ItemStart = 'pushed_branch' | 'local_commits' | 'integration_branch';

export interface ItemCheckout {
  path: string;
  branch: string;
  /** HEAD of the worktree after checkout. */
  head: string;
  /** The branch's tip on the remote as last fetched (null: never pushed): the expected value of the next push. */
  pushedSha: string | null;
  startedFrom: ItemStart;
  /**
   * Local commits that diverged from the pushed branch (left by an earlier job of this worker that lost the item
   * to another worker), kept under `refs/orchestrator/set-aside/…`; null when there were none.
   */
  setAside: { ref: string; sha: string } | null;
  /** Uncommitted changes found in a reused worktree were stashed (`git stash list` in it shows them). */
  stashed: boolean;
}

/** The commit a job's branch must start from is not in this worker's clone of the remote. */
export class StartCommitMissingError extends OrchestratorError {
  constructor(branch: string, commit: string, display: string) {
    super('ORCH_GIT_NO_START_COMMIT', `${branch} must start at ${commit.slice(0, 12)}, which ${display} does not have`, {
      hint: 'The coordinator publishes that commit on the integration branch before it queues the job: check that this worker fetches the same remote as the coordinator pushes to (git.remote). The job is retried.',
      retryable: true,
      data: { branch, commit },
    });
  }
}

export interface CheckoutItemOptions {
  branch: string;
  integrationBranch: string;
  /**
   * The commit a branch the remote does not have starts from, instead of the integration branch's tip: a commit of
   * the integration branch the coordinator chose (a project manager's scratch branch starts where the
   * coordinator's scratch worktree is). A local branch left by an earlier job that does not contain it is set aside.
   */
  startAt?: string;
  signal?: AbortSignal;
}

/**
 * The item's worktree on this worker (`<clone>/worktrees/<branch>-<hash>`), on `branch` as pushed on the remote:
 * call after ensureWorkerClone (which fetched). The branch continues from its pushed tip when the remote has it,
 * else from the integration branch. A worktree this worker used before for the item is reused and brought to the
 * pushed tip: fast-forwarded when behind, kept when it holds unpushed commits on top, reset (its commits set
 * aside under a ref, its uncommitted files stashed) when another worker pushed history it does not share.
 */
export async function checkoutItemBranch(clone: WorkerClone, options: CheckoutItemOptions): Promise<ItemCheckout> {
  const { branch, integrationBranch, signal } = options;
  signal?.throwIfAborted();
  assertBranchName(branch);
  assertBranchName(integrationBranch);
  const pushed = await resolveCommit(`refs/remotes/${WORKER_REMOTE}/${branch}`, clone.gitDir, signal);
  const local = await resolveCommit(`refs/heads/${branch}`, clone.gitDir, signal);
  let start = pushed;
  let startedFrom: ItemStart = 'pushed_branch';
  let setAside: ItemCheckout['setAside'] = null;
  if (pushed === null && options.startAt !== undefined) {
    const base = await resolveCommit(options.startAt, clone.gitDir, signal);
    if (base === null) throw new StartCommitMissingError(branch, options.startAt, clone.remote.display);
    start = base;
    startedFrom = 'integration_branch';
    if (local !== null && local !== base) {
      if (await isAncestor(base, local, clone.gitDir, signal)) {
        start = local;
        startedFrom = 'local_commits';
      } else if (!(await isAncestor(local, base, clone.gitDir, signal))) {
        setAside = { ref: `refs/orchestrator/set-aside/${branch}/${local.slice(0, 12)}`, sha: local };
        await runGit(['update-ref', setAside.ref, local], clone.gitDir, { signal });
      }
    }
  } else if (pushed === null) {
    const integration = await resolveCommit(`refs/remotes/${WORKER_REMOTE}/${integrationBranch}`, clone.gitDir, signal);
    if (local !== null) {
      start = local;
      startedFrom = integration !== null && local === integration ? 'integration_branch' : 'local_commits';
    } else {
      if (integration === null) throw new IntegrationBranchMissingError(integrationBranch, clone.remote.display);
      start = integration;
      startedFrom = 'integration_branch';
    }
  } else if (local !== null && local !== pushed) {
    if (await isAncestor(pushed, local, clone.gitDir, signal)) {
      start = local;
      startedFrom = 'local_commits';
    } else if (!(await isAncestor(local, pushed, clone.gitDir, signal))) {
      setAside = { ref: `refs/orchestrator/set-aside/${branch}/${local.slice(0, 12)}`, sha: local };
      await runGit(['update-ref', setAside.ref, local], clone.gitDir, { signal });
    }
  }
  if (start === null) throw new Error('unreachable: no start commit');

  const existing = await worktreeOf(clone, branch, signal);
  let stashed = false;
  let path: string;
  if (existing !== null) {
    path = existing;
    stashed = await setAsideUncommitted(path, branch, signal);
    if ((await resolveCommit('HEAD', path, signal)) !== start) await runGit(['reset', '--quiet', '--hard', start], path, { signal });
  } else if (await isRegisteredWorktree(clone, join(clone.worktreesDir, worktreeDirName(branch)), signal)) {
    // Our directory for this branch, left on a detached HEAD or another branch: back onto the item branch.
    path = join(clone.worktreesDir, worktreeDirName(branch));
    stashed = await setAsideUncommitted(path, branch, signal);
    await runGit(['checkout', '--quiet', '--no-track', '-B', branch, start], path, { signal });
  } else {
    path = join(clone.worktreesDir, worktreeDirName(branch));
    await runGit(['worktree', 'prune'], clone.gitDir, { signal });
    await mkdir(clone.worktreesDir, { recursive: true });
    // -B: (re)points the local branch at `start`; `start` already contains every local commit worth keeping.
    await runGit(['worktree', 'add', '--quiet', '--no-track', '-B', branch, path, start], clone.gitDir, { signal });
  }
  return { path, branch, head: start, pushedSha: pushed, startedFrom, setAside, stashed };
}

/** A readable directory name for a branch, unique per branch (`orchestrator/3-x` → `orchestrator-3-x-1a2b3c4d`). */
export function worktreeDirName(branch: string): string {
  const slug = branch.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '').slice(0, 60);
  return `${slug}-${createHash('sha256').update(branch).digest('hex').slice(0, 8)}`;
}

async function worktreeOf(clone: WorkerClone, branch: string, signal: AbortSignal | undefined): Promise<string | null> {
  const { stdout } = await runGit(['worktree', 'list', '--porcelain'], clone.gitDir, { signal });
  for (const block of stdout.split('\n\n')) {
    const lines = block.split('\n');
    const path = lines.find((line) => line.startsWith('worktree '))?.slice(9);
    if (path !== undefined && lines.includes(`branch refs/heads/${branch}`) && existsSync(path)) return path;
  }
  return null;
}

async function isRegisteredWorktree(clone: WorkerClone, path: string, signal: AbortSignal | undefined): Promise<boolean> {
  if (!existsSync(path)) return false;
  const { stdout } = await runGit(['worktree', 'list', '--porcelain'], clone.gitDir, { signal });
  return stdout.split('\n').includes(`worktree ${path}`);
}

/** Ends a merge, rebase or cherry-pick left half-way and stashes uncommitted files; true if something was stashed. */
async function setAsideUncommitted(path: string, branch: string, signal: AbortSignal | undefined): Promise<boolean> {
  for (const [state, abort] of [
    ['MERGE_HEAD', ['merge', '--abort']],
    ['CHERRY_PICK_HEAD', ['cherry-pick', '--abort']],
    ['REBASE_HEAD', ['rebase', '--abort']],
  ] as const) {
    if ((await resolveCommit(state, path, signal)) !== null) await runGit(abort, path, { allowedExitCodes: [0, 1, 128], signal });
  }
  const status = await runGit(['status', '--porcelain', '--untracked-files=all'], path, { signal });
  if (status.stdout.trim() === '') return false;
  await runGit(['-c', 'user.name=Orchestrator', '-c', 'user.email=orchestrator@localhost', 'stash', 'push', '--quiet', '--include-untracked', '-m', `orchestrator: uncommitted work left on ${branch}`], path, { signal });
  return true;
}

/** A push of the item branch: done, or refused with the reason and what to do. Never a throw for a refusal. */
export type ItemPushOutcome =
  | { kind: 'pushed'; sha: string }
  | { kind: 'up_to_date'; sha: string }
  | { kind: 'rejected'; reason: RefusalReason; remoteSha: string | null; localSha: string; hint: string };

export interface PushItemOptions {
  /** The item's worktree (or any directory of the worker clone). */
  cwd: string;
  branch: string;
  /** The branch's tip on the remote as this worker last fetched or pushed it; null if it was not there. */
  expected: string | null;
  clone: WorkerClone;
  signal?: AbortSignal;
}

/**
 * Pushes the local item branch so that it never overwrites work this worker has not seen: only if the remote
 * branch is still at `expected` (`--force-with-lease=refs/heads/<branch>:<expected>`), and only as a fast-forward
 * of it (a session that rewrote pushed commits is refused, not forced). Safe to call after every commit.
 */
export async function pushItemBranch(options: PushItemOptions): Promise<ItemPushOutcome> {
  const { cwd, branch, expected, clone, signal } = options;
  signal?.throwIfAborted();
  assertBranchName(branch);
  const ref = `refs/heads/${branch}`;
  const local = await resolveCommit(ref, cwd, signal);
  if (local === null) throw new OrchestratorError('ORCH_GIT_NO_SUCH_BRANCH', `there is no local branch ${branch} in ${cwd} to push`, { hint: 'Check the item out first (checkoutItemBranch).' });
  if (expected !== null && !(await isAncestor(expected, local, cwd, signal))) {
    return {
      kind: 'rejected',
      reason: 'not_fast_forward',
      remoteSha: expected,
      localSha: local,
      hint: `${branch} no longer contains the pushed ${expected.slice(0, 12)} (the session rewrote pushed commits: rebase, amend or reset). Nothing was pushed; add commits on top of the pushed ones (git merge, not rebase), or the job restarts from the pushed branch.`,
    };
  }
  const target = { cwd, remote: WORKER_REMOTE, location: clone.remote };
  const { line } = await pushWithLease(target, `${ref}:${ref}`, ref, expected, signal);
  if (line.flag === '=') return { kind: 'up_to_date', sha: local };
  if (line.flag !== '!') return { kind: 'pushed', sha: local };
  const reason = refusalReason(line.summary);
  const remoteSha = await remoteBranchTip(target, branch, signal);
  return {
    kind: 'rejected',
    reason,
    remoteSha,
    localSha: local,
    hint:
      reason === 'refused_by_remote'
        ? `the remote refused ${branch}: ${line.summary}. Nothing was pushed; check the remote's rules for this branch (protection, hooks).`
        : `${branch} moved on the remote (now ${remoteSha?.slice(0, 12) ?? 'deleted'}, expected ${expected?.slice(0, 12) ?? 'absent'}): another worker holds this item now, or it was merged. Nothing was overwritten; stop this session, its commits stay on the local branch and are set aside at the next checkout.`,
  };
}

/**
 * The item's worktree with the expected value kept for the caller: pushes run one at a time and each starts from
 * what the previous one pushed, so a push after a commit and the push after the session never race each other.
 */
export class ItemBranchWorktree {
  #pushedSha: string | null;
  #queue: Promise<unknown> = Promise.resolve();
  #waiting: Promise<ItemPushOutcome> | null = null;

  constructor(
    readonly clone: WorkerClone,
    readonly checkout: ItemCheckout,
  ) {
    this.#pushedSha = checkout.pushedSha;
  }

  static async open(clone: WorkerClone, options: CheckoutItemOptions): Promise<ItemBranchWorktree> {
    return new ItemBranchWorktree(clone, await checkoutItemBranch(clone, options));
  }

  get path(): string {
    return this.checkout.path;
  }

  /** The branch's tip on the remote as this worker last saw it (fetched or pushed). */
  get pushedSha(): string | null {
    return this.#pushedSha;
  }

  /** Pushes the branch as it is when this push's turn comes (after any push already running). */
  push(signal?: AbortSignal): Promise<ItemPushOutcome> {
    const run = this.#queue.then(async () => {
      this.#waiting = null;
      const outcome = await pushItemBranch({ cwd: this.checkout.path, branch: this.checkout.branch, expected: this.#pushedSha, clone: this.clone, ...(signal ? { signal } : {}) });
      if (outcome.kind !== 'rejected') this.#pushedSha = outcome.sha;
      return outcome;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Like push(), but joins a push that is queued and not started yet: it will carry every commit made so far. */
  pushLatest(signal?: AbortSignal): Promise<ItemPushOutcome> {
    if (this.#waiting !== null) return this.#waiting;
    const run = this.push(signal);
    this.#waiting = run;
    return run;
  }

  /**
   * Pushes after every commit on the branch (any move of its tip) until `signal` aborts; bursts of commits are
   * coalesced into one push. Each outcome goes to `onOutcome`: a `rejected` one means stop the session.
   */
  pushEachCommit(options: { signal: AbortSignal; onOutcome: (outcome: ItemPushOutcome) => void; onError: (error: unknown) => void }): void {
    watchBranch({
      gitDir: this.clone.gitDir,
      branch: this.checkout.branch,
      signal: options.signal,
      onError: options.onError,
      onMove: () => {
        this.pushLatest(options.signal).then(options.onOutcome, (error: unknown) => {
          if (!options.signal.aborted) options.onError(error);
        });
      },
    });
  }
}

/** Removes the item's worktree from this worker (after its merge); a worktree with uncommitted files is kept. */
export async function removeItemWorktree(clone: WorkerClone, branch: string, signal?: AbortSignal): Promise<{ removed: boolean }> {
  assertBranchName(branch);
  const path = await worktreeOf(clone, branch, signal);
  if (path === null) return { removed: false };
  const status = await runGit(['status', '--porcelain', '--untracked-files=all'], path, { signal });
  if (status.stdout.trim() !== '') return { removed: false };
  await runGit(['worktree', 'remove', path], clone.gitDir, { signal });
  // The local branch goes too, but only when the remote holds its tip: unpushed commits are never dropped.
  const tip = await resolveCommit(`refs/heads/${branch}`, clone.gitDir, signal);
  if (tip !== null) {
    const holders = await runGit(['for-each-ref', '--contains', tip, '--format=%(refname)', `refs/remotes/${WORKER_REMOTE}/`], clone.gitDir, { signal });
    if (holders.stdout.trim() !== '') await runGit(['update-ref', '-d', `refs/heads/${branch}`, tip], clone.gitDir, { signal });
  }
  return { removed: true };
}
