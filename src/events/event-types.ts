/**
 * Terminology (used the same way in code, database, dashboard and docs):
 *
 * - run: one task given to one role agent (architect, code-developer, …). Has an id made before the process is
 *   spawned, a status, a cwd, and the real OS pid of its Claude Code process once known.
 * - invocation: one Claude Code session (one CLI process) of a run. A retry or a resume of a run is another
 *   invocation of the same run. Carries the session id, model, tokens and cost reported by the CLI.
 * - message: one line of the CLI's stream-json output (system/init, assistant, user, result, …), numbered by
 *   `seq` within its invocation.
 * - work item: a roadmap priority or a bug, moved through its state machine by the orchestrator.
 * - attempt: the 1-based count of runs of one role for one work item.
 * - worktree: a git worktree the orchestrator made for a run, on its own branch.
 * - integration branch: the branch finished work is merged into (default: the repository's current branch).
 *
 * Events are named dotted and past tense. They flow one way: runtime → bus → (store writer, dashboard, terminal).
 */

export type Brand<T, B extends string> = T & { readonly __brand: B };
export type RunId = Brand<string, 'RunId'>;
export type InvocationId = Brand<string, 'InvocationId'>;
export type WorkItemId = Brand<string, 'WorkItemId'>;

export const RunStatus = {
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  timedOut: 'timed_out',
  stopped: 'stopped',
  orphaned: 'orphaned',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'timed_out', 'stopped', 'orphaned'];
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['queued', 'running'];

export function isTerminalRunStatus(status: string): status is RunStatus {
  return (TERMINAL_RUN_STATUSES as readonly string[]).includes(status);
}

/** Why a run ended the way it did; stored in runs.error_kind. */
export const RunErrorKind = {
  apiError: 'api_error',
  cliExit: 'cli_exit',
  missingResult: 'missing_result',
  errorResult: 'error_result',
  spawnFailed: 'spawn_failed',
  inactivity: 'inactivity',
  wallClock: 'wall_clock',
  stopRequested: 'stop_requested',
  budget: 'budget',
  shutdown: 'shutdown',
  deliverableMissing: 'deliverable_missing',
  orphaned: 'orphaned',
} as const;
export type RunErrorKind = (typeof RunErrorKind)[keyof typeof RunErrorKind];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A stream message as recorded: the CLI's JSON line plus the fields the store indexes. */
export interface MessageRecord {
  invocationId: InvocationId;
  runId: RunId;
  seq: number;
  at: string;
  type: string;
  subtype: string | null;
  toolName: string | null;
  payload: JsonObject;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

export interface RunStartedEvent {
  runId: RunId;
  invocationId: InvocationId;
  agent: string;
  pid: number;
  at: string;
}

export interface RunEndedEvent {
  runId: RunId;
  invocationId: InvocationId | null;
  status: RunStatus;
  errorKind: RunErrorKind | null;
  errorMessage: string | null;
  costUsd: number;
  at: string;
}

export interface WorkItemTransitionedEvent {
  workItemId: WorkItemId;
  from: string;
  to: string;
  reason: string;
  at: string;
}

/**
 * A work item began waiting, its wait changed, or its wait ended (`waitingFor` null). `waitingFor` is the store's
 * WaitReason ('slot' | 'lock' | 'dependency' | 'backoff' | 'budget' | 'roadmap'), a plain string here because
 * events/ does not import store/.
 */
export interface WorkItemWaitingEvent {
  workItemId: WorkItemId;
  waitingFor: string | null;
  waitingDetail: string | null;
  waitingSince: string | null;
  at: string;
}

export interface PermissionDeniedEvent {
  runId: RunId;
  invocationId: InvocationId;
  toolName: string;
  reason: string;
  input: JsonObject;
  at: string;
}

/**
 * A spending limit stopped work: `day` (budgets.perDayUsd: no new session starts until tomorrow) or `run`
 * (budgets.perRunUsd, or a session's share of the day: the CLI stopped that session).
 */
export interface BudgetReachedEvent {
  scope: 'day' | 'run';
  limitUsd: number | null;
  workItemId: WorkItemId | null;
  runId: RunId | null;
  message: string;
  at: string;
}

/** A session asked a person a question (ask_human) and waits for the answer. */
export interface QuestionAskedEvent {
  questionId: string;
  runId: RunId;
  workItemId: WorkItemId | null;
  text: string;
}

/** The audit-trail kind of a progress report (RunProgressEvent). */
export const RUN_PROGRESS_EVENT = 'run.progress';

/**
 * A session reported its progress (the `report_progress` tool): a short status, and a percent when it knows one.
 * Kept in the audit trail as kind `run.progress`; the Now page shows each running run's latest.
 */
export interface RunProgressEvent {
  runId: RunId;
  workItemId: WorkItemId | null;
  status: string;
  /** 0..100, or null when the session gave none. */
  percent: number | null;
  at: string;
}

/** The one typed event map. Every bus subscriber (store writer, dashboard SSE, terminal reporter) reads these. */
export interface OrchestratorEvents {
  'run.queued': { runId: RunId; agent: string; workItemId: WorkItemId | null; at: string };
  'run.started': RunStartedEvent;
  'run.message': MessageRecord;
  'run.permission_denied': PermissionDeniedEvent;
  'run.progress': RunProgressEvent;
  'run.ended': RunEndedEvent;
  'work_item.transitioned': WorkItemTransitionedEvent;
  'work_item.waiting': WorkItemWaitingEvent;
  'orchestrator.notice': { level: 'info' | 'warn' | 'error'; message: string; at: string };
  'budget.reached': BudgetReachedEvent;
  'question.asked': QuestionAskedEvent;
}

export type OrchestratorEventName = keyof OrchestratorEvents;
