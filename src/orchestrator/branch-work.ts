import type { RepoOps } from './repo-ops.js';

/**
 * What a developer's (or bug fixer's) branch holds of its own work, judged from git alone, so that it reads the
 * same before and after a crash: the work starts after the newest of
 *   - the commit that added the item's last review (the reviewer saw everything before it), or
 *   - the commit that added the item's spec on the branch (the orchestrator's, not the developer's), or
 *   - the branch's merge-base with the integration branch;
 * and the commits after that base are the developer's delivery. Never "the commit the run started from": a
 * session resumed after a crash may find its work already committed by the session before.
 */
export interface BranchWork {
  base: string;
  baseKind: 'review' | 'spec' | 'merge-base';
  /** `<short sha> <subject>`, newest first (first-parent line of the branch). */
  commits: string[];
}

export interface BranchWorkPaths {
  specPath: string | null;
  /** A pathspec matching every review file of this item, e.g. `docs/reviews/REVIEW-3-*.md`. */
  reviewGlob: string;
}

export async function branchWork(repo: RepoOps, worktree: string, integrationBranch: string, paths: BranchWorkPaths): Promise<BranchWork> {
  const mergeBase = await repo.mergeBase(worktree, integrationBranch);
  const candidates: { sha: string; kind: BranchWork['baseKind'] }[] = [];
  const review = await repo.commitAdding(worktree, paths.reviewGlob);
  if (review) candidates.push({ sha: review, kind: 'review' });
  const spec = paths.specPath ? await repo.commitAdding(worktree, paths.specPath) : null;
  if (spec) candidates.push({ sha: spec, kind: 'spec' });
  // Every candidate is an ancestor of HEAD: the newest one leaves the fewest branch commits after it.
  let best: BranchWork = { base: mergeBase, baseKind: 'merge-base', commits: await repo.branchCommitsSince(worktree, mergeBase) };
  for (const candidate of candidates) {
    const commits = await repo.branchCommitsSince(worktree, candidate.sha);
    if (commits.length < best.commits.length) best = { base: candidate.sha, baseKind: candidate.kind, commits };
  }
  return best;
}

export function describeBase(work: Pick<BranchWork, 'base' | 'baseKind'>, integrationBranch: string): string {
  const short = work.base.slice(0, 7);
  switch (work.baseKind) {
    case 'review':
      return `the last review (${short})`;
    case 'spec':
      return `the spec commit (${short})`;
    case 'merge-base':
      return `its fork from ${integrationBranch} (${short})`;
  }
}
