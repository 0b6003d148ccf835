import { setTimeout as sleep } from 'node:timers/promises';
import {
  architectPrompt,
  bugFixerPrompt,
  developerPrompt,
  projectManagerPrompt,
  reviewerPrompt,
  type AgentDefinition,
} from '../agents/index.js';
import type { ResolvedConfig } from '../config/index.js';
import type { EventBus, RunId, WorkItemId } from '../events/index.js';
import { BudgetExceededError, RoadmapParseError, StoppedError, errorMessage } from '../lib/errors.js';
import { nowIso } from '../lib/time.js';
import { RUN_MARKER_ENV, killRunProcesses } from '../runtime/index.js';
import { checkMarkedComplete, specFileName, branchName, slugify, type RoadmapItem } from '../roadmap/index.js';
import type { Store, WorkItemRecord } from '../store/index.js';
import { priceTable } from '../usage/index.js';
import { branchWork, describeBase } from './branch-work.js';
import { checkFileDelivered, parseReviewVerdict, runTestCommand } from './deliverables.js';
import { developerBriefing, landedReview, orphanedRunOf, roadmapMarksComplete, sessionIdOf, unjudgedSuccessOf } from './landed.js';
import { ConcurrencyLimiter, Mutex } from './limiter.js';
import { createToolPolicy } from './permissions.js';
import { backoffDelayMs, isTransientFailure } from './retry.js';
import { RepoOps } from './repo-ops.js';
import { formatRoadmapProblem, readRoadmapSnapshot, type RoadmapSnapshot } from './roadmap-source.js';
import { loadAgentRegistry, resolveRoleAgents } from './role-agents.js';
import { Role, rolePolicy } from './role-policies.js';
import { runAgent, type MessageSink, type RunAgentResult } from './run-agent.js';
import { WorkItemState, assertTransition, type WorkItemState as State } from './work-item-machine.js';

export interface SupervisorOptions {
  config: ResolvedConfig;
  store: Store;
  bus: EventBus;
  messages: MessageSink;
  cliPath: string;
  /** Stop when no work item can make progress (all done or blocked), instead of waiting for new work. */
  untilIdle?: boolean;
  /** Aborting it stops new work and stops running sessions (with their grace); items keep their state. */
  signal: AbortSignal;
  /** How often to look for new roadmap items and bugs when idle. */
  pollIntervalMs?: number;
}

export interface SupervisorReport {
  items: WorkItemRecord[];
  stoppedBy: 'idle' | 'signal' | 'budget';
}

const BUG_SEVERITY_ORDER: Record<string, number> = { critical: 0, high: 1, medium: 3, low: 4 };
const ROADMAP_STARTABLE = new Set(['planned', 'in_progress']);
/** How many roadmap problems one notice burst shows; the rest are counted (status and plan list all). */
const ROADMAP_PROBLEMS_ANNOUNCED = 10;

/**
 * The long-running loop: reads the roadmap from the integration branch, keeps one work item per priority or
 * bug, and moves each through its state machine one step at a time (one agent run, or a merge), under the
 * concurrency limits and budgets. Every decision comes from the repository (files, commits, test exit codes).
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #repo: RepoOps;
  readonly #limiter: ConcurrencyLimiter;
  readonly #integrationMutex = new Mutex();
  readonly #active = new Map<WorkItemId, Promise<void>>();
  readonly #notBefore = new Map<WorkItemId, number>();
  readonly #lastFailure = new Map<WorkItemId, string>();
  readonly #transientFailures = new Map<WorkItemId, number>();
  readonly #conflicts = new Map<WorkItemId, string[]>();
  readonly #agents = new Map<string, AgentDefinition>();
  #integrationBranch = '';
  #lastRoadmapSha = '';
  #roadmap: RoadmapSnapshot | null = null;
  #announcedProblems: string | null = null;
  #budgetNoticeShown = false;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#repo = new RepoOps(options.config.repoRoot);
    this.#limiter = new ConcurrencyLimiter(options.config.concurrency.maxRuns, options.config.concurrency.perRole);
  }

  get integrationBranch(): string {
    return this.#integrationBranch;
  }

  /** The roadmap as last read from the integration branch (items, duplicates, problems), for the start banner. */
  get roadmap(): RoadmapSnapshot | null {
    return this.#roadmap;
  }

  /** Checks the repository and agents before any work: every problem is an error naming the fix. */
  async prepare(): Promise<void> {
    const { config } = this.#options;
    this.#integrationBranch = config.integrationBranch ?? (await this.#repo.currentBranch());
    await this.#repo.assertBranchExists(this.#integrationBranch);
    const { agents, defaulted } = resolveRoleAgents(await loadAgentRegistry(config));
    for (const [role, agent] of agents) this.#agents.set(role, agent);
    if (defaulted.length > 0) this.#notice('info', `no agent file for ${defaulted.join(', ')}: using the built-in default (\`orchestrator init\` writes it to ${config.agentsDir}/ to edit)`);
    await this.syncRoadmap();
  }

  /** Runs until idle (with untilIdle), or until the signal aborts. */
  async run(): Promise<SupervisorReport> {
    const { signal, store } = this.#options;
    const pollMs = this.#options.pollIntervalMs ?? 2_000;
    let stoppedBy: SupervisorReport['stoppedBy'] = 'signal';
    while (!signal.aborted) {
      try {
        await this.syncRoadmap();
      } catch (error) {
        if (error instanceof RoadmapParseError) throw error;
        this.#notice('warn', `could not read the roadmap: ${errorMessage(error)}`);
      }
      const items = await store.listWorkItems();
      const budget = await this.#budgetState();
      let waiting = false;
      for (const item of prioritize(items)) {
        if (signal.aborted) break;
        if (this.#active.has(item.id) || item.state === 'done' || item.state === 'blocked') continue;
        if (!dependenciesDone(item, items)) {
          waiting = waiting || items.some((other) => item.dependsOn.includes(other.number) && other.state !== 'blocked');
          continue;
        }
        // The budget first: an item held back by an earlier budget stop is not "waiting" for anything but tomorrow.
        const role = roleFor(item);
        if (role !== null && budget.exhausted) {
          if (!this.#budgetNoticeShown) this.#notice('warn', `daily budget of $${budget.limit} reached ($${budget.spent.toFixed(4)} spent today): no new sessions until tomorrow`);
          this.#budgetNoticeShown = true;
          continue;
        }
        const notBefore = this.#notBefore.get(item.id) ?? 0;
        if (notBefore > Date.now()) {
          waiting = true;
          continue;
        }
        const limiterKey = role ?? 'merge';
        if (!this.#limiter.canStart(limiterKey)) {
          waiting = true;
          continue;
        }
        const release = this.#limiter.acquire(limiterKey);
        const task = this.#advance(item)
          .catch((error: unknown) => this.#unexpected(item, error))
          .finally(() => {
            release();
            this.#active.delete(item.id);
          });
        this.#active.set(item.id, task);
      }
      if (this.#active.size === 0 && !waiting) {
        const latest = await store.listWorkItems();
        // An item waiting on a dependency that never comes (blocked, held back, not in the roadmap) does not keep it busy.
        const remaining = latest.filter((item) => item.state !== 'done' && item.state !== 'blocked' && dependenciesDone(item, latest));
        if (remaining.length === 0 || (budget.exhausted && remaining.every((item) => roleFor(item) !== null))) {
          if (this.#options.untilIdle) {
            stoppedBy = budget.exhausted && remaining.length > 0 ? 'budget' : 'idle';
            break;
          }
        }
      }
      const wake = [...this.#active.values()];
      await Promise.race([...wake, sleep(wake.length > 0 ? pollMs * 5 : pollMs, undefined, { signal }).catch(() => undefined)]);
    }
    // Shutdown or idle: let running steps finish (their sessions were aborted by the same signal).
    await Promise.allSettled([...this.#active.values()]);
    return { items: await store.listWorkItems(), stoppedBy };
  }

  /**
   * Reads ROADMAP.md at the tip of the integration branch and creates or updates work items. Problems in the file
   * do not stop it: they are announced (once per change) and kept in the store for status, doctor and the
   * dashboard; an item held back by one (unreadable status, no title) is not created. Throws only when the
   * roadmap cannot be read at all.
   */
  async syncRoadmap(): Promise<void> {
    const { config, store } = this.#options;
    const tip = await this.#repo.headSha(this.#integrationBranch);
    if (tip === this.#lastRoadmapSha) return;
    const snapshot = await readRoadmapSnapshot(this.#repo, this.#integrationBranch, config.roadmapPath);
    await this.#recordRoadmapRead(snapshot);
    const existing = new Map((await store.listWorkItems({ kind: 'priority' })).map((item) => [item.id, item]));
    const at = nowIso();
    for (const entry of snapshot.parsed.items) {
      if (entry.heldBack !== null) continue;
      const id = priorityId(entry);
      const current = existing.get(id);
      const note = entry.note.length > 0 ? entry.note : null;
      if (!current) {
        if (!ROADMAP_STARTABLE.has(entry.status) && entry.status !== 'complete') continue;
        await store.upsertWorkItem({
          id,
          kind: 'priority',
          number: entry.number,
          title: entry.title,
          slug: entry.slug,
          state: entry.status === 'complete' ? WorkItemState.done : WorkItemState.planned,
          position: entry.position,
          body: entry.body,
          note,
          dependsOn: entry.dependsOn,
          at,
        });
        continue;
      }
      await store.updateWorkItem(id, { title: entry.title, body: entry.body, note, position: entry.position, dependsOn: entry.dependsOn, updatedAt: at });
      if (entry.status === 'complete' && current.state === WorkItemState.planned) {
        await this.#transition(current, WorkItemState.done, 'the roadmap already marks it complete');
      }
    }
    this.#lastRoadmapSha = tip;
  }

  /** Keeps the read in the store and announces its problems when they differ from the last ones announced. */
  async #recordRoadmapRead(snapshot: RoadmapSnapshot): Promise<void> {
    const { problems, items, duplicates } = snapshot.parsed;
    this.#roadmap = snapshot;
    await this.#options.store.saveRoadmapRead({ path: snapshot.path, branch: snapshot.branch, tipSha: snapshot.tipSha, readAt: nowIso(), itemCount: items.length + duplicates.length, problems });
    const fingerprint = problems.map((problem) => `${problem.line}\u0000${problem.message}`).join('\n');
    if (fingerprint === this.#announcedProblems) return;
    this.#announcedProblems = fingerprint;
    if (problems.length === 0) return;
    const shown = problems.slice(0, ROADMAP_PROBLEMS_ANNOUNCED);
    for (const problem of shown) this.#notice(problem.severity === 'error' ? 'warn' : 'info', `roadmap: ${formatRoadmapProblem(problem)}`);
    if (problems.length > shown.length) this.#notice('warn', `roadmap: ${problems.length - shown.length} more problem(s) in ${snapshot.path}: \`orchestrator plan\` lists them all`);
  }

  // ---- one step per call -------------------------------------------------------------------------------------

  async #advance(item: WorkItemRecord): Promise<void> {
    switch (item.state as State) {
      case 'planned':
        return item.kind === 'bug' ? this.#startBug(item) : this.#startPriority(item);
      case 'specifying':
        return this.#specify(item);
      case 'spec_ready':
      case 'changes_requested':
      case 'implementing':
        return this.#implement(item);
      case 'reviewing':
        return this.#review(item);
      case 'merging':
        return this.#merge(item);
      case 'marking_done':
        return this.#markDone(item);
      case 'done':
      case 'blocked':
        return;
    }
  }

  async #startPriority(item: WorkItemRecord): Promise<void> {
    const worktree = await this.#worktreeFor(item);
    const specPath = this.#specPath(item);
    const existing = await checkFileDelivered(worktree, specPath);
    await this.#options.store.updateWorkItem(item.id, { specPath, branch: branchName(item.number, item.title), worktree, updatedAt: nowIso() });
    if (existing.ok) {
      await this.#transition(item, WorkItemState.specReady, `spec ${specPath} already exists`);
      return;
    }
    await this.#transition(item, WorkItemState.specifying, 'no spec yet: the architect writes it');
  }

  async #startBug(item: WorkItemRecord): Promise<void> {
    const worktree = await this.#worktreeFor(item);
    await this.#options.store.updateWorkItem(item.id, { branch: this.#branchFor(item), worktree, updatedAt: nowIso() });
    await this.#transition(item, WorkItemState.implementing, 'bug filed: the bug fixer takes it');
  }

  async #specify(item: WorkItemRecord): Promise<void> {
    const worktree = await this.#worktreeFor(item);
    const specPath = this.#specPath(item);
    // A spec written before a restart (committed or not) is the architect's delivery: no new session for it.
    if ((await checkFileDelivered(worktree, specPath)).ok) {
      await this.#audit(item, 'delivery.recovered', `${specPath} was written before the restart; accepted without a new architect session`, {});
    } else {
      const outcome = await this.#runRole(item, Role.architect, worktree, architectPrompt(priorityRef(item), specPath), { specPath });
      if (!outcome.ok) return this.#failed(item, Role.architect, outcome.reason, outcome.transient);
      const delivered = await checkFileDelivered(worktree, specPath);
      if (!delivered.ok) return this.#failed(item, Role.architect, `the architect's run succeeded but ${delivered.reason}`, false);
    }
    await this.#repo.commitFiles(worktree, [specPath], `Spec for PRIORITY ${item.number}: ${item.title}`);
    await this.#options.store.updateWorkItem(item.id, { specPath, updatedAt: nowIso() });
    await this.#transition(item, WorkItemState.specReady, `spec written: ${specPath}`);
  }

  async #implement(item: WorkItemRecord): Promise<void> {
    const { config } = this.#options;
    const worktree = await this.#worktreeFor(item);
    const branch = this.#branchFor(item);
    if (item.state !== WorkItemState.implementing) {
      await this.#transition(item, WorkItemState.implementing, item.state === WorkItemState.changesRequested ? 'sent back with the review' : 'spec ready: the developer implements it');
    }
    // The delivery is judged against the branch's own history, not the commit this run starts from: a session
    // resumed after a crash may find its work already committed, and is told so.
    const before = await branchWork(this.#repo, worktree, this.#integrationBranch, { specPath: item.specPath, reviewGlob: this.#reviewPathFor(item, '*') });
    const since = describeBase(before, this.#integrationBranch);
    // What the last step told the developer survives a restart through the audit trail.
    const briefing = await developerBriefing(this.#options.store, item.id);
    const conflictFiles = this.#conflicts.get(item.id) ?? briefing.conflictFiles;
    const context = {
      specPath: item.specPath,
      branch,
      integrationBranch: this.#integrationBranch,
      testCommand: config.testCommand ?? null,
      reviewPath: item.state === WorkItemState.changesRequested || (item.reviewPath && !conflictFiles) ? item.reviewPath : null,
      conflictFiles,
      previousFailure: this.#lastFailure.get(item.id) ?? briefing.previousFailure,
      branchCommits: before.commits.length > 0 ? { since, commits: before.commits } : null,
    };
    const role = item.kind === 'bug' ? Role.bugFixer : Role.codeDeveloper;
    const prompt =
      item.kind === 'bug'
        ? bugFixerPrompt({ number: item.number, title: item.title, severity: item.severity ?? 'medium', body: item.body ?? '' }, context)
        : developerPrompt({ number: item.number, title: item.title, body: item.body ?? '' }, context);
    const unjudged = await unjudgedSuccessOf(this.#options.store, item.id, role);
    let judgedRun: RunId;
    if (unjudged) {
      judgedRun = unjudged.id;
      // A test run of that delivery may have outlived the crash (its own process group): end it first.
      await killRunProcesses(unjudged.id, null, config.runtime.stopGraceSeconds * 1000);
      await this.#audit(item, 'delivery.recovered', `${role} run ${unjudged.id.slice(0, 12)} succeeded before the restart; its delivery is checked now, without a new session`, { runId: unjudged.id });
    } else {
      const outcome = await this.#runRole(item, role, worktree, prompt, {});
      if (!outcome.ok) return this.#failed(item, role, outcome.reason, outcome.transient);
      judgedRun = outcome.result.run.id;
    }
    const commits = await this.#repo.branchCommitsSince(worktree, before.base);
    if (commits.length === 0) return this.#failed(item, role, `the ${role} reported success but ${branch} holds no commit of this work since ${since}`, false);
    const dirty = await this.#repo.dirtyFiles(worktree);
    if (dirty.length > 0) return this.#failed(item, role, `the ${role} left uncommitted changes: ${dirty.slice(0, 8).join(', ')}`, false);
    const markers = await this.#repo.filesWithConflictMarkers(worktree, this.#integrationBranch);
    if (markers.length > 0) return this.#failed(item, role, `committed files still contain merge conflict markers: ${markers.join(', ')}`, false);
    if (config.testCommand) {
      // The tests carry the run's marker, so a restart after a crash finds and ends them (see above).
      const env = { ...config.sessionEnv, [RUN_MARKER_ENV]: judgedRun };
      const tests = await runTestCommand(config.testCommand, worktree, { timeoutMs: config.runtime.timeoutSeconds * 1000, env, signal: this.#options.signal });
      await this.#audit(item, 'tests.ran', `\`${config.testCommand}\` ${tests.passed ? 'passed' : 'failed'} on ${branch}`, { exitCode: tests.exitCode, timedOut: tests.timedOut, durationMs: tests.durationMs, outputTail: tests.outputTail.join('\n') });
      if (!tests.passed) {
        return this.#failed(item, role, `\`${config.testCommand}\` ${tests.timedOut ? 'timed out' : `failed (exit ${String(tests.exitCode)})`}: ${tests.outputTail.slice(-5).join(' | ')}`, false);
      }
    }
    this.#conflicts.delete(item.id);
    this.#lastFailure.delete(item.id);
    await this.#transition(item, WorkItemState.reviewing, `${commits.length} new commit(s) on ${branch}${config.testCommand ? ', tests pass' : ''}`);
  }

  async #review(item: WorkItemRecord): Promise<void> {
    const { config, store } = this.#options;
    const worktree = await this.#worktreeFor(item);
    // A review of this head written (or committed) before a restart is the reviewer's delivery: use it.
    const landed = await landedReview(this.#repo, worktree, (sha) => this.#reviewPathFor(item, sha));
    let reviewPath: string;
    let reviewText: string;
    if (landed) {
      ({ reviewPath, text: reviewText } = landed);
      await this.#audit(item, 'delivery.recovered', `${reviewPath} was ${landed.committed ? 'committed' : 'written'} before the restart; accepted without a new reviewer session`, {});
    } else {
      reviewPath = this.#reviewPathFor(item, await this.#repo.headSha('HEAD', worktree));
      const prompt = reviewerPrompt(
        { number: item.number, title: item.title, body: item.body ?? '', severity: item.severity ?? 'medium' },
        { kind: item.kind === 'bug' ? 'BUG' : 'PRIORITY', specPath: item.specPath, branch: this.#branchFor(item), integrationBranch: this.#integrationBranch, reviewPath, testCommand: config.testCommand ?? null },
      );
      const outcome = await this.#runRole(item, Role.codeReviewer, worktree, prompt, { reviewPath });
      if (!outcome.ok) return this.#failed(item, Role.codeReviewer, outcome.reason, outcome.transient);
      const delivered = await checkFileDelivered(worktree, reviewPath);
      if (!delivered.ok) return this.#failed(item, Role.codeReviewer, `the reviewer's run succeeded but ${delivered.reason}`, false);
      reviewText = delivered.text;
    }
    const verdict = parseReviewVerdict(reviewText);
    if (!verdict) return this.#failed(item, Role.codeReviewer, `${reviewPath} has no "Verdict: APPROVED" or "Verdict: CHANGES REQUESTED" line`, false);
    // Anything else the reviewer changed is set aside (stashed, not lost) so the branch holds only reviewed work.
    const stray = (await this.#repo.dirtyFiles(worktree)).filter((file) => file !== reviewPath);
    if (stray.length > 0) {
      await this.#repo.stashFiles(worktree, stray, `orchestrator: files changed by the reviewer of ${item.number}`);
      await this.#audit(item, 'review.stray_changes', `the reviewer changed ${stray.join(', ')}; stashed`, {});
    }
    await this.#repo.commitFiles(worktree, [reviewPath], `Review of ${item.kind === 'bug' ? 'BUG' : 'PRIORITY'} ${item.number}: ${verdict === 'approved' ? 'approved' : 'changes requested'}`);
    await store.updateWorkItem(item.id, { reviewPath, updatedAt: nowIso() });
    if (verdict === 'approved') {
      await this.#transition(item, WorkItemState.merging, `approved in ${reviewPath}`);
      return;
    }
    const fresh = (await store.getWorkItem(item.id)) ?? item;
    const rounds = (fresh.attempts.review_rounds ?? 0) + 1;
    await store.updateWorkItem(item.id, { attempts: { ...fresh.attempts, review_rounds: rounds }, updatedAt: nowIso() });
    if (rounds > config.review.maxRounds) {
      await this.#block(item, `changes still requested after ${config.review.maxRounds} review round(s); see ${reviewPath}`);
      return;
    }
    await this.#transition(item, WorkItemState.changesRequested, `changes requested in ${reviewPath} (round ${rounds} of ${config.review.maxRounds})`);
  }

  async #merge(item: WorkItemRecord): Promise<void> {
    const { config, store } = this.#options;
    const branch = this.#branchFor(item);
    await this.#integrationMutex.run(async () => {
      // Stopped after the merge, between deleting the merged branch and recording it: the merge commit says it is done.
      if (!(await this.#repo.branchExists(branch))) {
        const mergeCommit = await this.#repo.mergeCommitOf(branch, this.#integrationBranch);
        if (mergeCommit === null) {
          await this.#block(item, `branch ${branch} is gone and ${this.#integrationBranch} has no merge of it; restore the branch (git reflog) and unblock the item`);
          return;
        }
        await this.#audit(item, 'merge.completed', `${branch} was merged into ${this.#integrationBranch} at ${mergeCommit.slice(0, 7)} before the restart`, {});
        await store.updateWorkItem(item.id, { worktree: null, updatedAt: nowIso() });
        await this.#transition(item, item.kind === 'bug' ? WorkItemState.done : WorkItemState.markingDone, `merged into ${this.#integrationBranch}`);
        return;
      }
      const outcome = await this.#repo.merge(branch, this.#integrationBranch, `Merge ${branch}: ${item.kind === 'bug' ? 'BUG' : 'PRIORITY'} ${item.number} ${item.title}`, this.#options.signal);
      if (outcome.kind === 'conflict') {
        const conflicts = (item.attempts.merge_conflicts ?? 0) + 1;
        await store.updateWorkItem(item.id, { attempts: { ...item.attempts, merge_conflicts: conflicts }, updatedAt: nowIso() });
        await this.#audit(item, 'merge.conflicted', `merging ${branch} into ${this.#integrationBranch} conflicted in ${outcome.files.join(', ')}; merge aborted, nothing changed`, { files: outcome.files });
        if (conflicts > config.retries.maxAttempts) {
          await this.#block(item, `merge into ${this.#integrationBranch} still conflicts after ${config.retries.maxAttempts} resolution attempt(s): ${outcome.files.join(', ')}`);
          return;
        }
        this.#conflicts.set(item.id, outcome.files);
        await this.#transition(item, WorkItemState.implementing, `merge conflict in ${outcome.files.join(', ')}: the developer resolves it on ${branch}`);
        return;
      }
      await this.#audit(item, 'merge.completed', outcome.kind === 'merged' ? `merged ${branch} into ${this.#integrationBranch} at ${outcome.sha.slice(0, 7)}` : `${branch} was already merged`, {});
      this.#bus().emit('orchestrator.notice', { level: 'info', message: `merged ${branch} into ${this.#integrationBranch}`, at: nowIso() });
      await this.#repo.cleanupMerged(item.worktree ?? (await this.#worktreeFor(item)), branch, this.#integrationBranch);
      await store.updateWorkItem(item.id, { worktree: null, updatedAt: nowIso() });
      await this.#transition(item, item.kind === 'bug' ? WorkItemState.done : WorkItemState.markingDone, `merged into ${this.#integrationBranch}`);
    });
  }

  async #markDone(item: WorkItemRecord): Promise<void> {
    const { config } = this.#options;
    await this.#integrationMutex.run(async () => {
      if (await roadmapMarksComplete(this.#repo, this.#integrationBranch, config.roadmapPath, item.number)) {
        await this.#transition(item, WorkItemState.done, `${config.roadmapPath} on ${this.#integrationBranch} already marks PRIORITY ${item.number} complete`);
        return;
      }
      const integration = await this.#repo.integrationWorktree(this.#integrationBranch);
      const beforeText = await this.#repo.readWorktreeFile(integration, config.roadmapPath);
      const outcome = await this.#runRole(item, Role.projectManager, integration, projectManagerPrompt(priorityRef(item), { roadmapPath: config.roadmapPath, integrationBranch: this.#integrationBranch }), { roadmapPath: config.roadmapPath });
      const verified = outcome.ok ? await this.#verifyRoadmapUpdate(integration, item, beforeText) : null;
      if (!outcome.ok || verified !== null) {
        await this.#repo.discardChanges(integration, [config.roadmapPath]);
        if (!outcome.ok) return this.#failed(item, Role.projectManager, outcome.reason, outcome.transient);
        return this.#failed(item, Role.projectManager, verified ?? 'roadmap not updated', false);
      }
      await this.#repo.commitOnIntegration(integration, this.#integrationBranch, [config.roadmapPath], `Roadmap: PRIORITY ${item.number} complete`);
      this.#lastRoadmapSha = '';
      await this.#transition(item, WorkItemState.done, `${config.roadmapPath} marks PRIORITY ${item.number} ✅ Complete`);
    });
  }

  /** null when the roadmap changed exactly as asked: this item's status complete (its note kept), every other line as before. */
  async #verifyRoadmapUpdate(worktree: string, item: WorkItemRecord, beforeText: string | null): Promise<string | null> {
    const { config } = this.#options;
    const dirty = await this.#repo.dirtyFiles(worktree);
    const others = dirty.filter((file) => file !== config.roadmapPath);
    if (others.length > 0) return `the project manager changed files other than the roadmap: ${others.join(', ')}`;
    const afterText = await this.#repo.readWorktreeFile(worktree, config.roadmapPath);
    if (afterText === null) return `${config.roadmapPath} is gone`;
    if (beforeText === null) return `${config.roadmapPath} was not on ${this.#integrationBranch} before the change`;
    return checkMarkedComplete(beforeText, afterText, item.number, config.roadmapPath);
  }

  // ---- helpers -----------------------------------------------------------------------------------------------

  async #runRole(
    item: WorkItemRecord,
    role: Role,
    cwd: string,
    prompt: string,
    paths: { specPath?: string; reviewPath?: string; roadmapPath?: string },
  ): Promise<{ ok: true; result: RunAgentResult } | { ok: false; reason: string; transient: boolean }> {
    const { config, store, bus, messages, cliPath, signal } = this.#options;
    const agent = this.#agents.get(role);
    if (!agent) throw new Error(`agent ${role} not loaded`);
    const fresh = (await store.getWorkItem(item.id)) ?? item;
    // A run orphaned by a crash was not a failed attempt: the next run continues it (same attempt number, same
    // session when there is one) and does not count again. Every other run is a new attempt, counted before it starts.
    const orphan = await orphanedRunOf(store, item.id, role);
    const attempt = orphan ? orphan.attempt : (fresh.attempts[role] ?? 0) + 1;
    if (!orphan) await store.updateWorkItem(item.id, { attempts: { ...fresh.attempts, [role]: attempt }, updatedAt: nowIso() });
    const resumeSessionId = orphan ? await sessionIdOf(store, orphan) : undefined;
    if (orphan) await this.#audit(item, 'run.continued', `${role} run ${orphan.id.slice(0, 12)} was orphaned by a crash; attempt ${attempt} continues${resumeSessionId ? ` in session ${resumeSessionId}` : ' in a new session'} and is not counted again`, { runId: orphan.id });
    const budget = await this.#budgetState();
    const perRun = config.budgets.perRunUsd;
    const remainingToday = budget.limit === null ? undefined : Math.max(0.01, budget.limit - budget.spent);
    const maxBudgetUsd = perRun !== undefined && remainingToday !== undefined ? Math.min(perRun, remainingToday) : (perRun ?? remainingToday);
    const policy = rolePolicy(role, { root: cwd, tools: agent.tools, specPath: paths.specPath ?? null, reviewPath: paths.reviewPath ?? null, roadmapPath: paths.roadmapPath ?? null, testCommand: config.testCommand ?? null });
    let result: RunAgentResult;
    try {
      result = await runAgent({
        store,
        bus,
        messages,
        cliPath,
        agent,
        prompt: resumeSessionId ? `${prompt}\n\n(The orchestrator restarted while you were working on this; continue where you left off.)` : prompt,
        cwd,
        env: { ...config.sessionEnv },
        defaultModel: config.runtime.model,
        taskKind: role,
        workItemId: item.id,
        attempt,
        worktree: cwd,
        branch: item.kind === 'bug' || role !== Role.projectManager ? this.#branchFor(item) : this.#integrationBranch,
        resumeSessionId,
        toolPermission: createToolPolicy(policy),
        timeoutMs: config.runtime.timeoutSeconds * 1000,
        idleTimeoutMs: config.runtime.idleTimeoutSeconds * 1000,
        stopGraceMs: config.runtime.stopGraceSeconds * 1000,
        maxTurns: config.runtime.maxTurns,
        maxBudgetUsd,
        prices: priceTable(config.pricing),
        signal,
      });
    } catch (error) {
      return { ok: false, reason: `could not run the ${role}: ${errorMessage(error)}`, transient: false };
    }
    const { run } = result;
    if (run.status === 'succeeded') return { ok: true, result };
    if (run.status === 'stopped' && signal.aborted) return { ok: false, reason: 'shutdown', transient: true };
    const reason = `${role} run ${run.id.slice(0, 12)} ${run.status}: ${run.errorMessage ?? 'no reason recorded'}`;
    if (run.errorKind === 'budget' || /max_budget/.test(run.errorMessage ?? '')) throw new BudgetExceededError(reason);
    return { ok: false, reason, transient: isTransientFailure(run) };
  }

  async #failed(item: WorkItemRecord, role: Role, reason: string, transient: boolean): Promise<void> {
    const { config, store } = this.#options;
    if (reason === 'shutdown') return;
    const fresh = (await store.getWorkItem(item.id)) ?? item;
    if (transient) {
      const count = (this.#transientFailures.get(item.id) ?? 0) + 1;
      this.#transientFailures.set(item.id, count);
      // A transient failure does not spend the attempt budget: give the attempt back.
      await store.updateWorkItem(item.id, { attempts: { ...fresh.attempts, [role]: Math.max(0, (fresh.attempts[role] ?? 1) - 1) }, updatedAt: nowIso() });
      if (count <= config.retries.maxTransientRetries) {
        const delay = backoffDelayMs(count, config.retries.baseDelayMs, config.retries.maxDelayMs);
        this.#notBefore.set(item.id, Date.now() + delay);
        await this.#audit(item, 'retry.scheduled', `transient failure (${reason}); retry ${count} of ${config.retries.maxTransientRetries} in ${Math.round(delay / 1000)} s`, { delayMs: delay });
        return;
      }
      await this.#block(item, `gave up after ${count - 1} retries of a transient failure: ${reason}`);
      return;
    }
    const attempts = fresh.attempts[role] ?? 1;
    this.#lastFailure.set(item.id, reason);
    if (attempts >= config.retries.maxAttempts) {
      await this.#block(item, `${role} failed ${attempts} time(s); last: ${reason}`);
      return;
    }
    await this.#audit(item, 'attempt.failed', `${role} attempt ${attempts} of ${config.retries.maxAttempts} not accepted: ${reason}`, {});
  }

  async #block(item: WorkItemRecord, reason: string): Promise<void> {
    const { store } = this.#options;
    const fresh = (await store.getWorkItem(item.id)) ?? item;
    await store.updateWorkItem(item.id, { blockedReason: reason, updatedAt: nowIso() });
    await this.#transition(fresh, WorkItemState.blocked, reason);
  }

  async #transition(item: WorkItemRecord, to: State, reason: string): Promise<void> {
    const { store } = this.#options;
    const fresh = (await store.getWorkItem(item.id)) ?? item;
    assertTransition(fresh.state, to);
    const at = nowIso();
    const moved = await store.transitionWorkItem(item.id, fresh.state, to, reason, at);
    if (!moved) throw new Error(`work item ${item.id} changed state concurrently (expected ${fresh.state})`);
    this.#bus().emit('work_item.transitioned', { workItemId: item.id, from: fresh.state, to, reason, at });
  }

  async #audit(item: WorkItemRecord, kind: string, message: string, data: Record<string, string | number | boolean | null | string[]>): Promise<void> {
    await this.#options.store.appendEvent({ at: nowIso(), kind, workItemId: item.id, message, data });
  }

  async #unexpected(item: WorkItemRecord, error: unknown): Promise<void> {
    if (error instanceof StoppedError || this.#options.signal.aborted) return;
    if (error instanceof BudgetExceededError) {
      this.#notice('warn', error.message);
      this.#notBefore.set(item.id, Date.now() + 60 * 60 * 1000);
      return;
    }
    if (error instanceof RoadmapParseError) throw error;
    this.#notice('error', `work item ${item.number} (${item.title}) stopped on an unexpected error: ${errorMessage(error)}`);
    await this.#block(item, `unexpected error: ${errorMessage(error)}`).catch(() => undefined);
  }

  async #budgetState(): Promise<{ limit: number | null; spent: number; exhausted: boolean }> {
    const limit = this.#options.config.budgets.perDayUsd ?? null;
    if (limit === null) return { limit, spent: 0, exhausted: false };
    const today = new Date().toISOString().slice(0, 10);
    const rows = await this.#options.store.usage({ by: 'day', since: `${today}T00:00:00.000Z` });
    const spent = rows.reduce((sum, row) => sum + row.costUsd, 0);
    return { limit, spent, exhausted: spent >= limit };
  }

  /** A notice for the terminal and the dashboard, kept in the audit trail (a dashboard in another process reads it there). */
  #notice(level: 'info' | 'warn' | 'error', message: string): void {
    const at = nowIso();
    this.#bus().emit('orchestrator.notice', { level, message, at });
    this.#options.store.appendEvent({ at, kind: 'orchestrator.notice', message, data: { level } }).catch(() => undefined);
  }

  #bus(): EventBus {
    return this.#options.bus;
  }

  #specPath(item: WorkItemRecord): string {
    return item.specPath ?? `docs/specs/${specFileName(item.number, item.title)}`;
  }

  /** Where the review of the branch at `sha` goes (`*` gives the pathspec of all the item's reviews). */
  #reviewPathFor(item: WorkItemRecord, sha: string): string {
    return `docs/reviews/REVIEW-${item.kind === 'bug' ? `BUG-${item.number}` : item.number}-${sha.slice(0, 7)}.md`;
  }

  #branchFor(item: WorkItemRecord): string {
    return item.kind === 'bug' ? `orchestrator/bug-${item.number}-${slugify(item.title)}` : branchName(item.number, item.title);
  }

  async #worktreeFor(item: WorkItemRecord): Promise<string> {
    const branch = this.#branchFor(item);
    const path = await this.#repo.worktreeFor(branch.replace(/^orchestrator\//, ''), branch, this.#integrationBranch);
    if (item.worktree !== path) await this.#options.store.updateWorkItem(item.id, { worktree: path, branch, updatedAt: nowIso() });
    return path;
  }
}

function priorityRef(item: WorkItemRecord): { number: string; title: string; body: string } {
  return { number: item.number, title: item.title, body: item.body ?? '' };
}

export function priorityId(entry: Pick<RoadmapItem, 'number'>): WorkItemId {
  return `P-${entry.number}` as WorkItemId;
}

/** Bugs of severity critical/high first, then priorities in roadmap order, then other bugs. */
export function prioritize(items: readonly WorkItemRecord[]): WorkItemRecord[] {
  const rank = (item: WorkItemRecord): number => {
    if (item.kind === 'bug') {
      const severity = BUG_SEVERITY_ORDER[item.severity ?? 'medium'] ?? 3;
      return severity <= 1 ? severity : 2 + severity;
    }
    return 2;
  };
  return [...items].sort((a, b) => rank(a) - rank(b) || a.position - b.position || a.createdAt.localeCompare(b.createdAt));
}

function dependenciesDone(item: WorkItemRecord, items: readonly WorkItemRecord[]): boolean {
  return item.dependsOn.every((number) => items.find((other) => other.kind === 'priority' && other.number === number)?.state === 'done');
}

/** The role whose session the next step of this item runs, or null when the step is the orchestrator's own. */
export function roleFor(item: Pick<WorkItemRecord, 'state' | 'kind'>): Role | null {
  switch (item.state as State) {
    case 'planned':
      return item.kind === 'bug' ? null : null;
    case 'specifying':
      return Role.architect;
    case 'spec_ready':
    case 'changes_requested':
    case 'implementing':
      return item.kind === 'bug' ? Role.bugFixer : Role.codeDeveloper;
    case 'reviewing':
      return Role.codeReviewer;
    case 'marking_done':
      return Role.projectManager;
    case 'merging':
    case 'done':
    case 'blocked':
      return null;
  }
  return null;
}

export type { RunId };
