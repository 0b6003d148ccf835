import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { architectPrompt, bugFixerPrompt, developerPrompt, reviewerPrompt, type AgentDefinition } from '../agents/index.js';
import type { ResolvedConfig } from '../config/index.js';
import type { BudgetReachedEvent, EventBus, RunId, WorkItemId } from '../events/index.js';
import { BudgetExceededError, RoadmapParseError, StoppedError, errorMessage } from '../lib/errors.js';
import { nowIso } from '../lib/time.js';
import { RUN_MARKER_ENV, killRunProcesses } from '../runtime/index.js';
import { branchName, slugify, specFileName } from '../roadmap/index.js';
import { priceTable } from '../usage/index.js';
import { SCHEMA_VERSION, type Store, type WaitReason, type WorkItemRecord } from '../store/index.js';
import type { QueueClient } from '../queue/index.js';
import { branchWork, describeBase } from './branch-work.js';
import { BudgetLedger } from './budget.js';
import { checkFileDelivered, parseReviewVerdict, runTestCommand } from './deliverables.js';
import { IntegrationGate } from './integration-gate.js';
import { developerBriefing, landedReview, unjudgedSuccessOf } from './landed.js';
import { ConcurrencyLimiter } from './limiter.js';
import { RepoOps } from './repo-ops.js';
import { backoffDelayMs } from './retry.js';
import type { RoadmapSnapshot } from './roadmap-source.js';
import { RoadmapSync } from './roadmap-sync.js';
import { loadAgentRegistry, resolveRoleAgents } from './role-agents.js';
import { Role } from './role-policies.js';
import { RoleSessions, type SessionTicket } from './role-session.js';
import { sessionToolSettingsOf } from './session-tools/index.js';
import { InProcessSessionExecutor } from './session-executor.js';
import { QueueSessionExecutor, SessionRestartsExhaustedError } from './queue-session-executor.js';
import { RemoteIntegration } from './remote-integration.js';
import type { MessageSink } from './run-agent.js';
import { mergeStep } from './merge-step.js';
import { markDoneStep } from './roadmap-update.js';
import { priorityRef, rankOf, type AuditData, type DeveloperNotes, type StepContext } from './step-context.js';
import { WaitBoard } from './wait-board.js';
import { WorkItemState, assertTransition, type WorkItemState as State } from './work-item-machine.js';

export { priorityId } from './roadmap-sync.js';

export interface SupervisorOptions {
  config: ResolvedConfig;
  store: Store;
  bus: EventBus;
  messages: MessageSink;
  cliPath: string;
  /** Stop when no work item can make progress (all done or blocked), instead of waiting for new work. */
  untilIdle?: boolean;
  /**
   * Nobody can answer a session's question (no dashboard and no terminal): `ask_human` gives its fallback at once
   * (config sessionTools.askHumanUnattended). Implied by `untilIdle`.
   */
  unattended?: boolean;
  /** Aborting it stops new work and stops running sessions (with their grace); items keep their state. */
  signal: AbortSignal;
  /** How often to look for new roadmap items and bugs when nothing else wakes the scheduler. */
  pollIntervalMs?: number;
  /**
   * Sessions go to workers through the job queue (workers.enabled): the item branches travel through the shared
   * remote (git.remote), and the integration branch is published there by compare-and-set.
   */
  workers?: { queue: QueueClient; remoteUrl: string; coordinatorVersion: string };
}

export interface SupervisorReport {
  items: WorkItemRecord[];
  stoppedBy: 'idle' | 'signal' | 'budget';
}

/** How long a merged item's roadmap update may wait for items still merging, to share one project-manager session. */
const ROADMAP_BATCH_MAX_WAIT_MS = 30_000;
/** States whose item's code is on the integration branch: an item that depends on it may start. */
const MERGED_STATES: ReadonlySet<string> = new Set([WorkItemState.markingDone, WorkItemState.done]);

/**
 * The long-running loop: reads the roadmap from the integration branch, keeps one work item per priority or bug,
 * and moves each through its state machine one step at a time (one agent session, or a merge). The scheduler
 * decides, in roadmap order, what may start: a step that runs a session needs a free slot and a budget
 * reservation, which it gives back as soon as its session ends; waiting (for a slot, the integration lock, a
 * dependency, a backoff, the budget, the project manager) holds nothing, and is written on the item for `status`
 * and the dashboard. Every decision about the work comes from the repository (files, commits, test exit codes).
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #repo: RepoOps;
  readonly #limiter: ConcurrencyLimiter;
  readonly #budget: BudgetLedger;
  readonly #waits: WaitBoard;
  readonly #gate: IntegrationGate;
  readonly #roadmapSync: RoadmapSync;
  readonly #sessions: RoleSessions;
  readonly #integration: RemoteIntegration | null;
  readonly #active = new Map<WorkItemId, Promise<void>>();
  /** The project manager's batch in progress (one at a time: it edits the one roadmap file), with its items. */
  #roadmapBatch: { items: WorkItemId[]; task: Promise<void> } | null = null;
  readonly #notBefore = new Map<WorkItemId, number>();
  /** When the scheduler first saw each item waiting for its roadmap update. */
  readonly #markingSince = new Map<WorkItemId, number>();
  readonly #transientFailures = new Map<WorkItemId, number>();
  readonly #notes: DeveloperNotes = { conflicts: new Map(), lastFailure: new Map() };
  readonly #stepContext: StepContext;
  readonly #agents = new Map<string, AgentDefinition>();
  #integrationBranch = '';
  #budgetNoticeShown = false;
  #wakeUp: () => void = () => {};

  constructor(options: SupervisorOptions) {
    this.#options = options;
    // Every running session, slot claim, test run and wait listens to this signal: dozens at once is normal, not a leak.
    setMaxListeners(0, options.signal);
    const { config, store } = options;
    this.#repo = new RepoOps(config.repoRoot);
    this.#limiter = new ConcurrencyLimiter(config.concurrency.maxRuns, config.concurrency.perRole);
    this.#budget = new BudgetLedger(store, config.budgets, config.concurrency.maxRuns);
    this.#waits = new WaitBoard(store, options.bus);
    const integration = options.workers ? new RemoteIntegration({ repo: this.#repo, remote: config.git.remote, integrationBranch: () => this.#integrationBranch, signal: options.signal }) : null;
    this.#integration = integration;
    this.#gate = new IntegrationGate({
      repo: this.#repo,
      store,
      waits: this.#waits,
      integrationBranch: () => this.#integrationBranch,
      testCommand: config.testCommand ?? null,
      testTimeoutMs: config.runtime.timeoutSeconds * 1000,
      testEnv: config.sessionEnv,
      maxRetests: config.merge.maxRetests,
      ...(integration ? { advance: (branch: string, base: string, next: string) => integration.advance(branch, base, next) } : {}),
      signal: options.signal,
    });
    this.#roadmapSync = new RoadmapSync({
      repo: this.#repo,
      store,
      config,
      integrationBranch: () => this.#integrationBranch,
      notice: (level, message) => this.#notice(level, message),
      markDone: (item, reason) => this.#transition(item, WorkItemState.done, reason),
    });
    const sessionTools = sessionToolSettingsOf(config, { unattended: options.untilIdle === true || options.unattended === true });
    const local = new InProcessSessionExecutor({
      store,
      bus: options.bus,
      messages: options.messages,
      cliPath: options.cliPath,
      env: config.sessionEnv,
      prices: priceTable(config.pricing),
      sessionTools,
      integrationBranch: () => this.#integrationBranch,
    });
    const queued =
      options.workers && integration
        ? new QueueSessionExecutor({
            store,
            queue: options.workers.queue,
            integration,
            remoteUrl: options.workers.remoteUrl,
            integrationBranch: () => this.#integrationBranch,
            versions: { coordinatorVersion: options.workers.coordinatorVersion, schemaVersion: SCHEMA_VERSION },
            maxRestarts: config.workers.maxRestarts,
            notice: (level, message) => this.#notice(level, message),
          })
        : null;
    // With workers every role's session is a job, the project manager's too: its change comes back here on a
    // scratch branch, and is checked, committed and landed here as when it runs in this process (roadmap-update.ts).
    const executorFor = () => queued ?? local;
    // Whether anybody can answer ask_human is known here, where the run was started: every session's job carries it.
    this.#sessions = new RoleSessions({ config, store, executorFor, agents: this.#agents, signal: options.signal, askHuman: sessionTools.askHuman ?? 'wait' });
    this.#stepContext = {
      config,
      store,
      repo: this.#repo,
      gate: this.#gate,
      sessions: this.#sessions,
      integrationBranch: () => this.#integrationBranch,
      transition: (item, to, reason) => this.#transition(item, to, reason),
      block: (item, reason) => this.#block(item, reason),
      failed: (item, role, reason, transient) => this.#failed(item, role, reason, transient),
      audit: (item, kind, message, data) => this.#audit(item, kind, message, data),
      notice: (level, message) => this.#notice(level, message),
      worktreeFor: (item) => this.#worktreeFor(item),
      mergedBranchDone: async (branch) => {
        if (!integration) return;
        const deleted = await integration.deleteMergedBranch(branch);
        if (deleted.kind !== 'deleted' && deleted.kind !== 'absent') this.#notice('warn', `kept ${branch} on ${integration.remote}: ${deleted.kind === 'not_merged' ? 'its tip there is not in the integration branch' : 'it moved since its merge'}`);
      },
      branchFor: (item) => this.#branchFor(item),
      roadmapChanged: () => {
        this.#roadmapSync.invalidate();
        this.#wakeUp();
      },
    };
  }

  get integrationBranch(): string {
    return this.#integrationBranch;
  }

  /** The roadmap as last read from the integration branch (items, duplicates, problems), for the start banner. */
  get roadmap(): RoadmapSnapshot | null {
    return this.#roadmapSync.snapshot;
  }

  /** Checks the repository and agents before any work: every problem is an error naming the fix. */
  async prepare(): Promise<void> {
    const { config } = this.#options;
    this.#integrationBranch = config.integrationBranch ?? (await this.#repo.currentBranch());
    await this.#repo.assertBranchExists(this.#integrationBranch);
    // With workers: the integration branch here and on the shared remote in one line before anything lands.
    await this.#integration?.reconcile();
    const { agents, defaulted } = resolveRoleAgents(await loadAgentRegistry(config));
    for (const [role, agent] of agents) this.#agents.set(role, agent);
    if (defaulted.length > 0) this.#notice('info', `no agent file for ${defaulted.join(', ')}: using the built-in default (\`orchestrator init\` writes it to ${config.agentsDir}/ to edit)`);
    await this.syncRoadmap();
  }

  async syncRoadmap(): Promise<void> {
    await this.#roadmapSync.sync();
  }

  /** Runs until idle (with untilIdle), or until the signal aborts. */
  async run(): Promise<SupervisorReport> {
    const { signal, store } = this.#options;
    const pollMs = this.#options.pollIntervalMs ?? 2_000;
    let stoppedBy: SupervisorReport['stoppedBy'] = 'signal';
    // Waits written by an earlier process mean nothing now.
    for (const item of await store.listWorkItems()) if (item.waitingFor !== null) await this.#waits.clear(item.id);
    try {
      while (!signal.aborted) {
        const woken = new Promise<void>((resolve) => {
          this.#wakeUp = resolve;
        });
        try {
          await this.syncRoadmap();
        } catch (error) {
          if (error instanceof RoadmapParseError) throw error;
          this.#notice('warn', `could not read the roadmap: ${errorMessage(error)}`);
        }
        const items = await store.listWorkItems();
        const { waiting, budgetExhausted } = await this.#schedule(items);
        if (this.#active.size === 0 && this.#roadmapBatch === null && !waiting) {
          const latest = await store.listWorkItems();
          // An item waiting on a dependency that never comes (blocked, held back, not in the roadmap) does not keep it busy.
          const remaining = latest.filter((item) => item.state !== 'done' && item.state !== 'blocked' && unmetDependencies(item, latest).length === 0);
          if (remaining.length === 0 || (budgetExhausted && remaining.every((item) => roleFor(item) !== null))) {
            if (this.#options.untilIdle) {
              stoppedBy = budgetExhausted && remaining.length > 0 ? 'budget' : 'idle';
              break;
            }
          }
        }
        const nextBackoff = Math.min(...[...this.#notBefore.values()].filter((at) => at > Date.now()));
        const nap = Number.isFinite(nextBackoff) ? Math.min(pollMs, Math.max(10, nextBackoff - Date.now())) : pollMs;
        await Promise.race([woken, sleep(nap, undefined, { signal }).catch(() => undefined)]);
      }
      // Shutdown or idle: let running steps finish (their sessions were aborted by the same signal).
      await Promise.allSettled([...this.#active.values(), this.#roadmapBatch?.task]);
    } finally {
      for (const item of await store.listWorkItems()) if (item.waitingFor !== null) await this.#waits.clear(item.id).catch(() => undefined);
    }
    return { items: await store.listWorkItems(), stoppedBy };
  }

  // ---- the scheduler: what may start now, in roadmap order -----------------------------------------------------

  /** One pass over the items: starts what can start, records why the rest waits. */
  async #schedule(items: readonly WorkItemRecord[]): Promise<{ waiting: boolean; budgetExhausted: boolean }> {
    const { signal } = this.#options;
    const budget = await this.#budget.state();
    const budgetStop = budget.exhausted ? `daily budget of $${budget.limit ?? 0} reached ($${budget.spent.toFixed(4)} spent today)` : null;
    let waiting = false;
    let batchTried = false;
    for (const item of prioritize(items)) {
      if (signal.aborted) break;
      if (this.#active.has(item.id) || this.#roadmapBatch?.items.includes(item.id)) continue;
      if (item.state === 'done' || item.state === 'blocked') {
        if (item.waitingFor !== null) await this.#waits.clear(item.id);
        continue;
      }
      // The pass works on a list read when it began; a step may have moved this item since (and ended). Acting
      // on the old state would run a step twice: the next pass sees it as it is.
      if (!(await this.#stillAsSeen(item))) {
        waiting = true;
        continue;
      }
      if (item.state === WorkItemState.markingDone) {
        // One project manager session marks every merged item at once; the first of them in roadmap order starts it.
        if (this.#roadmapBatch !== null) {
          waiting = true;
          await this.#waits.wait(item.id, 'roadmap', `the project manager is marking ${this.#roadmapBatch.items.join(', ')}; ${item.id} is in the next batch`);
          continue;
        }
        if (batchTried) continue;
        batchTried = true;
        const batch = prioritize(await this.#options.store.listWorkItems()).filter((other) => other.state === WorkItemState.markingDone && !this.#active.has(other.id));
        // Items about to merge join this batch if it waits for them (bounded): fewer sessions, and fewer commits on
        // the integration branch to invalidate merges under test.
        const merging = items.filter((other) => other.state === WorkItemState.merging).map((other) => other.id);
        const now = Date.now();
        for (const entry of batch) if (!this.#markingSince.has(entry.id)) this.#markingSince.set(entry.id, now);
        const oldest = Math.min(...batch.map((entry) => this.#markingSince.get(entry.id) ?? now));
        if (merging.length > 0 && now - oldest < ROADMAP_BATCH_MAX_WAIT_MS) {
          waiting = true;
          for (const entry of batch) await this.#waits.wait(entry.id, 'roadmap', `the project manager starts once ${merging.join(', ')} ${merging.length === 1 ? 'has' : 'have'} merged, to mark them in the same session`);
          continue;
        }
        const started = await this.#startSession(batch, Role.projectManager, budgetStop, (ticket) => markDoneStep(this.#stepContext, batch, ticket));
        if (started === 'waiting') waiting = true;
        if (started === 'started') this.#roadmapBatch = { items: batch.map((entry) => entry.id), task: this.#active.get(batch[0]?.id as WorkItemId) ?? Promise.resolve() };
        continue;
      }
      const unmet = unmetDependencies(item, items);
      if (unmet.length > 0) {
        if (unmet.some((other) => other !== null && other.state !== 'blocked')) waiting = true;
        await this.#waits.wait(item.id, 'dependency', unmet.map((other, index) => (other === null ? `PRIORITY ${item.dependsOn.filter((number) => !isMerged(number, items))[index] ?? '?'} (not in the roadmap)` : `${other.id} (${other.state})`)).join(', '));
        continue;
      }
      const role = roleFor(item);
      // The budget first: an item held back by an earlier budget stop is not "waiting" for anything but tomorrow.
      if (role !== null && budgetStop !== null) {
        await this.#startSession([item], role, budgetStop, () => Promise.resolve());
        continue;
      }
      const notBefore = this.#notBefore.get(item.id) ?? 0;
      if (notBefore > Date.now()) {
        waiting = true;
        await this.#waits.wait(item.id, 'backoff', `retry at ${new Date(notBefore).toISOString().slice(11, 19)} UTC`);
        continue;
      }
      if (role === null) {
        await this.#waits.clear(item.id);
        this.#launch([item], () => this.#advance(item, null));
        continue;
      }
      if ((await this.#startSession([item], role, budgetStop, (ticket) => this.#advance(item, ticket))) === 'waiting') waiting = true;
    }
    return { waiting, budgetExhausted: budget.exhausted };
  }

  /** True when the item is still in the state the pass read and no step of it is running. */
  async #stillAsSeen(item: WorkItemRecord): Promise<boolean> {
    const current = await this.#options.store.getWorkItem(item.id);
    return current !== null && current.state === item.state && !this.#active.has(item.id) && !(this.#roadmapBatch?.items.includes(item.id) ?? false);
  }

  /** Starts a step that runs a session if a slot and a budget reservation are free; else records why not. */
  async #startSession(items: readonly WorkItemRecord[], role: Role, budgetStop: string | null, step: (ticket: SessionTicket) => Promise<void>): Promise<'started' | 'waiting' | 'stopped'> {
    const first = items[0];
    if (!first) return 'stopped';
    const waitAll = async (reason: WaitReason, detail: string) => {
      for (const item of items) await this.#waits.wait(item.id, reason, detail);
    };
    const full = budgetStop !== null ? null : this.#limiter.blockedBy(role, rankOf(first));
    if (full !== null) {
      await waitAll('slot', full);
      return 'waiting';
    }
    const reserved = budgetStop !== null ? null : await this.#budget.reserve();
    if (reserved === null || !reserved.ok) {
      const detail = reserved?.detail ?? budgetStop ?? 'daily budget reached';
      if ((reserved === null || reserved.exhausted) && !this.#budgetNoticeShown) {
        // Said once per process: the items keep their state and wait for tomorrow's budget.
        this.#budgetNoticeShown = true;
        this.#notice('warn', `${detail}: no new sessions until tomorrow`);
        this.#budgetReached({ scope: 'day', limitUsd: this.#options.config.budgets.perDayUsd ?? null, workItemId: null, runId: null, message: `${detail}: no new sessions until tomorrow` });
      }
      await waitAll('budget', detail);
      // Held by running sessions: it frees when they end. Spent: nothing to wait for today.
      return reserved !== null && !reserved.exhausted ? 'waiting' : 'stopped';
    }
    const claim = this.#limiter.claim(role, rankOf(first));
    const reservation = reserved.reservation;
    let released = false;
    const ticket: SessionTicket = {
      role,
      budget: reservation,
      slot: async (signal) => {
        if (claim.assigned) return;
        await waitAll('slot', `prepared; next in roadmap order when a slot frees (${this.#limiter.fullFor(role) ?? 'a slot is being handed over'})`);
        try {
          await claim.acquire(signal);
        } finally {
          for (const item of items) await this.#waits.clear(item.id);
        }
      },
      release: () => {
        if (released) return;
        released = true;
        claim.release();
        reservation.release();
        this.#wakeUp();
      },
    };
    for (const item of items) await this.#waits.clear(item.id);
    this.#launch(items, () => step(ticket), ticket);
    return 'started';
  }

  #launch(items: readonly WorkItemRecord[], step: () => Promise<void>, ticket?: SessionTicket): void {
    const first = items[0];
    if (!first) return;
    const task = step()
      .catch((error: unknown) => this.#unexpected(first, error))
      .finally(() => {
        ticket?.release();
        this.#active.delete(first.id);
        if (this.#roadmapBatch?.task === task) this.#roadmapBatch = null;
        this.#wakeUp();
      });
    this.#active.set(first.id, task);
  }

  // ---- one step per call -------------------------------------------------------------------------------------

  async #advance(item: WorkItemRecord, ticket: SessionTicket | null): Promise<void> {
    const state = item.state as State;
    if (state === 'merging') return mergeStep(this.#stepContext, item, this.#notes);
    if (ticket === null) throw new Error(`work item ${item.id} in ${state} needs a session slot`);
    switch (state) {
      case 'planned':
        return item.kind === 'bug' ? this.#startBug(item, ticket) : this.#startPriority(item, ticket);
      case 'specifying':
        return this.#specify(item, ticket);
      case 'spec_ready':
      case 'changes_requested':
      case 'implementing':
        return this.#implement(item, ticket);
      case 'reviewing':
        return this.#review(item, ticket);
      default:
        return;
    }
  }

  async #startPriority(item: WorkItemRecord, ticket: SessionTicket): Promise<void> {
    const worktree = await this.#worktreeFor(item);
    const specPath = this.#specPath(item);
    const existing = await checkFileDelivered(worktree, specPath);
    await this.#options.store.updateWorkItem(item.id, { specPath, branch: branchName(item.number, item.title), worktree, updatedAt: nowIso() });
    if (existing.ok) {
      await this.#transition(item, WorkItemState.specReady, `spec ${specPath} already exists`);
      return;
    }
    await this.#transition(item, WorkItemState.specifying, 'no spec yet: the architect writes it');
    // The slot was granted for the architect: it starts now, in the same step.
    await this.#specify({ ...item, state: WorkItemState.specifying, specPath, worktree }, ticket);
  }

  async #startBug(item: WorkItemRecord, ticket: SessionTicket): Promise<void> {
    const worktree = await this.#worktreeFor(item);
    const branch = this.#branchFor(item);
    await this.#options.store.updateWorkItem(item.id, { branch, worktree, updatedAt: nowIso() });
    await this.#transition(item, WorkItemState.implementing, 'bug filed: the bug fixer takes it');
    await this.#implement({ ...item, state: WorkItemState.implementing, branch, worktree }, ticket);
  }

  async #specify(item: WorkItemRecord, ticket: SessionTicket): Promise<void> {
    const worktree = await this.#worktreeFor(item);
    const specPath = this.#specPath(item);
    // A spec written before a restart (committed or not) is the architect's delivery: no new session for it.
    if ((await checkFileDelivered(worktree, specPath)).ok) {
      ticket.release();
      await this.#audit(item, 'delivery.recovered', `${specPath} was written before the restart; accepted without a new architect session`, {});
    } else {
      const outcome = await this.#sessions.run({ item, role: Role.architect, cwd: worktree, prompt: architectPrompt(priorityRef(item), specPath), branch: this.#branchFor(item), paths: { specPath }, ticket });
      if (!outcome.ok) return this.#failed(item, Role.architect, outcome.reason, outcome.transient);
      const delivered = await checkFileDelivered(worktree, specPath);
      if (!delivered.ok) return this.#failed(item, Role.architect, `the architect's run succeeded but ${delivered.reason}`, false);
    }
    await this.#repo.commitFiles(worktree, [specPath], `Spec for PRIORITY ${item.number}: ${item.title}`);
    await this.#options.store.updateWorkItem(item.id, { specPath, updatedAt: nowIso() });
    await this.#transition(item, WorkItemState.specReady, `spec written: ${specPath}`);
  }

  async #implement(item: WorkItemRecord, ticket: SessionTicket): Promise<void> {
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
    const conflictFiles = this.#notes.conflicts.get(item.id) ?? briefing.conflictFiles;
    const context = {
      specPath: item.specPath,
      branch,
      integrationBranch: this.#integrationBranch,
      testCommand: config.testCommand ?? null,
      reviewPath: item.state === WorkItemState.changesRequested || (item.reviewPath && !conflictFiles) ? item.reviewPath : null,
      conflictFiles,
      previousFailure: this.#notes.lastFailure.get(item.id) ?? briefing.previousFailure,
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
      ticket.release();
      await this.#audit(item, 'delivery.recovered', `${role} run ${unjudged.id.slice(0, 12)} succeeded before the restart; its delivery is checked now, without a new session`, { runId: unjudged.id });
    } else {
      const outcome = await this.#sessions.run({ item, role, cwd: worktree, prompt, branch, paths: {}, ticket });
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
    this.#notes.conflicts.delete(item.id);
    this.#notes.lastFailure.delete(item.id);
    await this.#transition(item, WorkItemState.reviewing, `${commits.length} new commit(s) on ${branch}${config.testCommand ? ', tests pass' : ''}`);
  }

  async #review(item: WorkItemRecord, ticket: SessionTicket): Promise<void> {
    const { config, store } = this.#options;
    const worktree = await this.#worktreeFor(item);
    // A review of this head written (or committed) before a restart is the reviewer's delivery: use it.
    const landed = await landedReview(this.#repo, worktree, (sha) => this.#reviewPathFor(item, sha));
    let reviewPath: string;
    let reviewText: string;
    if (landed) {
      ticket.release();
      ({ reviewPath, text: reviewText } = landed);
      await this.#audit(item, 'delivery.recovered', `${reviewPath} was ${landed.committed ? 'committed' : 'written'} before the restart; accepted without a new reviewer session`, {});
    } else {
      reviewPath = this.#reviewPathFor(item, await this.#repo.headSha('HEAD', worktree));
      const prompt = reviewerPrompt(
        { number: item.number, title: item.title, body: item.body ?? '', severity: item.severity ?? 'medium' },
        { kind: item.kind === 'bug' ? 'BUG' : 'PRIORITY', specPath: item.specPath, branch: this.#branchFor(item), integrationBranch: this.#integrationBranch, reviewPath, testCommand: config.testCommand ?? null },
      );
      const outcome = await this.#sessions.run({ item, role: Role.codeReviewer, cwd: worktree, prompt, branch: this.#branchFor(item), paths: { reviewPath }, ticket });
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

  // ---- helpers -----------------------------------------------------------------------------------------------

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
    this.#notes.lastFailure.set(item.id, reason);
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

  async #audit(item: WorkItemRecord, kind: string, message: string, data: AuditData): Promise<void> {
    await this.#options.store.appendEvent({ at: nowIso(), kind, workItemId: item.id, message, data });
  }

  async #unexpected(item: WorkItemRecord, error: unknown): Promise<void> {
    if (error instanceof StoppedError || this.#options.signal.aborted) return;
    if (error instanceof BudgetExceededError) {
      this.#notice('warn', error.message);
      const runId = typeof error.data?.runId === 'string' ? (error.data.runId as RunId) : null;
      const limitUsd = typeof error.data?.maxBudgetUsd === 'number' ? error.data.maxBudgetUsd : null;
      this.#budgetReached({ scope: 'run', limitUsd, workItemId: item.id, runId, message: error.message });
      this.#notBefore.set(item.id, Date.now() + 60 * 60 * 1000);
      return;
    }
    if (error instanceof RoadmapParseError) throw error;
    if (error instanceof SessionRestartsExhaustedError) {
      await this.#block(item, error.message).catch(() => undefined);
      return;
    }
    this.#notice('error', `work item ${item.number} (${item.title}) stopped on an unexpected error: ${errorMessage(error)}`);
    await this.#block(item, `unexpected error: ${errorMessage(error)}`).catch(() => undefined);
  }

  /** A notice for the terminal and the dashboard, kept in the audit trail (a dashboard in another process reads it there). */
  #notice(level: 'info' | 'warn' | 'error', message: string): void {
    const at = nowIso();
    this.#bus().emit('orchestrator.notice', { level, message, at });
    this.#options.store.appendEvent({ at, kind: 'orchestrator.notice', message, data: { level } }).catch(() => undefined);
  }

  /** A budget stopped work: for the bus (notifications) and the audit trail (dashboards and coordinators elsewhere). */
  #budgetReached(event: Omit<BudgetReachedEvent, 'at'>): void {
    const at = nowIso();
    this.#bus().emit('budget.reached', { ...event, at });
    const data = { scope: event.scope, limitUsd: event.limitUsd };
    this.#options.store.appendEvent({ at, kind: 'budget.reached', runId: event.runId, workItemId: event.workItemId, message: event.message, data }).catch(() => undefined);
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
    // With workers, the branch as they pushed it is the item's truth (this clone may be behind after a restart).
    if (this.#integration) await this.#integration.syncItemBranch(path, branch);
    if (item.worktree !== path) await this.#options.store.updateWorkItem(item.id, { worktree: path, branch, updatedAt: nowIso() });
    return path;
  }
}


/** Bugs of severity critical/high first, then priorities in roadmap order, then other bugs. */
export function prioritize(items: readonly WorkItemRecord[]): WorkItemRecord[] {
  return [...items].sort((a, b) => rankOf(a) - rankOf(b) || a.createdAt.localeCompare(b.createdAt));
}


function isMerged(number: string, items: readonly WorkItemRecord[]): boolean {
  const found = items.find((other) => other.kind === 'priority' && other.number === number);
  return found !== undefined && MERGED_STATES.has(found.state);
}

/** The items this one depends on that are not merged yet (null: not in the roadmap at all). */
function unmetDependencies(item: WorkItemRecord, items: readonly WorkItemRecord[]): (WorkItemRecord | null)[] {
  return item.dependsOn.filter((number) => !isMerged(number, items)).map((number) => items.find((other) => other.kind === 'priority' && other.number === number) ?? null);
}

/** The role whose session the next step of this item runs, or null when the step is the orchestrator's own. */
export function roleFor(item: Pick<WorkItemRecord, 'state' | 'kind'>): Role | null {
  switch (item.state as State) {
    case 'planned':
      return item.kind === 'bug' ? Role.bugFixer : Role.architect;
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
