import { OrchestratorError } from '../lib/errors.js';
import { assertBranchName, hasCommit, isAncestor, runGit } from './git-command.js';
import { pushWithLease, refusalReason, remoteBranchTip, remoteBranchTips, type RemoteTarget } from './remote-refs.js';

/** `next` does not contain `expected`: publishing it would drop merged work. A bug of the caller, never retried. */
export class NotFastForwardError extends OrchestratorError {
  constructor(branch: string, expected: string, next: string) {
    super('ORCH_GIT_NOT_FAST_FORWARD', `refusing to push ${next.slice(0, 12)} to ${branch}: it does not contain ${expected.slice(0, 12)}, the tip it would replace`, {
      hint: `The integration branch only moves forward. Fetch, merge onto the remote's ${branch} (${expected.slice(0, 12)}), and push the result.`,
      data: { branch, expected, next },
    });
  }
}

export class RemotePushRefusedError extends OrchestratorError {
  constructor(branch: string, summary: string) {
    super('ORCH_GIT_PUSH_REFUSED', `the remote refused the update of ${branch}: ${summary}`, {
      hint: `Check the remote's rules for ${branch} (branch protection, server hooks) and that this machine may push to it.`,
      data: { branch, summary },
    });
  }
}

export interface PushIntegrationOptions extends RemoteTarget {
  /** The integration branch (default `main`). */
  branch: string;
  /** Its tip on the remote as the coordinator last fetched it (null: the remote does not have it yet). */
  expected: string | null;
  /** The commit to publish; must contain `expected`. */
  next: string;
  signal?: AbortSignal;
}

export type IntegrationPushOutcome = { kind: 'pushed'; sha: string } | { kind: 'moved'; actual: string | null };

/**
 * Compare-and-set of the integration branch on the remote:
 * `git push --force-with-lease=refs/heads/<branch>:<expected> <remote> <next>:refs/heads/<branch>`, and only when
 * `next` contains `expected` (checked first: NotFastForwardError). If the remote is no longer at `expected`
 * (someone pushed), nothing changes and the outcome is `moved` with the remote's tip: fetch, merge again, retry.
 */
export async function pushIntegrationBranch(options: PushIntegrationOptions): Promise<IntegrationPushOutcome> {
  const { branch, expected, next, signal } = options;
  signal?.throwIfAborted();
  assertBranchName(branch);
  if (expected !== null && !(await isAncestor(expected, next, options.cwd, signal))) throw new NotFastForwardError(branch, expected, next);
  const ref = `refs/heads/${branch}`;
  const { line } = await pushWithLease(options, `${next}:${ref}`, ref, expected, signal);
  if (line.flag !== '!') return { kind: 'pushed', sha: next };
  if (refusalReason(line.summary) === 'refused_by_remote') throw new RemotePushRefusedError(branch, line.summary);
  return { kind: 'moved', actual: await remoteBranchTip(options, branch, signal) };
}

export interface DeleteMergedOptions extends RemoteTarget {
  branch: string;
  /** The integration branch the item branch must be merged into (its tip on the remote is what counts). */
  mergedInto: string;
  /** When given, the branch is deleted only if its remote tip is this commit (the one whose merge was verified). */
  expected?: string;
  signal?: AbortSignal;
}

export type DeleteMergedOutcome =
  | { kind: 'deleted'; sha: string }
  | { kind: 'absent' }
  | { kind: 'not_merged'; sha: string }
  | { kind: 'moved'; actual: string | null };

/**
 * Deletes an item branch on the remote once its merge is verified there: its remote tip must be an ancestor of
 * the remote's `mergedInto`, and the delete is itself a compare-and-set on that tip, so a branch someone pushed
 * to in between is kept (`moved`). An unmerged branch is never deleted (`not_merged`).
 */
export async function deleteMergedRemoteBranch(options: DeleteMergedOptions): Promise<DeleteMergedOutcome> {
  const { branch, mergedInto, signal } = options;
  signal?.throwIfAborted();
  assertBranchName(branch);
  assertBranchName(mergedInto);
  const tips = await remoteBranchTips(options, [branch, mergedInto], signal);
  const tip = tips.get(branch) ?? null;
  const integration = tips.get(mergedInto) ?? null;
  if (tip === null) return { kind: 'absent' };
  if (options.expected !== undefined && tip !== options.expected) return { kind: 'moved', actual: tip };
  if (integration === null) return { kind: 'not_merged', sha: tip };
  if (!(await hasCommit(tip, options.cwd, signal)) || !(await hasCommit(integration, options.cwd, signal))) {
    await runGit(['fetch', '--quiet', '--no-tags', '--', options.remote, `refs/heads/${branch}`, `refs/heads/${mergedInto}`], options.cwd, { signal, remote: options.location, retryable: true });
  }
  // Fetched after ls-remote: if the branch moved in between, its old tip may be missing here; the lease decides.
  if (!(await hasCommit(tip, options.cwd, signal)) || !(await hasCommit(integration, options.cwd, signal))) {
    return { kind: 'moved', actual: await remoteBranchTip(options, branch, signal) };
  }
  if (!(await isAncestor(tip, integration, options.cwd, signal))) return { kind: 'not_merged', sha: tip };
  const ref = `refs/heads/${branch}`;
  const { line } = await pushWithLease(options, `:${ref}`, ref, tip, signal);
  if (line.flag === '-') return { kind: 'deleted', sha: tip };
  if (line.flag === '!' && refusalReason(line.summary) === 'refused_by_remote') throw new RemotePushRefusedError(branch, line.summary);
  return { kind: 'moved', actual: await remoteBranchTip(options, branch, signal) };
}

export interface DeleteRemoteBranchOptions extends RemoteTarget {
  branch: string;
  /** The tip the branch must still have on the remote; without it, whatever tip `ls-remote` reads just before. */
  expected?: string;
  signal?: AbortSignal;
}

export type DeleteRemoteBranchOutcome = { kind: 'deleted'; sha: string } | { kind: 'absent' } | { kind: 'moved'; actual: string | null };

/**
 * Deletes a branch on the remote by compare-and-set on its tip, merged or not: for a branch that only carried a
 * change to the coordinator (a project manager's scratch branch, whose change the coordinator took in, judged and
 * committed itself), never for an item branch (deleteMergedRemoteBranch). A branch someone pushed to since is kept
 * (`moved`).
 */
export async function deleteRemoteBranchAt(options: DeleteRemoteBranchOptions): Promise<DeleteRemoteBranchOutcome> {
  const { branch, signal } = options;
  signal?.throwIfAborted();
  assertBranchName(branch);
  const tip = options.expected ?? (await remoteBranchTip(options, branch, signal));
  if (tip === null) return { kind: 'absent' };
  const ref = `refs/heads/${branch}`;
  const { line } = await pushWithLease(options, `:${ref}`, ref, tip, signal);
  if (line.flag === '-') return { kind: 'deleted', sha: tip };
  if (line.flag === '!' && refusalReason(line.summary) === 'refused_by_remote') throw new RemotePushRefusedError(branch, line.summary);
  const actual = await remoteBranchTip(options, branch, signal);
  return actual === null ? { kind: 'absent' } : { kind: 'moved', actual };
}
