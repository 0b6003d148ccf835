import { killRunProcesses } from '../runtime/index.js';
import type { WorkItemRecord } from '../store/index.js';
import { nowIso } from '../lib/time.js';
import { mergeTestMarker, type GateClient } from './integration-gate.js';
import { rankOf, type DeveloperNotes, type StepContext } from './step-context.js';
import { WorkItemState } from './work-item-machine.js';

/**
 * Lands an approved branch: the merge commit is made and tested in the item's own worktree, then the integration
 * branch advances by compare-and-set under the lock (see IntegrationGate). Holds no session slot.
 */
export async function mergeStep(ctx: StepContext, item: WorkItemRecord, notes: DeveloperNotes): Promise<void> {
  const { config, store } = ctx;
  const branch = ctx.branchFor(item);
  const next = item.kind === 'bug' ? WorkItemState.done : WorkItemState.markingDone;
  // Tests of a merge prepared before a restart may have outlived the crash (their own process group): end them.
  await killRunProcesses(mergeTestMarker(ctx.repo.root, item.id), null, config.runtime.stopGraceSeconds * 1000);
  // Stopped after the merge, between deleting the merged branch and recording it: the merge commit says it is done.
  if (!(await ctx.repo.branchExists(branch))) {
    const mergeCommit = await ctx.repo.mergeCommitOf(branch, ctx.integrationBranch());
    if (mergeCommit === null) {
      await ctx.block(item, `branch ${branch} is gone and ${ctx.integrationBranch()} has no merge of it; restore the branch (git reflog) and unblock the item`);
      return;
    }
    await ctx.audit(item, 'merge.completed', `${branch} was merged into ${ctx.integrationBranch()} at ${mergeCommit.slice(0, 7)} before the restart`, {});
    await store.updateWorkItem(item.id, { worktree: null, updatedAt: nowIso() });
    await ctx.transition(item, next, `merged into ${ctx.integrationBranch()}`);
    return;
  }
  const worktree = await ctx.worktreeFor(item);
  const client: GateClient = { id: item.id, rank: rankOf(item), label: item.id };
  const message = `Merge ${branch}: ${item.kind === 'bug' ? 'BUG' : 'PRIORITY'} ${item.number} ${item.title}`;
  const outcome = await ctx.gate.landBranch(client, worktree, branch, message, async (from, to, retests) => {
    await ctx.audit(item, 'merge.retest', `the merge of ${branch} was made on ${from.slice(0, 7)}, which did not become ${ctx.integrationBranch()} (now at ${to.slice(0, 7)}): made and tested again (${retests} of ${config.merge.maxRetests} before it is tested alone, holding the lock)`, { from, to, retests });
  });
  switch (outcome.kind) {
    case 'shutdown':
      return;
    case 'conflict': {
      const conflicts = (item.attempts.merge_conflicts ?? 0) + 1;
      await store.updateWorkItem(item.id, { attempts: { ...item.attempts, merge_conflicts: conflicts }, updatedAt: nowIso() });
      await ctx.audit(item, 'merge.conflicted', `merging ${branch} into ${ctx.integrationBranch()} conflicted in ${outcome.files.join(', ')}; merge aborted, nothing changed`, { files: outcome.files });
      if (conflicts > config.retries.maxAttempts) {
        await ctx.block(item, `merge into ${ctx.integrationBranch()} still conflicts after ${config.retries.maxAttempts} resolution attempt(s): ${outcome.files.join(', ')}`);
        return;
      }
      notes.conflicts.set(item.id, outcome.files);
      await ctx.transition(item, WorkItemState.implementing, `merge conflict in ${outcome.files.join(', ')}: the developer resolves it on ${branch}`);
      return;
    }
    case 'tests_failed': {
      const failures = (item.attempts.merge_test_failures ?? 0) + 1;
      const what = `\`${config.testCommand ?? ''}\` ${outcome.tests.timedOut ? 'timed out' : `failed (exit ${String(outcome.tests.exitCode)})`} on the merge of ${branch} into ${ctx.integrationBranch()} at ${outcome.base.slice(0, 7)}: ${outcome.tests.outputTail.slice(-5).join(' | ')}`;
      await store.updateWorkItem(item.id, { attempts: { ...item.attempts, merge_test_failures: failures }, updatedAt: nowIso() });
      await ctx.audit(item, 'merge.tests_failed', what, { base: outcome.base });
      if (failures > config.retries.maxAttempts) {
        await ctx.block(item, `tests still fail on the merge into ${ctx.integrationBranch()} after ${config.retries.maxAttempts} attempt(s): ${what}`);
        return;
      }
      notes.lastFailure.set(item.id, `${what}. Merge ${ctx.integrationBranch()} into ${branch} and make the tests pass.`);
      await ctx.transition(item, WorkItemState.implementing, `tests fail on the merge into ${ctx.integrationBranch()}: back to the developer`);
      return;
    }
    case 'landed':
    case 'nothing_to_merge':
      break;
  }
  await ctx.audit(item, 'merge.completed', outcome.kind === 'landed' ? `merged ${branch} into ${ctx.integrationBranch()} at ${outcome.sha.slice(0, 7)}${outcome.retests > 0 ? ` after ${outcome.retests} re-test(s)` : ''}` : `${branch} was already merged`, {});
  ctx.notice('info', `merged ${branch} into ${ctx.integrationBranch()}`);
  ctx.roadmapChanged();
  await ctx.repo.cleanupMerged(worktree, branch, ctx.integrationBranch());
  await ctx.mergedBranchDone(branch);
  await store.updateWorkItem(item.id, { worktree: null, updatedAt: nowIso() });
  await ctx.transition(item, next, `merged into ${ctx.integrationBranch()}`);
    }

