import { projectManagerPrompt } from '../agents/index.js';
import { checkMarkedCompleteAll, parseRoadmap } from '../roadmap/index.js';
import type { WorkItemRecord } from '../store/index.js';
import { Role } from './role-policies.js';
import type { SessionTicket } from './role-session.js';
import { priorityRef, rankOf, type StepContext } from './step-context.js';
import { WorkItemState } from './work-item-machine.js';

/**
 * The project manager marks every merged item of the batch complete in one session, in a worktree of its own
 * (the integration branch is not locked meanwhile); the orchestrator checks that exactly those statuses changed,
 * commits, and lands the commit by compare-and-set, replaying it if the branch moved (and checking again).
 * With workers the session is a job on a worker; its change comes back into the same worktree, uncommitted
 * (QueueSessionExecutor), so everything after the session is the same in both modes.
 */
export async function markDoneStep(ctx: StepContext, batch: readonly WorkItemRecord[], ticket: SessionTicket): Promise<void> {
  const { config } = ctx;
  const roadmapPath = config.roadmapPath;
  // The roadmap as on the tip of the integration branch, where the project manager's worktree starts: read once.
  const worktree = await ctx.repo.scratchWorktree('_roadmap', ctx.integrationBranch());
  const base = await ctx.repo.headSha('HEAD', worktree);
  const beforeText = await ctx.repo.readWorktreeFile(worktree, roadmapPath);
  const parsed = beforeText === null ? [] : parseRoadmap(beforeText, roadmapPath).items;
  const marked = (number: string) => parsed.find((entry) => entry.number === number)?.status === 'complete';
  // Marked before a restart (committed, then the process died): done without a session.
  for (const item of batch.filter((entry) => marked(entry.number))) {
    await ctx.transition(item, WorkItemState.done, `${roadmapPath} on ${ctx.integrationBranch()} already marks PRIORITY ${item.number} complete`);
  }
  const items = batch.filter((entry) => !marked(entry.number));
  const first = items[0];
  if (!first) return;
  const refs = items.map((item) => {
    const entry = parsed.find((candidate) => candidate.number === item.number);
    const line = entry?.statusLine ?? entry?.headingLine;
    return { ...priorityRef(item), ...(line !== undefined ? { statusAt: `line ${line}` } : {}) };
  });
  const numbers = items.map((item) => item.number);
  if (items.length > 1) for (const item of items) await ctx.audit(item, 'roadmap.batch', `the project manager marks ${numbers.map((number) => `PRIORITY ${number}`).join(', ')} in one session`, { items: numbers });
  const outcome = await ctx.sessions.run({ item: first, alsoFor: items.slice(1), role: Role.projectManager, cwd: worktree, prompt: projectManagerPrompt(refs, { roadmapPath, integrationBranch: ctx.integrationBranch(), workingDirectory: worktree }), branch: ctx.integrationBranch(), paths: { roadmapPath }, ticket, scratchBase: base });
  const failAll = async (reason: string, transient: boolean) => {
    for (const item of items) await ctx.failed(item, Role.projectManager, reason, transient);
  };
  if (!outcome.ok) return failAll(outcome.reason, outcome.transient);
  const problem = await verifyRoadmapUpdate(ctx, worktree, numbers, beforeText);
  if (problem !== null) return failAll(problem, false);
  const label = numbers.map((number) => `PRIORITY ${number}`).join(', ');
  const commit = await ctx.repo.commitFiles(worktree, [roadmapPath], `Roadmap: ${label} complete`);
  if (commit === null) return failAll(`${roadmapPath} is unchanged`, false);
  const landed = await ctx.gate.landCommit({ id: first.id, rank: rankOf(first), label: first.id }, base, commit, async (onto) => {
    // The branch moved (a merge landed): the same change, replayed on the new tip, must still be exactly it.
    const replayed = await ctx.repo.replayCommit(worktree, commit, onto);
    if (replayed === null) return null;
    const ontoText = await ctx.repo.showFile(onto, roadmapPath);
    const afterText = await ctx.repo.readWorktreeFile(worktree, roadmapPath);
    return ontoText !== null && afterText !== null && checkMarkedCompleteAll(ontoText, afterText, numbers, roadmapPath) === null ? replayed : null;
  });
  if (landed === null) {
    // Someone else changed those lines meanwhile: nothing landed; the next batch starts from the new tip.
    for (const item of items) await ctx.audit(item, 'roadmap.replay_failed', `${ctx.integrationBranch()} changed ${roadmapPath} while the project manager worked; its change no longer applies and is dropped`, {});
    return;
  }
  ctx.roadmapChanged();
  for (const item of items) await ctx.transition(item, WorkItemState.done, `${roadmapPath} marks PRIORITY ${item.number} ✅ Complete (${landed.slice(0, 7)})`);
}

/** null when the roadmap changed exactly as asked: these items' statuses complete (notes kept), every other line as before. */
async function verifyRoadmapUpdate(ctx: StepContext, worktree: string, numbers: readonly string[], beforeText: string | null): Promise<string | null> {
  const { config } = ctx;
  const dirty = await ctx.repo.dirtyFiles(worktree);
  const others = dirty.filter((file) => file !== config.roadmapPath);
  if (others.length > 0) return `the project manager changed files other than the roadmap: ${others.join(', ')}`;
  const afterText = await ctx.repo.readWorktreeFile(worktree, config.roadmapPath);
  if (afterText === null) return `${config.roadmapPath} is gone`;
  if (beforeText === null) return `${config.roadmapPath} was not on ${ctx.integrationBranch()} before the change`;
  return checkMarkedCompleteAll(beforeText, afterText, numbers, config.roadmapPath);
}

