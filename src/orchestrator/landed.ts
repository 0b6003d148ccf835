import type { WorkItemId } from '../events/index.js';
import type { RunRecord, RunSummary, Store } from '../store/index.js';
import { checkFileDelivered, parseReviewVerdict } from './deliverables.js';
import type { RepoOps } from './repo-ops.js';

/**
 * Deliverables that landed before the orchestrator stopped (a crash, kill -9, the OOM killer) but were not yet
 * acted on. After a restart each step asks here first, so work already on disk or on a branch is accepted
 * instead of being asked for again (and then judged "not delivered" because the new session had nothing to add).
 * Everything is read from the repository and the store, never from memory of the process that died.
 */

/** The last run of `agent` for the item, if a crash orphaned it: the next run continues it (same attempt, same session). */
export async function orphanedRunOf(store: Store, workItemId: WorkItemId, agent: string): Promise<RunSummary | null> {
  const [last] = await store.listRuns({ workItemId, agent, limit: 1 });
  return last?.status === 'orphaned' ? last : null;
}

/** The Claude Code session id of a run (from the run, or else from the first message of its last invocation). */
export async function sessionIdOf(store: Store, run: RunSummary): Promise<string | undefined> {
  if (run.sessionId) return run.sessionId;
  const [invocation] = (await store.listInvocations(run.id)).slice(-1);
  if (!invocation) return undefined;
  if (invocation.sessionId) return invocation.sessionId;
  const [first] = await store.listMessages({ invocationId: invocation.id, limit: 1 });
  const sessionId = first?.payload.session_id;
  return typeof sessionId === 'string' && sessionId.length > 0 ? sessionId : undefined;
}

/** Audit kinds that mean the orchestrator judged a run's delivery (moved the item on, or refused the attempt). */
const JUDGED = new Set(['work_item.transitioned', 'attempt.failed', 'retry.scheduled']);

/**
 * The last run of `agent` for the item if it succeeded but the orchestrator never judged what it delivered
 * (it stopped between the session's end and the checks): the checks run now, without a new session.
 */
export async function unjudgedSuccessOf(store: Store, workItemId: WorkItemId, agent: string): Promise<RunRecord | null> {
  const [last] = await store.listRuns({ workItemId, agent, limit: 1 });
  if (!last || last.status !== 'succeeded' || last.endedAt === null) return null;
  const endedAt = last.endedAt;
  const events = await store.listEvents({ workItemId, limit: 100_000 });
  return events.some((event) => JUDGED.has(event.kind) && event.at >= endedAt) ? null : last;
}

export interface LandedReview {
  reviewPath: string;
  text: string;
  committed: boolean;
}

/**
 * A review of the branch's current work that is already there: written for HEAD (not yet committed), or
 * committed by the orchestrator as HEAD on top of the commit it reviewed. Only a review with a verdict counts.
 */
export async function landedReview(repo: RepoOps, worktree: string, reviewPathFor: (sha: string) => string): Promise<LandedReview | null> {
  const head = await repo.headSha('HEAD', worktree);
  const uncommitted = await readVerdictFile(worktree, reviewPathFor(head));
  if (uncommitted) return { ...uncommitted, committed: false };
  const parent = await repo.headSha('HEAD^', worktree).catch(() => null);
  if (parent === null) return null;
  const committedPath = reviewPathFor(parent);
  if (!(await repo.filesChangedBy(worktree, 'HEAD')).includes(committedPath)) return null;
  const committed = await readVerdictFile(worktree, committedPath);
  return committed ? { ...committed, committed: true } : null;
}

async function readVerdictFile(worktree: string, reviewPath: string): Promise<{ reviewPath: string; text: string } | null> {
  const file = await checkFileDelivered(worktree, reviewPath);
  return file.ok && parseReviewVerdict(file.text) !== null ? { reviewPath, text: file.text } : null;
}

export interface DeveloperBriefing {
  /** Files whose merge into the integration branch conflicted, when the item came back from `merging` for that. */
  conflictFiles: string[] | null;
  /** Why the last attempt since then was not accepted. */
  previousFailure: string | null;
}

/**
 * What the developer must be told on its next session, read from the audit trail: the process that knew it may
 * have died since. It covers the current stay in `implementing` (since its last transition, which led there).
 */
export async function developerBriefing(store: Store, workItemId: WorkItemId): Promise<DeveloperBriefing> {
  const events = await store.listEvents({ workItemId, limit: 100_000 });
  const entered = events.findLastIndex((event) => event.kind === 'work_item.transitioned');
  if (entered < 0 || events[entered]?.data.to !== 'implementing') return { conflictFiles: null, previousFailure: null };
  const fromMerge = events[entered]?.data.from === 'merging';
  const mergeOutcome = fromMerge ? events.slice(0, entered).findLast((event) => event.kind === 'merge.conflicted' || event.kind === 'merge.tests_failed') : undefined;
  const files = mergeOutcome?.kind === 'merge.conflicted' ? mergeOutcome.data.files : undefined;
  const failure = events.slice(entered + 1).findLast((event) => event.kind === 'attempt.failed');
  const mergeFailure = mergeOutcome?.kind === 'merge.tests_failed' ? mergeOutcome.message : null;
  return {
    conflictFiles: Array.isArray(files) && files.every((file) => typeof file === 'string') ? files : null,
    previousFailure: failure ? failure.message.replace(/^.*? not accepted: /, '') : mergeFailure,
  };
}
