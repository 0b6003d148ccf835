import type { AgentDefinition } from '../agents/index.js';
import type { EventBus, RunId, WorkItemId } from '../events/index.js';
import type { RunRecord, Store } from '../store/index.js';
import type { PriceTable } from '../usage/index.js';
import { createToolPolicy } from './permissions.js';
import { rolePolicy, type Role } from './role-policies.js';
import { runAgent, type MessageSink } from './run-agent.js';
import { DEFAULT_SESSION_TOOL_SETTINGS, sessionToolServer, sessionToolsEnv, type AskHumanMode, type SessionToolSettings } from './session-tools/index.js';

/**
 * Everything a role session needs, decided by the state machine: plain data (JSON), with no path of the machine
 * that decided it and no secret, so that it can run in this process or be handed to a worker on another machine.
 * The agent definition is resolved by whoever decides, so that every machine runs the same role.
 */
export interface SessionJob {
  workItemId: WorkItemId;
  role: Role;
  /** The attempt this session is (a session continuing an orphaned run keeps that run's). */
  attempt: number;
  agent: AgentDefinition;
  prompt: string;
  /** The item's branch: the session works in a worktree on it. */
  branch: string;
  /** Files the role may write, relative to the worktree. */
  paths: { specPath?: string; reviewPath?: string; roadmapPath?: string };
  testCommand: string | null;
  /** The CLI session to resume (a run orphaned by a crash), if any. */
  resumeSessionId: string | null;
  /** The budget reservation's cap (`--max-budget-usd`). */
  maxBudgetUsd: number | null;
  /** Model for an agent that names none. */
  defaultModel: string | null;
  agentPromptOnly: boolean;
  limits: { timeoutMs: number; idleTimeoutMs: number; stopGraceMs: number; maxTurns: number };
  /**
   * Set when the session works in a scratch worktree of the integration branch at this commit (the project
   * manager): it commits nothing, and the deciding machine judges and commits its change. In this process it
   * changes nothing; run elsewhere, the change travels on a branch of its own made at this commit.
   */
  scratchBase?: string;
  /**
   * What ask_human does: `fallback` when nobody can answer in the run that queued it (`--until-idle`, no dashboard
   * and no terminal), decided where the run was started; a worker on another machine cannot tell. Absent: the
   * executor's own setting.
   */
  askHuman?: AskHumanMode;
}

/**
 * Where a role session runs: the state machine builds a SessionJob and gets back the finished run, whichever
 * implementation it was given (this process, or a job in the queue for a worker). `cwd` is the item's worktree on
 * the deciding machine: when the executor returns, the session's work is there.
 */
export interface SessionExecutor {
  run(job: SessionJob, cwd: string, signal: AbortSignal): Promise<ExecutedSession>;
  /**
   * The attempt of a session of `role` for the item that is still waiting or running where this executor runs
   * sessions (a queued job a restarted coordinator finds again), so that it is followed, not started twice.
   */
  pendingAttempt?(workItemId: WorkItemId, role: string): Promise<number | null>;
}

/** What the state machine learns of a session: its finished run, as recorded (status, error, cost). */
export interface ExecutedSession {
  run: RunRecord;
}

export interface InProcessExecutorOptions {
  store: Store;
  bus: EventBus;
  messages: MessageSink;
  cliPath: string;
  /** The sessions' environment (the model's credentials come from here, never from a job). */
  env: Readonly<Record<string, string>>;
  prices: PriceTable;
  /** The limits of the tools every session gets (config `sessionTools`); the defaults when absent. */
  sessionTools?: SessionToolSettings;
  /** The integration branch, where the session tools read documents not in the worktree (a worker's job names its own). */
  integrationBranch?: () => string;
}

/** Runs the session as a child process of this one, in the worktree itself, with the orchestrator's tools served to it. */
export class InProcessSessionExecutor implements SessionExecutor {
  constructor(private readonly options: InProcessExecutorOptions) {}

  /**
   * `runId`: the id to record the run under, when the caller chose it (a worker running a queued job);
   * `integrationBranch`: the job's, when it names one.
   */
  run(job: SessionJob, cwd: string, signal: AbortSignal, options: { runId?: RunId; integrationBranch?: string } = {}): Promise<ExecutedSession> {
    const { store, bus, messages, cliPath, env, prices } = this.options;
    const settings = sessionToolSettingsForJob(job, this.options.sessionTools ?? DEFAULT_SESSION_TOOL_SETTINGS);
    const integrationBranch = options.integrationBranch ?? this.options.integrationBranch?.() ?? null;
    const policy = rolePolicy(job.role, { root: cwd, tools: job.agent.tools, specPath: job.paths.specPath ?? null, reviewPath: job.paths.reviewPath ?? null, roadmapPath: job.paths.roadmapPath ?? null, testCommand: job.testCommand });
    return runAgent({
      store,
      bus,
      messages,
      cliPath,
      agent: job.agent,
      prompt: job.resumeSessionId ? `${job.prompt}\n\n(The orchestrator restarted while you were working on this; continue where you left off.)` : job.prompt,
      cwd,
      env: { ...env, ...sessionToolsEnv(settings) },
      defaultModel: job.defaultModel ?? undefined,
      taskKind: job.role,
      workItemId: job.workItemId,
      attempt: job.attempt,
      worktree: cwd,
      branch: job.branch,
      resumeSessionId: job.resumeSessionId ?? undefined,
      toolPermission: createToolPolicy(policy),
      mcpServers: (runId) => [sessionToolServer({ runId, role: job.role, workItemId: job.workItemId, store, bus, cwd, integrationBranch, settings }, signal)],
      timeoutMs: job.limits.timeoutMs,
      idleTimeoutMs: job.limits.idleTimeoutMs,
      stopGraceMs: job.limits.stopGraceMs,
      maxTurns: job.limits.maxTurns,
      maxBudgetUsd: job.maxBudgetUsd ?? undefined,
      agentPromptOnly: job.agentPromptOnly,
      prices,
      signal,
      ...(options.runId ? { runId: options.runId } : {}),
    });
  }
}

/** The tools' settings for one session: the job's ask_human mode (decided where the run started) over this process's. */
export function sessionToolSettingsForJob(job: Pick<SessionJob, 'askHuman'>, settings: SessionToolSettings): SessionToolSettings {
  return job.askHuman === undefined ? settings : { ...settings, askHuman: job.askHuman };
}
