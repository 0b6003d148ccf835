import pg from 'pg';
import type { InvocationId, MessageRecord, RunId, WorkItemId } from '../events/index.js';
import { StoreError } from '../lib/errors.js';
import { auditEventFromRow, invocationFromRow, messageFromRow, roadmapReadFromRow, runFromRow, summaryOf, totalsFromInvocationRows, workItemFromRow, type Row } from './rows.js';
import { PostgresChangeListener, type PostgresChangeListenerOptions } from './postgres-change-listener.js';
import { MIGRATIONS } from './schema.js';
import { latestEventByRun, RUN_IDS_PER_QUERY, runWorkersFrom, sql, usageRowFrom, type Params, type Query } from './sql.js';
import { findRunByPrefix } from './sqlite-store.js';
import { POSTGRES_CLOCK, clusterSql, coordinatorFromRow, repositoryFromRow, workersFromRows } from './cluster-sql.js';
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

const cluster = clusterSql(POSTGRES_CLOCK);

/** Any key to serialize migrations between orchestrators starting at once against one database. */
const MIGRATION_LOCK = 7_314_159;

const numbered = new Map<string, string>();
/** `?` placeholders (the shared SQL) to PostgreSQL's `$1, $2, …`. The shared SQL has no `?` inside literals. */
function toPostgres(text: string): string {
  let converted = numbered.get(text);
  if (converted === undefined) {
    let n = 0;
    converted = text.replace(/\?/g, () => `$${++n}`);
    numbered.set(text, converted);
  }
  return converted;
}

/**
 * A connection URL for messages: user, host, port and database, the password masked and the query left out (it can
 * carry `password=`, `sslkey=` paths and the like).
 */
export function redactUrl(url: string): string {
  const masked = url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
  const query = masked.indexOf('?');
  return query >= 0 ? `${masked.slice(0, query)}?…` : masked;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

/** How the store's change listener behaves (its connection, schema and lifetime are the store's). */
export type ChangeListenerSettings = Omit<PostgresChangeListenerOptions, 'connectionString' | 'schema' | 'signal'>;

/**
 * The PostgreSQL store, for several machines sharing one database. The same SQL as SQLite (src/store/sql.ts),
 * with numbered placeholders; transactions on one pooled connection; migrations under an advisory lock.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  /** How to open one more connection like the pool's (kept private: it may hold credentials). */
  readonly #connection: pg.ClientConfig;
  readonly #lifetime = new AbortController();
  /**
   * Committed changes of this schema, announced by the database (LISTEN/NOTIFY on a connection of its own,
   * opened at the first subscription, closed with the store).
   */
  readonly changes: PostgresChangeListener;

  private constructor(
    readonly location: string,
    pool: pg.Pool,
    connection: pg.ClientConfig,
    listener: Omit<PostgresChangeListenerOptions, 'signal'>,
  ) {
    this.#pool = pool;
    this.#connection = connection;
    this.changes = new PostgresChangeListener({ ...listener, signal: this.#lifetime.signal });
  }

  /** `schema` (tests) puts every table in that schema, created if missing. */
  static async open(url: string, options: { schema?: string; max?: number; listener?: ChangeListenerSettings } = {}): Promise<PostgresStore> {
    if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) throw new StoreError(`not a schema name: ${options.schema}`);
    const connection: pg.ClientConfig = { connectionString: url, ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}) };
    const pool = new pg.Pool({ ...connection, max: options.max ?? 8 });
    pool.on('error', () => {
      // An idle connection dropped by the server; the pool replaces it on the next query.
    });
    const store = new PostgresStore(redactUrl(url), pool, connection, { ...options.listener, connectionString: url, schema: options.schema });
    try {
      await store.#migrate(options.schema ?? null);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new StoreError(`cannot open the database ${redactUrl(url)}: ${(error as Error).message}`, {
        cause: error,
        hint: 'Check database.url (or ORCHESTRATOR_DATABASE_URL / --db): is PostgreSQL running and reachable, and may this user create tables?',
      });
    }
    return store;
  }

  async #migrate(schema: string | null): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      // Under the lock: CREATE SCHEMA IF NOT EXISTS is not safe against a concurrent twin.
      if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((row) => row.version));
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query(migration.postgres);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, new Date().toISOString()]);
      }
    });
  }

  async #transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async #all(query: Query, on: Queryable = this.#pool): Promise<Row[]> {
    return (await on.query<Row>(toPostgres(query.sql), query.params)).rows;
  }

  async #get(query: Query, on: Queryable = this.#pool): Promise<Row | undefined> {
    return (await this.#all(query, on))[0];
  }

  async #run(query: Query, on: Queryable = this.#pool): Promise<number> {
    return (await on.query(toPostgres(query.sql), query.params)).rowCount ?? 0;
  }

  async createRun(input: NewRun): Promise<RunRecord> {
    await this.#run(sql.insertRun(input));
    const run = await this.getRun(input.id);
    if (!run) throw new StoreError(`run ${input.id} was not saved`);
    return run;
  }

  async markRunRunning(id: RunId, input: { pid: number; startedAt: string }): Promise<void> {
    await this.#run(sql.markRunRunning(id, input.pid, input.startedAt));
  }

  async finishRun(id: RunId, input: FinishRun): Promise<void> {
    await this.#run(sql.finishRun(id, input));
  }

  async requestRunStop(id: RunId, at: string): Promise<void> {
    await this.#run(sql.requestRunStop(id, at));
  }

  async getRun(id: RunId): Promise<RunRecord | null> {
    const row = await this.#get(sql.getRun(id));
    return row ? runFromRow(row) : null;
  }

  async findRun(idOrPrefix: string): Promise<RunRecord | null> {
    return findRunByPrefix(idOrPrefix, async (id) => this.getRun(id), async (prefix) => this.#all(sql.runsWithPrefix(prefix)));
  }

  async listRuns(filter: RunFilter = {}): Promise<RunSummary[]> {
    const runs = (await this.#all(sql.listRuns(filter))).map(runFromRow);
    if (runs.length === 0) return [];
    const totals = totalsFromInvocationRows(await this.#all(sql.invocationTotals(runs.map((run) => run.id))));
    return runs.map((run) => summaryOf(run, totals.get(run.id)));
  }

  async countRuns(filter: RunFilter = {}): Promise<number> {
    return Number((await this.#get(sql.countRuns(filter)))?.n ?? 0);
  }

  async createInvocation(input: NewInvocation): Promise<InvocationRecord> {
    await this.#run(sql.insertInvocation(input));
    const row = await this.#get(sql.getInvocation(input.id));
    if (!row) throw new StoreError(`invocation ${input.id} was not saved`);
    return invocationFromRow(row);
  }

  async finishInvocation(id: InvocationId, input: FinishInvocation): Promise<void> {
    await this.#run(sql.finishInvocation(id, input));
  }

  async listInvocations(runId: RunId): Promise<InvocationRecord[]> {
    return (await this.#all(sql.listInvocations(runId))).map(invocationFromRow);
  }

  /** One multi-row INSERT per batch (one round trip), and the runs' last event times, in one transaction. */
  async appendMessages(records: readonly MessageRecord[]): Promise<void> {
    if (records.length === 0) return;
    const columns = '(invocation_id, run_id, seq, at, type, subtype, tool_name, payload)';
    const params: Params = [];
    const rows: string[] = [];
    for (const record of records) {
      const values = sql.messageParams(record);
      rows.push(`(${values.map((_, index) => `$${params.length + index + 1}`).join(', ')})`);
      params.push(...values);
    }
    await this.#transaction(async (client) => {
      await client.query(`INSERT INTO messages ${columns} VALUES ${rows.join(', ')}`, params);
      for (const [runId, at] of latestEventByRun(records)) await client.query(toPostgres(sql.touchRun), [at, runId, at]);
    });
  }

  async listMessages(filter: MessageFilter): Promise<MessageRecord[]> {
    const limit = filter.limit ?? 1000;
    if (filter.invocationId) return (await this.#all(sql.messagesOfInvocation(filter.invocationId, filter.afterSeq ?? 0, limit))).map(messageFromRow);
    if (filter.runId) return (await this.#all(sql.messagesOfRun(filter.runId, limit))).map(messageFromRow);
    throw new StoreError('listMessages needs a runId or an invocationId');
  }

  async usage(query: UsageQuery): Promise<UsageRow[]> {
    return (await this.#all(sql.usage(query))).map(usageRowFrom);
  }

  async upsertWorkItem(input: NewWorkItem): Promise<WorkItemRecord> {
    await this.#run(sql.upsertWorkItem(input));
    const item = await this.getWorkItem(input.id);
    if (!item) throw new StoreError(`work item ${input.id} was not saved`);
    return item;
  }

  async getWorkItem(id: WorkItemId): Promise<WorkItemRecord | null> {
    const row = await this.#get(sql.getWorkItem(id));
    return row ? workItemFromRow(row) : null;
  }

  async listWorkItems(filter: { kind?: 'priority' | 'bug'; states?: readonly string[] } = {}): Promise<WorkItemRecord[]> {
    return (await this.#all(sql.listWorkItems(filter))).map(workItemFromRow);
  }

  async updateWorkItem(id: WorkItemId, patch: WorkItemPatch): Promise<void> {
    const query = sql.updateWorkItem(id, patch);
    if (query) await this.#run(query);
  }

  async transitionWorkItem(id: WorkItemId, from: string, to: string, reason: string, at: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      if ((await this.#run(sql.transitionWorkItem(id, from, to, at), client)) !== 1) return false;
      await this.#run(sql.transitionEvent(id, from, to, reason, at), client);
      return true;
    });
  }

  async saveRoadmapRead(input: RoadmapReadRecord): Promise<void> {
    await this.#run(sql.saveRoadmapRead(input));
  }

  async latestRoadmapRead(): Promise<RoadmapReadRecord | null> {
    const row = await this.#get(sql.latestRoadmapRead);
    return row ? roadmapReadFromRow(row) : null;
  }

  async appendEvent(input: NewAuditEvent): Promise<AuditEventRecord> {
    const query = sql.insertEvent(input);
    const row = await this.#get({ sql: `${query.sql} RETURNING *`, params: query.params });
    if (!row) throw new StoreError('event was not saved');
    return auditEventFromRow(row);
  }

  async runWorkers(runIds: readonly RunId[]): Promise<Map<RunId, RunWorker>> {
    const rows: Row[] = [];
    for (let start = 0; start < runIds.length; start += RUN_IDS_PER_QUERY) rows.push(...(await this.#all(sql.eventsOfRuns(RUN_WORKER_EVENT, runIds.slice(start, start + RUN_IDS_PER_QUERY)))));
    return runWorkersFrom(rows);
  }

  async lastEventId(): Promise<number> {
    return Number((await this.#get(sql.lastEventId))?.n ?? 0);
  }

  async listEvents(filter: { workItemId?: WorkItemId; runId?: RunId; afterId?: number; limit?: number } = {}): Promise<AuditEventRecord[]> {
    return (await this.#all(sql.listEvents(filter))).map(auditEventFromRow);
  }

  async addAgentMessage(input: NewAgentMessage): Promise<AgentMessageRecord> {
    const query = agentMessageSql.insertMessage(input);
    const row = await this.#get({ sql: `${query.sql} RETURNING *`, params: query.params });
    if (!row) throw new StoreError('the message was not saved');
    const message = agentMessageFromRow(row);
    announceAgentMessage(message);
    return message;
  }

  async getAgentMessage(id: number): Promise<AgentMessageRecord | null> {
    const row = await this.#get(agentMessageSql.getMessage(id));
    return row ? agentMessageFromRow(row) : null;
  }

  async listAgentMessages(filter: AgentMessageFilter = {}): Promise<AgentMessageRecord[]> {
    return (await this.#all(agentMessageSql.listMessages(filter))).map(agentMessageFromRow);
  }

  async inboxFor(query: InboxQuery): Promise<AgentMessageRecord[]> {
    return (await this.#all(agentMessageSql.inbox(query))).map(agentMessageFromRow);
  }

  async markMessagesDelivered(ids: readonly number[], delivery: { runId: RunId; at: string }): Promise<number[]> {
    if (ids.length === 0) return [];
    return (await this.#all(agentMessageSql.markDelivered(ids, delivery.runId, delivery.at))).map((row) => Number(row.id)).sort((a, b) => a - b);
  }

  async releaseMessageDelivery(ids: readonly number[], runId: RunId): Promise<void> {
    if (ids.length > 0) await this.#run(agentMessageSql.releaseDelivery(ids, runId));
  }

  async markMessagesRead(ids: readonly number[], at: string): Promise<number> {
    return ids.length === 0 ? 0 : this.#run(agentMessageSql.markRead(ids, at));
  }

  async addQuestion(input: NewQuestion): Promise<QuestionRecord> {
    return this.#transaction(async (client) => {
      const insert = agentMessageSql.insertQuestion(input);
      const row = await this.#get({ sql: `${insert.sql} RETURNING *`, params: insert.params }, client);
      if (!row) throw new StoreError('the question was not saved');
      const question = questionFromRow(row);
      await this.#run(sql.insertEvent(questionAskedEvent(question)), client);
      return question;
    });
  }

  async getQuestion(id: number): Promise<QuestionRecord | null> {
    const row = await this.#get(agentMessageSql.getQuestion(id));
    return row ? questionFromRow(row) : null;
  }

  async listQuestions(filter: { state?: QuestionState; runId?: RunId; workItemId?: WorkItemId; limit?: number } = {}): Promise<QuestionRecord[]> {
    return (await this.#all(agentMessageSql.listQuestions(filter))).map(questionFromRow);
  }

  async answerQuestion(id: number, answer: QuestionAnswer): Promise<boolean> {
    return this.#settleQuestion(agentMessageSql.answerQuestion(id, answer), questionAnsweredEvent);
  }

  async expireQuestion(id: number, at: string): Promise<boolean> {
    return this.#settleQuestion(agentMessageSql.closeQuestion(id, 'expired', at), questionClosedEvent);
  }

  async cancelQuestion(id: number, at: string): Promise<boolean> {
    return this.#settleQuestion(agentMessageSql.closeQuestion(id, 'cancelled', at), questionClosedEvent);
  }

  /** A compare-and-set on an open question and its event, in one transaction (the UPDATE's row lock decides who wins). */
  async #settleQuestion(update: Query, event: (question: QuestionRecord) => NewAuditEvent): Promise<boolean> {
    const settledId = await this.#transaction(async (client) => {
      const row = await this.#get({ sql: `${update.sql} RETURNING *`, params: update.params }, client);
      if (!row) return null;
      const question = questionFromRow(row);
      await this.#run(sql.insertEvent(event(question)), client);
      return question.id;
    });
    if (settledId === null) return false;
    announceQuestionSettled(settledId);
    return true;
  }

  /**
   * A new connection outside the pool, to the same database and schema, for what must own a session of its own
   * (an advisory lock held for the process's life, LISTEN). The caller ends it; its errors are the caller's to handle.
   */
  async connectDedicated(options: { keepAlive?: boolean } = {}): Promise<pg.Client> {
    const client = new pg.Client({ ...this.#connection, keepAlive: options.keepAlive ?? true });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw new StoreError(`cannot open a connection to ${this.location}: ${(error as Error).message}`, { cause: error, hint: 'Check that PostgreSQL is running and reachable.' });
    }
    return client;
  }

  async appliedSchemaVersion(): Promise<number> {
    const { rows } = await this.#pool.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    return Number(rows[0]?.version ?? 0);
  }

  async databaseNow(): Promise<string> {
    return String((await this.#get(cluster.now))?.now);
  }

  async ensureRepository(input: NewRepository): Promise<RepositoryRecord> {
    await this.#run(cluster.insertRepository(input));
    const row = await this.#get(cluster.repositoryByKey(input.key));
    if (!row) throw new StoreError(`repository ${input.key} was not saved`);
    return repositoryFromRow(row);
  }

  async recordCoordinator(input: Omit<CoordinatorRecord, 'startedAt'>): Promise<void> {
    await this.#run(cluster.upsertCoordinator(input));
  }

  async getCoordinator(repositoryId: string): Promise<CoordinatorRecord | null> {
    const row = await this.#get(cluster.getCoordinator(repositoryId));
    return row ? coordinatorFromRow(row) : null;
  }

  async clearCoordinator(repositoryId: string, holder: { host: string; pid: number }): Promise<void> {
    await this.#run(cluster.deleteCoordinator(repositoryId, holder.host, holder.pid));
  }

  async registerWorker(input: NewWorker): Promise<WorkerRecord> {
    await this.#run(cluster.insertWorker(input));
    const worker = await this.getWorker(input.id);
    if (!worker) throw new StoreError(`worker ${input.id} was not saved`);
    return worker;
  }

  async heartbeatWorker(id: string): Promise<WorkerState | null> {
    await this.#run(cluster.heartbeat(id));
    const row = await this.#get(cluster.workerState(id));
    return row ? (String(row.state) as WorkerState) : null;
  }

  async setWorkerState(id: string, state: 'draining' | 'stopped'): Promise<boolean> {
    return (await this.#run(cluster.setWorkerState(id, state))) === 1;
  }

  async startWorkerJob(input: NewWorkerJob): Promise<void> {
    await this.#run(cluster.insertJob(input));
  }

  async finishWorkerJob(workerId: string, jobId: string): Promise<void> {
    await this.#run(cluster.deleteJob(workerId, jobId));
  }

  async getWorker(id: string): Promise<WorkerRecord | null> {
    const row = await this.#get(cluster.getWorker(id));
    return row ? ((await this.#withJobs([row]))[0] ?? null) : null;
  }

  async listWorkers(filter: { states?: readonly WorkerState[] } = {}): Promise<WorkerRecord[]> {
    return this.#withJobs(await this.#all(cluster.listWorkers(filter.states)));
  }

  async markLostWorkers(leaseMs: number): Promise<WorkerRecord[]> {
    return this.#transaction(async (client) => {
      const ids = (await this.#all(cluster.markLost(leaseMs), client)).map((row) => String(row.id));
      if (ids.length === 0) return [];
      const rows = (await Promise.all(ids.map(async (id) => this.#get(cluster.getWorker(id), client)))).filter((row): row is Row => row !== undefined);
      return this.#withJobs(rows, client);
    });
  }

  async #withJobs(rows: Row[], on: Queryable = this.#pool): Promise<WorkerRecord[]> {
    if (rows.length === 0) return [];
    return workersFromRows(rows, await this.#all(cluster.jobsOf(rows.map((row) => String(row.id))), on));
  }

  async close(): Promise<void> {
    this.#lifetime.abort();
    await this.changes.closed;
    await this.#pool.end();
  }
}
