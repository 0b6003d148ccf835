import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { SqliteDatabase } from './sqlite-driver.js';
import type { InvocationId, MessageRecord, RunId, WorkItemId } from '../events/index.js';
import { StoreError } from '../lib/errors.js';
import { auditEventFromRow, invocationFromRow, messageFromRow, roadmapReadFromRow, runFromRow, summaryOf, totalsFromInvocationRows, workItemFromRow, type Row } from './rows.js';
import { MIGRATIONS } from './schema.js';
import { latestEventByRun, RUN_IDS_PER_QUERY, runWorkersFrom, sql, usageRowFrom, type Query } from './sql.js';
import { SQLITE_CLOCK, clusterSql, coordinatorFromRow, repositoryFromRow, workersFromRows } from './cluster-sql.js';
import { agentMessageFromRow, agentMessageSql, questionAnsweredEvent, questionAskedEvent, questionClosedEvent, questionFromRow } from './agent-message-sql.js';
import { announceAgentMessage, announceQuestionSettled } from './local-announcements.js';
import type { AgentMessageFilter, AgentMessageRecord, InboxQuery, NewAgentMessage, NewQuestion, QuestionAnswer, QuestionRecord, QuestionState } from './agent-messages.js';
import type { CoordinatorRecord, NewRepository, NewWorker, NewWorkerJob, RepositoryRecord, WorkerRecord, WorkerState } from './cluster.js';
import { RUN_WORKER_EVENT } from './store.js';
import type {
  AuditEventRecord,
  FinishInvocation,
  FinishRun,
  InvocationRecord,
  MessageFilter,
  NewAuditEvent,
  NewInvocation,
  NewRun,
  NewWorkItem,
  RoadmapReadRecord,
  RunFilter,
  RunRecord,
  RunSummary,
  RunWorker,
  Store,
  UsageQuery,
  UsageRow,
  WorkItemPatch,
  WorkItemRecord,
} from './store.js';

const cluster = clusterSql(SQLITE_CLOCK);

/**
 * The SQLite store (better-sqlite3): WAL, a busy timeout so concurrent CLI processes wait instead of failing,
 * migrations at open. better-sqlite3 is synchronous; the async interface lets PostgreSQL share the callers.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  private constructor(
    readonly location: string,
    db: Database.Database,
  ) {
    this.#db = db;
  }

  static open(path: string): SqliteStore {
    let db: Database.Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new SqliteDatabase(path);
    } catch (error) {
      throw new StoreError(`cannot open the database ${path}: ${(error as Error).message}`, {
        cause: error,
        hint: 'Check that the directory is writable, or pass --db with another path.',
      });
    }
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    const store = new SqliteStore(path, db);
    store.#migrate();
    return store;
  }

  #migrate(): void {
    this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set((this.#db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((row) => row.version));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version) || migration.postgresOnly) continue;
      this.#db.transaction(() => {
        this.#db.exec(migration.sqlite);
        this.#db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, new Date().toISOString());
      }).immediate();
    }
  }

  /** Prepared statements are cached by their SQL text. */
  #statement(text: string): Database.Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  #all(query: Query): Row[] {
    return this.#statement(query.sql).all(...query.params) as Row[];
  }

  #get(query: Query): Row | undefined {
    return this.#statement(query.sql).get(...query.params) as Row | undefined;
  }

  #run(query: Query): Database.RunResult {
    return this.#statement(query.sql).run(...query.params);
  }

  async createRun(input: NewRun): Promise<RunRecord> {
    this.#run(sql.insertRun(input));
    const run = await this.getRun(input.id);
    if (!run) throw new StoreError(`run ${input.id} was not saved`);
    return run;
  }

  async markRunRunning(id: RunId, input: { pid: number; startedAt: string }): Promise<void> {
    this.#run(sql.markRunRunning(id, input.pid, input.startedAt));
  }

  async finishRun(id: RunId, input: FinishRun): Promise<void> {
    this.#run(sql.finishRun(id, input));
  }

  async requestRunStop(id: RunId, at: string): Promise<void> {
    this.#run(sql.requestRunStop(id, at));
  }

  async getRun(id: RunId): Promise<RunRecord | null> {
    const row = this.#get(sql.getRun(id));
    return row ? runFromRow(row) : null;
  }

  async findRun(idOrPrefix: string): Promise<RunRecord | null> {
    return findRunByPrefix(idOrPrefix, async (id) => this.getRun(id), async (prefix) => this.#all(sql.runsWithPrefix(prefix)));
  }

  async listRuns(filter: RunFilter = {}): Promise<RunSummary[]> {
    const runs = this.#all(sql.listRuns(filter)).map(runFromRow);
    if (runs.length === 0) return [];
    const totals = totalsFromInvocationRows(this.#all(sql.invocationTotals(runs.map((run) => run.id))));
    return runs.map((run) => summaryOf(run, totals.get(run.id)));
  }

  async countRuns(filter: RunFilter = {}): Promise<number> {
    return Number(this.#get(sql.countRuns(filter))?.n ?? 0);
  }

  async createInvocation(input: NewInvocation): Promise<InvocationRecord> {
    this.#run(sql.insertInvocation(input));
    const row = this.#get(sql.getInvocation(input.id));
    if (!row) throw new StoreError(`invocation ${input.id} was not saved`);
    return invocationFromRow(row);
  }

  async finishInvocation(id: InvocationId, input: FinishInvocation): Promise<void> {
    this.#run(sql.finishInvocation(id, input));
  }

  async listInvocations(runId: RunId): Promise<InvocationRecord[]> {
    return this.#all(sql.listInvocations(runId)).map(invocationFromRow);
  }

  async appendMessages(records: readonly MessageRecord[]): Promise<void> {
    if (records.length === 0) return;
    const insert = this.#statement(sql.insertMessage);
    const touch = this.#statement(sql.touchRun);
    this.#db.transaction(() => {
      for (const record of records) insert.run(...sql.messageParams(record));
      for (const [runId, at] of latestEventByRun(records)) touch.run(at, runId, at);
    })();
  }

  async listMessages(filter: MessageFilter): Promise<MessageRecord[]> {
    const limit = filter.limit ?? 1000;
    if (filter.invocationId) return this.#all(sql.messagesOfInvocation(filter.invocationId, filter.afterSeq ?? 0, limit)).map(messageFromRow);
    if (filter.runId) return this.#all(sql.messagesOfRun(filter.runId, limit)).map(messageFromRow);
    throw new StoreError('listMessages needs a runId or an invocationId');
  }

  async usage(query: UsageQuery): Promise<UsageRow[]> {
    return this.#all(sql.usage(query)).map(usageRowFrom);
  }

  async upsertWorkItem(input: NewWorkItem): Promise<WorkItemRecord> {
    this.#run(sql.upsertWorkItem(input));
    const item = await this.getWorkItem(input.id);
    if (!item) throw new StoreError(`work item ${input.id} was not saved`);
    return item;
  }

  async getWorkItem(id: WorkItemId): Promise<WorkItemRecord | null> {
    const row = this.#get(sql.getWorkItem(id));
    return row ? workItemFromRow(row) : null;
  }

  async listWorkItems(filter: { kind?: 'priority' | 'bug'; states?: readonly string[] } = {}): Promise<WorkItemRecord[]> {
    return this.#all(sql.listWorkItems(filter)).map(workItemFromRow);
  }

  async updateWorkItem(id: WorkItemId, patch: WorkItemPatch): Promise<void> {
    const query = sql.updateWorkItem(id, patch);
    if (query) this.#run(query);
  }

  async transitionWorkItem(id: WorkItemId, from: string, to: string, reason: string, at: string): Promise<boolean> {
    return this.#db.transaction(() => {
      if (this.#run(sql.transitionWorkItem(id, from, to, at)).changes !== 1) return false;
      this.#run(sql.transitionEvent(id, from, to, reason, at));
      return true;
    })();
  }

  async saveRoadmapRead(input: RoadmapReadRecord): Promise<void> {
    this.#run(sql.saveRoadmapRead(input));
  }

  async latestRoadmapRead(): Promise<RoadmapReadRecord | null> {
    const row = this.#get(sql.latestRoadmapRead);
    return row ? roadmapReadFromRow(row) : null;
  }

  async appendEvent(input: NewAuditEvent): Promise<AuditEventRecord> {
    const result = this.#run(sql.insertEvent(input));
    const row = this.#get(sql.getEvent(Number(result.lastInsertRowid)));
    if (!row) throw new StoreError('event was not saved');
    return auditEventFromRow(row);
  }

  async runWorkers(runIds: readonly RunId[]): Promise<Map<RunId, RunWorker>> {
    const rows: Row[] = [];
    for (let start = 0; start < runIds.length; start += RUN_IDS_PER_QUERY) rows.push(...(this.#all(sql.eventsOfRuns(RUN_WORKER_EVENT, runIds.slice(start, start + RUN_IDS_PER_QUERY)))));
    return runWorkersFrom(rows);
  }

  async lastEventId(): Promise<number> {
    return Number(this.#get(sql.lastEventId)?.n ?? 0);
  }

  async listEvents(filter: { workItemId?: WorkItemId; runId?: RunId; afterId?: number; limit?: number } = {}): Promise<AuditEventRecord[]> {
    return this.#all(sql.listEvents(filter)).map(auditEventFromRow);
  }

  async addAgentMessage(input: NewAgentMessage): Promise<AgentMessageRecord> {
    const result = this.#run(agentMessageSql.insertMessage(input));
    const message = await this.getAgentMessage(Number(result.lastInsertRowid));
    if (!message) throw new StoreError('the message was not saved');
    announceAgentMessage(message);
    return message;
  }

  async getAgentMessage(id: number): Promise<AgentMessageRecord | null> {
    const row = this.#get(agentMessageSql.getMessage(id));
    return row ? agentMessageFromRow(row) : null;
  }

  async listAgentMessages(filter: AgentMessageFilter = {}): Promise<AgentMessageRecord[]> {
    return this.#all(agentMessageSql.listMessages(filter)).map(agentMessageFromRow);
  }

  async inboxFor(query: InboxQuery): Promise<AgentMessageRecord[]> {
    return this.#all(agentMessageSql.inbox(query)).map(agentMessageFromRow);
  }

  async markMessagesDelivered(ids: readonly number[], delivery: { runId: RunId; at: string }): Promise<number[]> {
    if (ids.length === 0) return [];
    return this.#all(agentMessageSql.markDelivered(ids, delivery.runId, delivery.at))
      .map((row) => Number(row.id))
      .sort((a, b) => a - b);
  }

  async releaseMessageDelivery(ids: readonly number[], runId: RunId): Promise<void> {
    if (ids.length > 0) this.#run(agentMessageSql.releaseDelivery(ids, runId));
  }

  async markMessagesRead(ids: readonly number[], at: string): Promise<number> {
    return ids.length === 0 ? 0 : this.#run(agentMessageSql.markRead(ids, at)).changes;
  }

  async addQuestion(input: NewQuestion): Promise<QuestionRecord> {
    return this.#db.transaction(() => {
      const id = Number(this.#run(agentMessageSql.insertQuestion(input)).lastInsertRowid);
      const row = this.#get(agentMessageSql.getQuestion(id));
      if (!row) throw new StoreError('the question was not saved');
      const question = questionFromRow(row);
      this.#run(sql.insertEvent(questionAskedEvent(question)));
      return question;
    })();
  }

  async getQuestion(id: number): Promise<QuestionRecord | null> {
    const row = this.#get(agentMessageSql.getQuestion(id));
    return row ? questionFromRow(row) : null;
  }

  async listQuestions(filter: { state?: QuestionState; runId?: RunId; workItemId?: WorkItemId; limit?: number } = {}): Promise<QuestionRecord[]> {
    return this.#all(agentMessageSql.listQuestions(filter)).map(questionFromRow);
  }

  async answerQuestion(id: number, answer: QuestionAnswer): Promise<boolean> {
    return this.#settleQuestion(agentMessageSql.answerQuestion(id, answer), id, questionAnsweredEvent);
  }

  async expireQuestion(id: number, at: string): Promise<boolean> {
    return this.#settleQuestion(agentMessageSql.closeQuestion(id, 'expired', at), id, questionClosedEvent);
  }

  async cancelQuestion(id: number, at: string): Promise<boolean> {
    return this.#settleQuestion(agentMessageSql.closeQuestion(id, 'cancelled', at), id, questionClosedEvent);
  }

  /** Runs a compare-and-set on an open question and records its event, in one transaction. */
  #settleQuestion(update: Query, id: number, event: (question: QuestionRecord) => NewAuditEvent): boolean {
    const settled = this.#db.transaction(() => {
      if (this.#run(update).changes !== 1) return false;
      const row = this.#get(agentMessageSql.getQuestion(id));
      if (row) this.#run(sql.insertEvent(event(questionFromRow(row))));
      return true;
    })();
    if (settled) announceQuestionSettled(id);
    return settled;
  }

  async appliedSchemaVersion(): Promise<number> {
    const row = this.#db.prepare('SELECT max(version) AS version FROM schema_migrations').get() as { version: number | null } | undefined;
    return Number(row?.version ?? 0);
  }

  async databaseNow(): Promise<string> {
    return String(this.#get(cluster.now)?.now);
  }

  async ensureRepository(input: NewRepository): Promise<RepositoryRecord> {
    this.#run(cluster.insertRepository(input));
    const row = this.#get(cluster.repositoryByKey(input.key));
    if (!row) throw new StoreError(`repository ${input.key} was not saved`);
    return repositoryFromRow(row);
  }

  async recordCoordinator(input: Omit<CoordinatorRecord, 'startedAt'>): Promise<void> {
    this.#run(cluster.upsertCoordinator(input));
  }

  async getCoordinator(repositoryId: string): Promise<CoordinatorRecord | null> {
    const row = this.#get(cluster.getCoordinator(repositoryId));
    return row ? coordinatorFromRow(row) : null;
  }

  async clearCoordinator(repositoryId: string, holder: { host: string; pid: number }): Promise<void> {
    this.#run(cluster.deleteCoordinator(repositoryId, holder.host, holder.pid));
  }

  async registerWorker(input: NewWorker): Promise<WorkerRecord> {
    this.#run(cluster.insertWorker(input));
    const worker = await this.getWorker(input.id);
    if (!worker) throw new StoreError(`worker ${input.id} was not saved`);
    return worker;
  }

  async heartbeatWorker(id: string): Promise<WorkerState | null> {
    this.#run(cluster.heartbeat(id));
    const row = this.#get(cluster.workerState(id));
    return row ? (String(row.state) as WorkerState) : null;
  }

  async setWorkerState(id: string, state: 'draining' | 'stopped'): Promise<boolean> {
    return this.#run(cluster.setWorkerState(id, state)).changes === 1;
  }

  async startWorkerJob(input: NewWorkerJob): Promise<void> {
    this.#run(cluster.insertJob(input));
  }

  async finishWorkerJob(workerId: string, jobId: string): Promise<void> {
    this.#run(cluster.deleteJob(workerId, jobId));
  }

  async getWorker(id: string): Promise<WorkerRecord | null> {
    const row = this.#get(cluster.getWorker(id));
    return row ? (this.#withJobs([row])[0] ?? null) : null;
  }

  async listWorkers(filter: { states?: readonly WorkerState[] } = {}): Promise<WorkerRecord[]> {
    return this.#withJobs(this.#all(cluster.listWorkers(filter.states)));
  }

  async markLostWorkers(leaseMs: number): Promise<WorkerRecord[]> {
    return this.#db.transaction(() => {
      const ids = this.#all(cluster.markLost(leaseMs)).map((row) => String(row.id));
      if (ids.length === 0) return [];
      return this.#withJobs(ids.map((id) => this.#get(cluster.getWorker(id))).filter((row): row is Row => row !== undefined));
    })();
  }

  #withJobs(rows: Row[]): WorkerRecord[] {
    if (rows.length === 0) return [];
    return workersFromRows(rows, this.#all(cluster.jobsOf(rows.map((row) => String(row.id)))));
  }

  /** For benchmarks and bulk tools: runs a function in one transaction with the raw handle. */
  withRawDatabase<T>(fn: (db: Database.Database) => T): T {
    return this.#db.transaction(() => fn(this.#db))();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

/** A run by full id, or by a unique prefix of 4+ characters (an ambiguous prefix is an error listing the matches). */
export async function findRunByPrefix(
  idOrPrefix: string,
  byId: (id: RunId) => Promise<RunRecord | null>,
  withPrefix: (prefix: string) => Promise<Row[]>,
): Promise<RunRecord | null> {
  const ref = idOrPrefix.trim().toLowerCase();
  if (ref.length === 0) return null;
  const exact = await byId(ref as RunId);
  if (exact) return exact;
  if (ref.length < 4) return null;
  const matches = (await withPrefix(ref)).filter((row) => String(row.id).startsWith(ref));
  if (matches.length > 1) {
    throw new StoreError(`"${idOrPrefix}" matches ${matches.length > 5 ? 'more than 5' : matches.length} runs: ${matches.slice(0, 5).map((row) => String(row.id)).join(', ')}`, {
      hint: 'Give more characters of the run id.',
    });
  }
  return matches[0] ? runFromRow(matches[0]) : null;
}
