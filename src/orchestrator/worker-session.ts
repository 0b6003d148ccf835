import type { RunId } from '../events/index.js';
import { ItemBranchWorktree, ensureWorkerClone, removeItemWorktree, type ItemPushOutcome } from '../git/index.js';
import { OrchestratorError, errorMessage } from '../lib/errors.js';
import type { SessionJobPayload } from '../queue/index.js';
import { RepoOps } from './repo-ops.js';
import type { ExecutedSession, InProcessSessionExecutor, SessionJob } from './session-executor.js';

/**
 * A role session as a worker on another machine gets it from the queue: the session itself (a SessionJob, which
 * names no path of the coordinator's machine and no secret), where the code is (the shared remote, without
 * credentials: the worker has its own access), and the run id the coordinator follows it by.
 */
export interface RemoteSession {
  runId: RunId;
  session: SessionJob;
  /** The shared remote's fetch URL, credentials stripped. */
  remote: string;
  integrationBranch: string;
}

/** A role session's job in the queue: the queue's own fields, the session, and the versions a worker must match. */
export interface RemoteSessionPayload extends SessionJobPayload {
  kind: 'role-session';
  remoteSession: RemoteSession;
  /** The coordinator's package version and database schema version: a worker that differs takes no job. */
  coordinatorVersion: string;
  schemaVersion: number;
}

export function remoteSessionPayload(remote: RemoteSession, versions: { coordinatorVersion: string; schemaVersion: number }): RemoteSessionPayload {
  const { session } = remote;
  return { kind: 'role-session', workItemId: session.workItemId, step: remoteSessionStep(session), role: session.role, attempt: session.attempt, remoteSession: remote, ...versions };
}

/**
 * The step a job is for: the role and its attempt. One work item never has two jobs for one step (the queue's job
 * key); a job restarted after a lost worker keeps its key, a new attempt after a task failure gets a new one.
 */
export function remoteSessionStep(session: Pick<SessionJob, 'role' | 'attempt'>): string {
  return `${session.role}#${session.attempt}`;
}

/**
 * Stands in a queued session's prompt for the path of the worktree it runs in: the coordinator replaces its own
 * worktree's path with it (a project manager's prompt names its working directory), the worker puts its own back.
 */
export const WORKTREE_PLACEHOLDER = '{{orchestrator:worktree}}';

/**
 * The branch on the shared remote that carries a scratch session's change (SessionJob.scratchBase) from its worker
 * to the coordinator: one per item, role and attempt, as the job key is, so a coordinator that restarts finds the
 * branch of the job it follows again. `_` keeps it apart from item branches (`orchestrator/<n>-<slug>`).
 */
export function scratchBranchName(session: Pick<SessionJob, 'role' | 'workItemId' | 'attempt'>): string {
  return `orchestrator/_${session.role}/${session.workItemId}-${session.attempt}`;
}

/** Checks a payload that crossed the database (the queue checked its own fields). */
export function parseRemoteSessionPayload(payload: SessionJobPayload): RemoteSessionPayload {
  const candidate = payload as Partial<RemoteSessionPayload>;
  const remote = candidate.remoteSession;
  if (typeof remote !== 'object' || remote === null || typeof remote.runId !== 'string' || typeof remote.remote !== 'string' || typeof remote.integrationBranch !== 'string' || typeof remote.session !== 'object' || remote.session === null) {
    throw new OrchestratorError('ORCH_JOB_PAYLOAD', `job for ${payload.workItemId} (${payload.step}) carries no session a worker can run`, { hint: 'The coordinator that queued it is of another version: update both to the same version.' });
  }
  if (typeof candidate.coordinatorVersion !== 'string' || typeof candidate.schemaVersion !== 'number') {
    throw new OrchestratorError('ORCH_JOB_PAYLOAD', `job for ${payload.workItemId} (${payload.step}) does not say which coordinator version queued it`, { hint: 'Update the coordinator and the workers to the same version.' });
  }
  return candidate as RemoteSessionPayload;
}

export interface WorkerSessionDeps {
  /** Runs the session in the worker's worktree, recording it in the shared store. */
  executor: InProcessSessionExecutor;
  /** Where this worker keeps its clones (one per repository). */
  cacheDir: string;
  signal: AbortSignal;
}

export interface WorkerSessionOutcome extends ExecutedSession {
  /** The item branch as pushed after the session (its deliverables committed). */
  pushed: ItemPushOutcome;
  /** Where the session ran on this worker. */
  worktree: string;
  /** Where the item's branch started from on this worker (the pushed branch, when an earlier job pushed it). */
  startedFrom: 'pushed_branch' | 'local_commits' | 'integration_branch';
}

/** How long the push after a stopped session may take. */
export const PUSH_AFTER_STOP_MS = 60_000;

/** A push of the item's branch was refused: another worker pushed newer work (the job is no longer this worker's). */
export class ItemBranchPushRejectedError extends OrchestratorError {
  constructor(branch: string, outcome: Extract<ItemPushOutcome, { kind: 'rejected' }>) {
    super('ORCH_ITEM_PUSH_REJECTED', `the push of ${branch} was refused (${outcome.reason}): the remote has ${outcome.remoteSha?.slice(0, 7) ?? 'nothing'}, this worker ${outcome.localSha.slice(0, 7)}`, {
      hint: outcome.hint,
      retryable: false,
      data: { branch, reason: outcome.reason },
    });
  }
}

/**
 * Runs one queued role session on this worker: its clone of the shared remote is fetched, the item's branch checked
 * out as pushed (continuing from the last push, so a job that moved here from a dead worker loses at most what was
 * not pushed), the session run there, every commit it makes pushed as it makes it, the role's deliverables (its
 * spec, review or roadmap file) committed after it, and the branch pushed. Pushes carry the expected remote tip, so
 * work pushed by another worker meanwhile is never overwritten: a refused push stops the session.
 *
 * A scratch session (the project manager's: `scratchBase` set) works on a branch of its own made at that commit of
 * the integration branch; everything it changed is committed, not only its deliverable, because the coordinator
 * judges the whole change (only the roadmap's status lines may differ), and its worktree here is removed once pushed.
 */
export async function runRemoteSession(remote: RemoteSession, deps: WorkerSessionDeps): Promise<WorkerSessionOutcome> {
  const { session: queued } = remote;
  const { signal } = deps;
  const scratchBase = queued.scratchBase;
  const clone = await ensureWorkerClone({ remoteUrl: remote.remote, cacheDir: deps.cacheDir, signal });
  const worktree = await ItemBranchWorktree.open(clone, { branch: queued.branch, integrationBranch: remote.integrationBranch, ...(scratchBase === undefined ? {} : { startAt: scratchBase }), signal });
  const session: SessionJob = { ...queued, prompt: queued.prompt.split(WORKTREE_PLACEHOLDER).join(worktree.path) };
  const pushing = new AbortController();
  const sessionSignal = AbortSignal.any([signal, pushing.signal]);
  let pushFailure: unknown = null;
  worktree.pushEachCommit({
    signal: pushing.signal,
    onOutcome: (outcome) => {
      if (outcome.kind !== 'rejected') return;
      pushFailure = new ItemBranchPushRejectedError(session.branch, outcome);
      pushing.abort(pushFailure);
    },
    onError: (error) => {
      // A push that failed (the remote out of reach) is tried again after the session; the session goes on.
      pushFailure ??= error;
    },
  });
  let executed: ExecutedSession;
  try {
    executed = await deps.executor.run(session, worktree.path, sessionSignal, { runId: remote.runId, integrationBranch: remote.integrationBranch });
  } finally {
    if (!pushing.signal.aborted) pushing.abort();
  }
  if (pushFailure instanceof ItemBranchPushRejectedError) throw pushFailure;
  const repo = new RepoOps(worktree.path);
  const changed = await repo.dirtyFiles(worktree.path);
  const deliverables = new Set(Object.values(session.paths).filter((path): path is string => typeof path === 'string'));
  const toCommit = scratchBase === undefined ? changed.filter((path) => deliverables.has(path)) : changed;
  if (toCommit.length > 0) await repo.commitFiles(worktree.path, toCommit, `${session.role} of ${session.workItemId}: ${toCommit.join(', ')}`);
  // A session this worker stopped (a drain's grace over, a second signal) still pushes what it did, so the worker that
  // takes the job next continues from it; that push gets a bounded time of its own.
  const pushSignal = signal.aborted ? AbortSignal.timeout(PUSH_AFTER_STOP_MS) : signal;
  const pushed = await worktree.pushLatest(pushSignal).catch((error: unknown) => {
    throw new OrchestratorError('ORCH_ITEM_PUSH_FAILED', `could not push ${session.branch} after the session: ${errorMessage(error)}`, {
      hint: 'Check that this worker can reach the shared remote (git.remote); the job is retried, and continues from what was pushed.',
      retryable: true,
      cause: error,
    });
  });
  if (pushed.kind === 'rejected') throw new ItemBranchPushRejectedError(session.branch, pushed);
  // Nothing here is continued later: the pushed branch is all the coordinator needs, and it deletes that.
  if (scratchBase !== undefined) await removeItemWorktree(clone, session.branch, pushSignal).catch(() => undefined);
  return { run: executed.run, pushed, worktree: worktree.path, startedFrom: worktree.checkout.startedFrom };
}
