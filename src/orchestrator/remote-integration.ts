import { deleteMergedRemoteBranch, deleteRemoteBranchAt, isAncestor, pushIntegrationBranch, remoteBranchTip, runGit, type DeleteMergedOutcome, type DeleteRemoteBranchOutcome } from '../git/index.js';
import { OrchestratorError } from '../lib/errors.js';
import type { RepoOps } from './repo-ops.js';

/** The integration branch here and on the remote no longer share a line: someone rewrote one of them. */
export class IntegrationBranchDivergedError extends OrchestratorError {
  constructor(branch: string, remote: string, local: string, remoteTip: string) {
    super('ORCH_INTEGRATION_DIVERGED', `${branch} here (${local.slice(0, 12)}) and on ${remote} (${remoteTip.slice(0, 12)}) have diverged: neither contains the other`, {
      hint: `Nothing was pushed or reset. Bring them back into one line by hand (merge ${remote}/${branch} into ${branch} here, or the reverse), then start again.`,
      data: { branch, local, remote: remoteTip },
    });
  }
}

export interface RemoteIntegrationOptions {
  repo: RepoOps;
  /** The remote's name in the coordinator's clone (git.remote), or its URL. */
  remote: string;
  integrationBranch: () => string;
  signal: AbortSignal;
}

/**
 * The coordinator's side of the shared remote (several machines): the integration branch is published there by
 * compare-and-set, so a push the coordinator has not seen is never overwritten, and item branches come from there,
 * as the workers pushed them. Without workers none of this runs.
 */
export class RemoteIntegration {
  constructor(private readonly options: RemoteIntegrationOptions) {}

  get remote(): string {
    return this.options.remote;
  }

  /**
   * At start: the local integration branch and the remote's in one line. The remote's commits (pushed by someone
   * else) are taken in by fast-forward; local commits the remote lacks (a landing a crash kept from being pushed)
   * are pushed. Diverged: refused, nothing changed.
   */
  async reconcile(): Promise<void> {
    const { repo } = this.options;
    const branch = this.options.integrationBranch();
    const local = await repo.headSha(`refs/heads/${branch}`);
    const remoteTip = await this.#remoteTip(branch);
    if (remoteTip === local) return;
    if (remoteTip !== null) await this.#fetch(branch);
    if (remoteTip === null || (await this.#contains(local, remoteTip))) {
      const pushed = await pushIntegrationBranch({ cwd: repo.root, remote: this.options.remote, branch, expected: remoteTip, next: local, signal: this.options.signal });
      if (pushed.kind === 'moved') return this.reconcile();
      return;
    }
    if (await this.#contains(remoteTip, local)) {
      if (!(await repo.advanceBranch(branch, local, remoteTip))) return this.reconcile();
      return;
    }
    throw new IntegrationBranchDivergedError(branch, this.options.remote, local, remoteTip);
  }

  /**
   * Moves the integration branch from `base` to `next` on the remote first (compare-and-set on `base`), then here.
   * False when it moved meanwhile: here (a commit in the user's checkout), or on the remote, whose new commits are
   * then taken in so that the change is made again on top of them.
   */
  async advance(branch: string, base: string, next: string): Promise<boolean> {
    const { repo } = this.options;
    if ((await repo.headSha(`refs/heads/${branch}`)) !== base) return false;
    const pushed = await pushIntegrationBranch({ cwd: repo.root, remote: this.options.remote, branch, expected: base, next, signal: this.options.signal });
    if (pushed.kind === 'moved') {
      if (pushed.actual === null) throw new OrchestratorError('ORCH_INTEGRATION_GONE', `${branch} was deleted on ${this.options.remote}`, { hint: `Push ${branch} to ${this.options.remote} again (git push ${this.options.remote} ${branch}), then start again.` });
      await this.#fetch(branch);
      if (!(await this.#contains(pushed.actual, base))) throw new IntegrationBranchDivergedError(branch, this.options.remote, base, pushed.actual);
      await repo.advanceBranch(branch, base, pushed.actual);
      return false;
    }
    if (!(await repo.advanceBranch(branch, base, next))) {
      // Published, but the branch here moved between the check and now (a commit in the user's checkout).
      const local = await repo.headSha(`refs/heads/${branch}`);
      throw new IntegrationBranchDivergedError(branch, this.options.remote, local, next);
    }
    return true;
  }

  /**
   * Brings the coordinator's worktree of an item to the branch as its worker pushed it (a fast-forward: the
   * coordinator never commits on an item branch while its jobs run elsewhere). A branch the remote lacks is left.
   */
  async syncItemBranch(worktree: string, branch: string): Promise<void> {
    const tip = await this.#remoteTip(branch);
    if (tip === null) return;
    await this.#fetch(branch);
    const head = await this.options.repo.headSha('HEAD', worktree);
    if (head === tip) return;
    const merged = await runGit(['merge', '--ff-only', '--quiet', tip], worktree, { allowedExitCodes: [0, 1, 128], signal: this.options.signal });
    if (merged.exitCode !== 0) {
      throw new OrchestratorError('ORCH_ITEM_BRANCH_DIVERGED', `${branch} in ${worktree} (${head.slice(0, 12)}) is not an ancestor of ${branch} as pushed (${tip.slice(0, 12)})`, {
        hint: `Nothing was reset. Compare them (git log ${head.slice(0, 12)}...${tip.slice(0, 12)}) and keep what matters on the pushed branch; then unblock the item.`,
        data: { branch, local: head, pushed: tip },
      });
    }
  }

  /**
   * Makes sure `commit` (the integration branch here, or one of its commits) is on the remote's integration branch,
   * so that a worker can start from it: when the remote lacks it (a commit made in the user's checkout since the
   * last landing), the remote's branch is moved up to it by compare-and-set, the one push the coordinator makes.
   */
  async publishUpTo(commit: string): Promise<void> {
    const { repo } = this.options;
    const branch = this.options.integrationBranch();
    for (;;) {
      const remoteTip = await this.#remoteTip(branch);
      if (remoteTip === commit) return;
      if (remoteTip !== null) {
        await this.#fetch(branch);
        if (await this.#contains(remoteTip, commit)) return;
        if (!(await this.#contains(commit, remoteTip))) throw new IntegrationBranchDivergedError(branch, this.options.remote, commit, remoteTip);
      }
      const pushed = await pushIntegrationBranch({ cwd: repo.root, remote: this.options.remote, branch, expected: remoteTip, next: commit, signal: this.options.signal });
      if (pushed.kind === 'pushed') return;
    }
  }

  /**
   * Takes the change a worker pushed on a scratch branch (a project manager's session: every file it changed,
   * committed by the worker) into the coordinator's scratch worktree, uncommitted, for the same checks as a session
   * that ran here. The change is the branch's own commits (from where it forked from the worktree's HEAD), so a
   * branch made at an earlier commit (a job queued before a restart) brings only its own change. Returns the
   * branch's tip, or null when the remote does not have the branch (nothing was pushed).
   */
  async takeScratchChange(worktree: string, branch: string): Promise<string | null> {
    const { repo } = this.options;
    const tip = await this.#remoteTip(branch);
    if (tip === null) return null;
    await this.#fetch(branch);
    await repo.applyChange(worktree, await repo.mergeBase(worktree, tip), tip);
    return tip;
  }

  /** Deletes a scratch branch on the remote (at `expected`, else at its tip now), merged or not: it only carried a change here. */
  deleteScratchBranch(branch: string, expected?: string): Promise<DeleteRemoteBranchOutcome> {
    return deleteRemoteBranchAt({ cwd: this.options.repo.root, remote: this.options.remote, branch, ...(expected === undefined ? {} : { expected }), signal: this.options.signal });
  }

  /** Deletes a merged item branch on the remote, only if its tip there is in the integration branch. */
  deleteMergedBranch(branch: string): Promise<DeleteMergedOutcome> {
    return deleteMergedRemoteBranch({ cwd: this.options.repo.root, remote: this.options.remote, branch, mergedInto: this.options.integrationBranch(), signal: this.options.signal });
  }

  #remoteTip(branch: string): Promise<string | null> {
    return remoteBranchTip({ cwd: this.options.repo.root, remote: this.options.remote }, branch, this.options.signal);
  }

  async #fetch(branch: string): Promise<void> {
    await runGit(['fetch', '--quiet', this.options.remote, `refs/heads/${branch}`], this.options.repo.root, { signal: this.options.signal });
  }

  /** True when `descendant` contains `ancestor` (both present here: fetched first when from the remote). */
  #contains(descendant: string, ancestor: string): Promise<boolean> {
    return isAncestor(ancestor, descendant, this.options.repo.root, this.options.signal);
  }
}
