import type { AgentDefinition } from '../agents/index.js';
import type { ResolvedConfig } from '../config/index.js';
import { BudgetExceededError, errorMessage } from '../lib/errors.js';
import { nowIso } from '../lib/time.js';
import type { Store, WorkItemRecord } from '../store/index.js';
import type { BudgetReservation } from './budget.js';
import { orphanedRunOf, sessionIdOf } from './landed.js';
import { isTransientFailure } from './retry.js';
import { Role } from './role-policies.js';
import type { ExecutedSession, SessionExecutor, SessionJob } from './session-executor.js';
import type { AskHumanMode } from './session-tools/index.js';
import { SessionRestartsExhaustedError } from './queue-session-executor.js';

/**
 * A claim on a session slot and a budget reservation, granted by the scheduler before a step that runs a session.
 * The step prepares without a slot and takes it (`slot`) just before spawning, in roadmap order; it gives both back
 * as soon as its session ends (`release`, idempotent), so its later checks, tests and waits for the integration
 * lock hold neither.
 */
export interface SessionTicket {
  readonly role: Role;
  readonly budget: BudgetReservation;
  /** Waits for this step's session slot (shown as the items' wait meanwhile). */
  slot(signal: AbortSignal): Promise<void>;
  release(): void;
}

export type RoleOutcome = { ok: true; result: ExecutedSession } | { ok: false; reason: string; transient: boolean };

export interface RoleSessionOptions {
  config: ResolvedConfig;
  store: Store;
  /** Where a role's sessions run (this process, or a worker through the queue). */
  executorFor: (role: Role) => SessionExecutor;
  agents: ReadonlyMap<string, AgentDefinition>;
  signal: AbortSignal;
  /** What ask_human does in this run's sessions, wherever they run (SessionJob.askHuman); default `wait`. */
  askHuman?: AskHumanMode;
}

export interface RoleSessionRequest {
  item: WorkItemRecord;
  /** Other items the same session works for (a project manager's batch): their attempts are counted too. */
  alsoFor?: readonly WorkItemRecord[];
  role: Role;
  cwd: string;
  prompt: string;
  branch: string;
  paths: { specPath?: string; reviewPath?: string; roadmapPath?: string };
  ticket: SessionTicket;
  /** `cwd` is a scratch worktree of the integration branch at this commit (SessionJob.scratchBase). */
  scratchBase?: string;
}

/**
 * Runs one role's session for a work item: counts the attempt (a run orphaned by a crash is continued, in its
 * session when it has one, and not counted again), takes the ticket's slot, builds the session's job (the
 * ticket's budget cap included), and gives the ticket back when the session ends. Where the session runs is the
 * executor's business (session-executor.ts); the state machine only sees the outcome.
 */
export class RoleSessions {
  constructor(private readonly options: RoleSessionOptions) {}

  async run(request: RoleSessionRequest): Promise<RoleOutcome> {
    const { config, store, signal } = this.options;
    const { item, role, cwd, prompt, paths, ticket } = request;
    try {
      try {
        // The slot is taken last: everything before this (worktree, branch history, briefing) ran without one.
        await ticket.slot(signal);
      } catch (error) {
        if (signal.aborted) return { ok: false, reason: 'shutdown', transient: true };
        throw error;
      }
      const agent = this.options.agents.get(role);
      if (!agent) throw new Error(`agent ${role} not loaded`);
      const fresh = (await store.getWorkItem(item.id)) ?? item;
      const orphan = await orphanedRunOf(store, item.id, role);
      // A session still queued or running elsewhere (found again after a restart) is followed, not counted again.
      const pending = orphan ? null : ((await this.options.executorFor(role).pendingAttempt?.(item.id, role)) ?? null);
      const attempt = orphan ? orphan.attempt : (pending ?? (fresh.attempts[role] ?? 0) + 1);
      if (!orphan && pending === null) {
        await store.updateWorkItem(item.id, { attempts: { ...fresh.attempts, [role]: attempt }, updatedAt: nowIso() });
        for (const other of request.alsoFor ?? []) {
          const current = (await store.getWorkItem(other.id)) ?? other;
          await store.updateWorkItem(other.id, { attempts: { ...current.attempts, [role]: (current.attempts[role] ?? 0) + 1 }, updatedAt: nowIso() });
        }
      }
      const resumeSessionId = orphan ? await sessionIdOf(store, orphan) : undefined;
      if (orphan) {
        await store.appendEvent({
          at: nowIso(),
          kind: 'run.continued',
          workItemId: item.id,
          message: `${role} run ${orphan.id.slice(0, 12)} was orphaned by a crash; attempt ${attempt} continues${resumeSessionId ? ` in session ${resumeSessionId}` : ' in a new session'} and is not counted again`,
          data: { runId: orphan.id },
        });
      }
      const job: SessionJob = {
        workItemId: item.id,
        role,
        attempt,
        agent,
        prompt,
        branch: request.branch,
        paths,
        testCommand: config.testCommand ?? null,
        resumeSessionId: resumeSessionId ?? null,
        maxBudgetUsd: ticket.budget.maxBudgetUsd ?? null,
        defaultModel: config.runtime.model ?? null,
        agentPromptOnly: config.runtime.agentPromptOnly.includes(role),
        limits: {
          timeoutMs: config.runtime.timeoutSeconds * 1000,
          idleTimeoutMs: config.runtime.idleTimeoutSeconds * 1000,
          stopGraceMs: config.runtime.stopGraceSeconds * 1000,
          maxTurns: config.runtime.maxTurns,
        },
        ...(request.scratchBase === undefined ? {} : { scratchBase: request.scratchBase }),
        askHuman: this.options.askHuman ?? 'wait',
      };
      let result: ExecutedSession;
      try {
        result = await this.options.executorFor(role).run(job, cwd, signal);
      } catch (error) {
        if (signal.aborted) return { ok: false, reason: 'shutdown', transient: true };
        // Restarts (lost workers, crashes) are counted apart from task failures: used up, the item is blocked.
        if (error instanceof SessionRestartsExhaustedError) throw error;
        return { ok: false, reason: `could not run the ${role}: ${errorMessage(error)}`, transient: false };
      }
      const { run } = result;
      if (run.status === 'succeeded') return { ok: true, result };
      if (run.status === 'stopped' && signal.aborted) return { ok: false, reason: 'shutdown', transient: true };
      const reason = `${role} run ${run.id.slice(0, 12)} ${run.status}: ${run.errorMessage ?? 'no reason recorded'}`;
      if (run.errorKind === 'budget' || /max_budget/.test(run.errorMessage ?? '')) throw new BudgetExceededError(reason, { data: { runId: run.id, maxBudgetUsd: ticket.budget.maxBudgetUsd ?? null } });
      return { ok: false, reason, transient: isTransientFailure(run) };
    } finally {
      // The run's cost is in the store by now: the slot and the budget reservation go back.
      ticket.release();
    }
  }
}
