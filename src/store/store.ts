import type {
  InvocationId,
  JsonObject,
  MessageRecord,
  RunErrorKind,
  RunId,
  RunStatus,
  WorkItemId,
} from '../events/index.js';
import type { CoordinatorRecord, NewRepository, NewWorker, NewWorkerJob, RepositoryRecord, WorkerRecord, WorkerState } from './cluster.js';
import type { StoreChangeNotifier } from './change-notifications.js';
import type { AgentMessageFilter, AgentMessageRecord, InboxQuery, NewAgentMessage, NewQuestion, QuestionAnswer, QuestionRecord, QuestionState } from './agent-messages.js';

/**
 * The one interface every caller uses to read and write orchestrator state. SQLite implements it for one
 * machine, PostgreSQL for several; both pass the same conformance suite (test/conformance/store.ts).
 * All times are UTC ISO-8601 strings. All methods are async so that a networked store fits the same shape.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data lives, for messages (a file path or a redacted connection URL). */
  readonly location: string;
  /**
   * Announcements of what any process commits, where the store has them (PostgreSQL: LISTEN/NOTIFY). Absent for
   * SQLite, whose followers poll.
   */
  readonly changes?: StoreChangeNotifier;

  // runs
  createRun(input: NewRun): Promise<RunRecord>;
  /** queued → running, with the real OS pid of the CLI process (never a made-up one). */
  markRunRunning(id: RunId, input: { pid: number; startedAt: string }): Promise<void>;
  /** Any status → a terminal status; keeps the first terminal status if called twice. */
  finishRun(id: RunId, input: FinishRun): Promise<void>;
  /** Records that someone asked to stop the run (from another process or the dashboard). */
  requestRunStop(id: RunId, at: string): Promise<void>;
  getRun(id: RunId): Promise<RunRecord | null>;
  /** Finds a run by full id or unique id prefix; null if none, throws RunNotFoundError-like StoreError if ambiguous. */
  findRun(idOrPrefix: string): Promise<RunRecord | null>;
  listRuns(filter?: RunFilter): Promise<RunSummary[]>;
  countRuns(filter?: RunFilter): Promise<number>;

  // invocations
  createInvocation(input: NewInvocation): Promise<InvocationRecord>;
  finishInvocation(id: InvocationId, input: FinishInvocation): Promise<void>;
  listInvocations(runId: RunId): Promise<InvocationRecord[]>;

  // messages (written by MessageWriter in batches: one transaction per batch)
  appendMessages(records: readonly MessageRecord[]): Promise<void>;
  listMessages(filter: MessageFilter): Promise<MessageRecord[]>;

  // usage
  usage(query: UsageQuery): Promise<UsageRow[]>;

  // work items (roadmap priorities and bugs)
  upsertWorkItem(input: NewWorkItem): Promise<WorkItemRecord>;
  getWorkItem(id: WorkItemId): Promise<WorkItemRecord | null>;
  listWorkItems(filter?: { kind?: WorkItemKind; states?: readonly string[] }): Promise<WorkItemRecord[]>;
  updateWorkItem(id: WorkItemId, patch: WorkItemPatch): Promise<void>;
  /**
   * Moves a work item from `from` to `to` only if it is still in `from` (compare-and-set), and records the
   * transition in the audit trail in the same transaction. Returns false if the item was not in `from`.
   */
  transitionWorkItem(id: WorkItemId, from: string, to: string, reason: string, at: string): Promise<boolean>;

  // the last read of the roadmap (one row per roadmap path)
  /** Records what the orchestrator read from the roadmap at a tip: how many items, and every problem (file:line, fix). */
  saveRoadmapRead(input: RoadmapReadRecord): Promise<void>;
  /** The most recent roadmap read, or null before the first `start`. */
  latestRoadmapRead(): Promise<RoadmapReadRecord | null>;

  // audit trail
  appendEvent(input: NewAuditEvent): Promise<AuditEventRecord>;
  listEvents(filter?: { workItemId?: WorkItemId; runId?: RunId; afterId?: number; limit?: number }): Promise<AuditEventRecord[]>;
  /** The id of the newest audit event (0 when there is none): where a follower starts. */
  lastEventId(): Promise<number>;
  /**
   * The worker each of these runs ran on, for the runs a worker took (from the RUN_WORKER_EVENT it recorded when it
   * started the run; runs of this process are absent).
   */
  runWorkers(runIds: readonly RunId[]): Promise<Map<RunId, RunWorker>>;

  // the agent message queue and questions for a person (src/store/agent-messages.ts)
  /** Stores a message (undelivered, unread). On PostgreSQL its insert is announced (StoreChange `agent_message`). */
  addAgentMessage(input: NewAgentMessage): Promise<AgentMessageRecord>;
  getAgentMessage(id: number): Promise<AgentMessageRecord | null>;
  /** Messages by run (sent, to, or delivered to it), work item, recipient kind; the newest `limit` (default 200), oldest first. */
  listAgentMessages(filter?: AgentMessageFilter): Promise<AgentMessageRecord[]>;
  /** A session's inbox: messages to its run, to its role on its work item, or to its work item; unread first, then oldest first. */
  inboxFor(query: InboxQuery): Promise<AgentMessageRecord[]>;
  /**
   * Claims messages for `runId` (delivered_at, delivered_to_run) where no run got them yet; returns the ids it
   * claimed, so that two sessions never both get one message.
   */
  markMessagesDelivered(ids: readonly number[], delivery: { runId: RunId; at: string }): Promise<number[]>;
  /** Undoes a claim of `runId` that could not be delivered (the session took no more input). */
  releaseMessageDelivery(ids: readonly number[], runId: RunId): Promise<void>;
  /** Sets read_at where unset; returns how many changed. */
  markMessagesRead(ids: readonly number[], at: string): Promise<number>;
  /** An open question, with its `question.asked` audit event in the same transaction. */
  addQuestion(input: NewQuestion): Promise<QuestionRecord>;
  getQuestion(id: number): Promise<QuestionRecord | null>;
  /** Oldest first; default limit 200. */
  listQuestions(filter?: { state?: QuestionState; runId?: RunId; workItemId?: WorkItemId; limit?: number }): Promise<QuestionRecord[]>;
  /**
   * Answers the question only if it is still open (the first answer wins), with its `question.answered` event in the
   * same transaction. Returns whether this call answered it.
   */
  answerQuestion(id: number, answer: QuestionAnswer): Promise<boolean>;
  /** open → expired (its wait's limit passed), with a `question.expired` event. Returns whether it changed. */
  expireQuestion(id: number, at: string): Promise<boolean>;
  /** open → cancelled (its session ended), with a `question.cancelled` event. Returns whether it changed. */
  cancelQuestion(id: number, at: string): Promise<boolean>;

  // several machines (src/store/cluster.ts): every time below is the database's clock
  /** The database's clock, UTC ISO-8601 with milliseconds (to age heartbeats without trusting this machine's clock). */
  databaseNow(): Promise<string>;
  /** The newest schema migration applied to this database (a newer build may have applied more than SCHEMA_VERSION). */
  appliedSchemaVersion(): Promise<number>;
  /** The repository with this key, created with `input.id` the first time; later calls return the first row. */
  ensureRepository(input: NewRepository): Promise<RepositoryRecord>;
  /** Records who holds the repository's coordinator lock (replacing any earlier holder); started now. */
  recordCoordinator(input: Omit<CoordinatorRecord, 'startedAt'>): Promise<void>;
  getCoordinator(repositoryId: string): Promise<CoordinatorRecord | null>;
  /** Removes the holder row if it still names this host and pid. */
  clearCoordinator(repositoryId: string, holder: { host: string; pid: number }): Promise<void>;
  /** A new worker, active, started and heartbeating now. */
  registerWorker(input: NewWorker): Promise<WorkerRecord>;
  /**
   * Moves an active or draining worker's heartbeat to now. Returns the worker's state afterwards: `lost` or
   * `stopped` means the heartbeat was refused (a lost worker's jobs were handed back: it must stop them), null that
   * there is no such worker.
   */
  heartbeatWorker(id: string): Promise<WorkerState | null>;
  /** active → draining, or active/draining → stopped; false when the worker was not in a state that allows it. */
  setWorkerState(id: string, state: 'draining' | 'stopped'): Promise<boolean>;
  /** Records that the worker runs this job (again: updates its run and item). */
  startWorkerJob(input: NewWorkerJob): Promise<void>;
  finishWorkerJob(workerId: string, jobId: string): Promise<void>;
  getWorker(id: string): Promise<WorkerRecord | null>;
  /** Workers (all, or those in `states`) with their jobs, oldest first. */
  listWorkers(filter?: { states?: readonly WorkerState[] }): Promise<WorkerRecord[]>;
  /**
   * Marks active and draining workers whose last heartbeat is older than `leaseMs` as lost, atomically (a heartbeat
   * that lands first wins), and returns them with the jobs they were running (kept, so the lead can hand them back
   * and `workers` can show them). Each lost worker is returned by exactly one call.
   */
  markLostWorkers(leaseMs: number): Promise<WorkerRecord[]>;

  close(): Promise<void>;
}

export const WorkItemKind = { priority: 'priority', bug: 'bug' } as const;
export type WorkItemKind = (typeof WorkItemKind)[keyof typeof WorkItemKind];

export interface NewRun {
  id: RunId;
  agent: string;
  taskKind: string;
  prompt: string;
  cwd: string;
  workItemId?: WorkItemId | null;
  attempt?: number;
  worktree?: string | null;
  branch?: string | null;
  /** pid of the orchestrator process that owns (spawned) the run, for crash recovery. */
  ownerPid: number;
  host: string;
  createdAt: string;
}

export interface FinishRun {
  status: RunStatus;
  endedAt: string;
  exitCode?: number | null;
  errorKind?: RunErrorKind | null;
  errorMessage?: string | null;
}

export interface RunRecord {
  id: RunId;
  agent: string;
  taskKind: string;
  prompt: string;
  workItemId: WorkItemId | null;
  attempt: number;
  status: RunStatus;
  cwd: string;
  worktree: string | null;
  branch: string | null;
  pid: number | null;
  ownerPid: number;
  host: string;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  lastEventAt: string | null;
  stopRequestedAt: string | null;
  exitCode: number | null;
  errorKind: RunErrorKind | null;
  errorMessage: string | null;
}

/** A run plus the totals of its invocations, as lists show it. */
export interface RunSummary extends RunRecord {
  invocationCount: number;
  sessionId: string | null;
  model: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  costUsd: number;
  /** true when any invocation's tokens and cost are our estimate (it ended without the CLI's result). */
  costEstimated: boolean;
  numTurns: number;
  durationMs: number | null;
}

export interface RunFilter {
  statuses?: readonly RunStatus[];
  agent?: string;
  workItemId?: WorkItemId;
  /** created_at >= since */
  since?: string;
  /** created_at < until */
  until?: string;
  limit?: number;
  /** keyset pagination: runs with id < beforeId (ids sort by creation time) */
  beforeId?: RunId;
  /** newest first (default), or the longest total session time first (runs with no finished session left out) */
  orderBy?: 'newest' | 'slowest';
}

export interface NewInvocation {
  id: InvocationId;
  runId: RunId;
  prompt: string;
  systemPrompt: string | null;
  model: string | null;
  resumeSessionId: string | null;
  startedAt: string;
}

export interface FinishInvocation {
  status: RunStatus;
  endedAt: string;
  sessionId: string | null;
  model: string | null;
  cliVersion: string | null;
  durationMs: number | null;
  durationApiMs: number | null;
  numTurns: number | null;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  /** The CLI's `total_cost_usd`, or our estimate when `costEstimated`. */
  costUsd: number;
  /**
   * true when the session ended without the CLI's result (SIGKILL, OOM, crash) and tokens and cost were estimated
   * from its recorded messages and a price table (src/usage). Default false.
   */
  costEstimated?: boolean;
  /** How the estimate was made, or what had no price; null for the CLI's own figures. */
  costNote?: string | null;
  resultSubtype: string | null;
  resultText: string | null;
  isError: boolean;
  terminalReason: string | null;
  apiErrorStatus: number | null;
  permissionDenials: JsonObject[];
  exitCode: number | null;
  signal: string | null;
  stderrTail: string;
}

export interface InvocationRecord extends FinishInvocation {
  costEstimated: boolean;
  costNote: string | null;
  id: InvocationId;
  runId: RunId;
  prompt: string;
  systemPrompt: string | null;
  resumeSessionId: string | null;
  startedAt: string;
  /** null while the invocation runs */
  endedAt: string;
}

export interface MessageFilter {
  runId?: RunId;
  invocationId?: InvocationId;
  /** messages with seq > afterSeq (per invocation) */
  afterSeq?: number;
  limit?: number;
}

export interface UsageQuery {
  by: 'agent' | 'day' | 'model' | 'work_item';
  since?: string;
  until?: string;
  agent?: string;
  statuses?: readonly RunStatus[];
}

export interface UsageRow {
  key: string;
  runs: number;
  succeeded: number;
  failed: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  costUsd: number;
  /** true when any invocation counted here has estimated tokens and cost. */
  costEstimated: boolean;
  totalDurationMs: number;
}

export interface NewWorkItem {
  id: WorkItemId;
  kind: WorkItemKind;
  /** roadmap number ("2.5", "US-3") or bug number */
  number: string;
  title: string;
  slug: string;
  state: string;
  position: number;
  severity?: string | null;
  body?: string | null;
  /** What the roadmap says after the item's status (`(2025-10-19) - HIGH PRIORITY`). */
  note?: string | null;
  dependsOn?: readonly string[];
  at: string;
}

/** Why an item that could move is waiting: a session slot, the integration lock, a dependency, a retry's backoff, the daily budget, or the project manager's roadmap update. */
export const WaitReason = { slot: 'slot', lock: 'lock', dependency: 'dependency', backoff: 'backoff', budget: 'budget', roadmap: 'roadmap' } as const;
export type WaitReason = (typeof WaitReason)[keyof typeof WaitReason];

export interface WorkItemRecord {
  id: WorkItemId;
  kind: WorkItemKind;
  number: string;
  title: string;
  slug: string;
  state: string;
  position: number;
  severity: string | null;
  body: string | null;
  note: string | null;
  dependsOn: string[];
  specPath: string | null;
  reviewPath: string | null;
  branch: string | null;
  worktree: string | null;
  attempts: Record<string, number>;
  blockedReason: string | null;
  /** What the scheduler is waiting for before this item's next step can run (null while it works, or at rest). */
  waitingFor: WaitReason | null;
  /** The wait in words, e.g. "4 of 4 sessions running" or "P-3 (merging)". */
  waitingDetail: string | null;
  /** When the current wait began. */
  waitingSince: string | null;
  createdAt: string;
  updatedAt: string;
}

export type WorkItemPatch = Partial<
  Pick<
    WorkItemRecord,
    'title' | 'specPath' | 'reviewPath' | 'branch' | 'worktree' | 'attempts' | 'blockedReason' | 'position' | 'body' | 'note' | 'severity' | 'dependsOn' | 'waitingFor' | 'waitingDetail' | 'waitingSince'
  >
> & { updatedAt: string };

/** A problem found in the roadmap, as the parser reports it (the store keeps its own copy of the shape). */
export interface StoredRoadmapProblem {
  file: string;
  line: number;
  severity: 'error' | 'warning';
  message: string;
  hint: string;
}

export interface RoadmapReadRecord {
  path: string;
  branch: string;
  tipSha: string;
  readAt: string;
  itemCount: number;
  problems: StoredRoadmapProblem[];
}

export interface NewAuditEvent {
  at: string;
  kind: string;
  runId?: RunId | null;
  workItemId?: WorkItemId | null;
  message: string;
  data?: JsonObject;
}

/** The audit event a worker records on each run it starts, naming itself and its host (data: workerId, host, jobId, attempts). */
export const RUN_WORKER_EVENT = 'run.worker_started';

/** Which worker ran a run, and where. */
export interface RunWorker {
  runId: RunId;
  workerId: string;
  host: string;
}

export interface AuditEventRecord {
  id: number;
  at: string;
  kind: string;
  runId: RunId | null;
  workItemId: WorkItemId | null;
  message: string;
  data: JsonObject;
}
