/**
 * The dashboard's HTTP API, as the web UI sees it. Types only: the UI imports this file, never server code.
 */
import type { AgentMessageRecord, QuestionRecord } from '../store/index.js';
import type { AuditEventRecord, InvocationRecord, RoadmapReadRecord, RunSummary, StoredRoadmapProblem, UsageRow, WorkerFlag, WorkerJobRecord, WorkerState, WorkerView, WorkItemRecord } from '../store/index.js';
import type { JsonObject, JsonValue, MessageRecord, RunProgressEvent } from '../events/index.js';
import type { LiveRunState } from './live-runs.js';
import type { MessageDigest } from './message-digest.js';

export type { AgentMessageRecord, QuestionRecord };
export type { AuditEventRecord, InvocationRecord, RoadmapReadRecord, StoredRoadmapProblem, JsonObject, JsonValue, LiveRunState, MessageDigest, MessageRecord, RunProgressEvent, RunSummary, UsageRow, WorkerFlag, WorkerState, WorkItemRecord };

export interface ServerInfo {
  version: string;
  repoRoot: string | null;
  database: string;
  /** true when this server runs inside the orchestrator and streams its events live. */
  live: boolean;
  /** true when runs can be stopped from here. */
  canStop: boolean;
  startedAt: string;
}

/** A session's latest progress report (its `report_progress` tool). */
export type RunProgress = Pick<RunProgressEvent, 'status' | 'percent' | 'at'>;

export interface RunView extends RunSummary {
  live: LiveRunState | null;
  workItemTitle: string | null;
  /** The latest progress the session reported; filled for the Now page's active runs, null elsewhere. */
  progress: RunProgress | null;
}

/** A work item that waits, as the Now page lists it (the store's waiting_* columns with the item's name and state). */
export type WaitingItem = Pick<WorkItemRecord, 'id' | 'kind' | 'number' | 'title' | 'state' | 'waitingFor' | 'waitingDetail' | 'waitingSince'>;

export interface NowResponse {
  runs: RunView[];
  recent: RunView[];
  /** Work items waiting for something (a slot, the lock, a dependency, a backoff, the budget, the roadmap update), in roadmap order. */
  waiting: WaitingItem[];
  /** Questions agents asked that wait for a person's answer, oldest first. */
  questions: QuestionRecord[];
}

export interface RunListResponse {
  runs: RunView[];
  total: number;
  /** Pass as `before` for the next page; null on the last page. */
  nextBefore: string | null;
}

export interface RunDetailResponse {
  run: RunView;
  invocations: InvocationRecord[];
  events: AuditEventRecord[];
  workItem: WorkItemRecord | null;
  /** Messages sent by, to or delivered to the run, oldest first. */
  agentMessages: AgentMessageRecord[];
  /** Questions the run asked, oldest first. */
  questions: QuestionRecord[];
}

/** GET /api/agent-messages: the message queue (newest `limit`, oldest first) and the open questions. */
export interface AgentMessagesResponse {
  messages: AgentMessageRecord[];
  openQuestions: QuestionRecord[];
}

/** POST /api/runs/:id/messages {text}: the stored message (delivered into the session at its next turn boundary). */
export interface PostMessageResponse {
  message: AgentMessageRecord;
}

/** POST /api/questions/:id/answer {text}: the answered question. */
export interface AnswerResponse {
  question: QuestionRecord;
}

export interface MessagesResponse {
  messages: MessageRecord[];
  /** true when there may be more after the last one (ask again with after = its seq). */
  more: boolean;
}

export interface WorkItemView extends WorkItemRecord {
  runs: RunView[];
  costUsd: number;
  /** true when any of its runs' cost is our estimate (a session that ended without the CLI's result). */
  costEstimated: boolean;
}

export interface WorkItemsResponse {
  items: WorkItemView[];
  /** The orchestrator's last read of the roadmap, with its problems (file:line, fix); null before the first start. */
  roadmap: RoadmapReadRecord | null;
}

export interface WorkItemDetailResponse {
  item: WorkItemView;
  events: AuditEventRecord[];
}

export interface UsageResponse {
  byDay: UsageRow[];
  byAgent: UsageRow[];
  slowest: RunView[];
  totals: UsageRow;
}

export interface StopResponse {
  outcome: 'stopping' | 'already_ended' | 'other_host';
  run: RunView;
}

export interface ApiErrorBody {
  error: { code: string; message: string; hint?: string };
}

/** The global event stream's message event: a digest plus the run's live state. */
export interface ActivityEvent extends MessageDigest {
  live: LiveRunState | null;
}

/** A work item's spec or review, as committed on `ref`. */
export interface DocumentResponse {
  path: string;
  ref: string;
  text: string;
}

/** A job a worker runs (or ran when it was lost), with its run's agent and its work item's title when known. */
export interface WorkerJobView extends WorkerJobRecord {
  agent: string | null;
  workItemTitle: string | null;
}

/** A worker as the Workers panel shows it: `orchestrator workers`' view (heartbeat age, flag) plus its jobs named. */
export interface WorkerPanelView extends WorkerView {
  jobs: WorkerJobView[];
  /** Slots in use: the jobs it runs (for a lost worker: the jobs it had, now handed back). */
  running: number;
  /** Marked lost: its heartbeat stopped, its jobs went back to the queue, its runs are orphaned. */
  lost: boolean;
  /** Still active or draining, but silent past the lease: the coordinator's next sweep marks it lost. */
  late: boolean;
}

export interface WorkersResponse {
  /** The database's clock, which heartbeat ages are measured against. */
  now: string;
  leaseSeconds: number;
  /** Active, draining and lost workers (`?all=1`: stopped ones too), oldest first; empty on one machine without workers. */
  workers: WorkerPanelView[];
}
