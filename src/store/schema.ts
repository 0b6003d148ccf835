import { changeChannelSql } from './change-notifications.js';

/**
 * Numbered migrations, embedded as strings so the compiled package needs no .sql files. Applied in order at
 * open, each in its own transaction, recorded in schema_migrations. Never edit a released migration: add one.
 * Times are UTC ISO-8601 text in both dialects, so SQLite and PostgreSQL return identical strings.
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
  /** A migration SQLite neither runs nor records (what only a shared database needs). */
  postgresOnly?: true;
}

const RUNS = (dialect: 'sqlite' | 'postgres') => `
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  task_kind TEXT NOT NULL,
  prompt TEXT NOT NULL,
  work_item_id TEXT,
  attempt INTEGER NOT NULL DEFAULT 1,
  status TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','timed_out','stopped','orphaned')),
  cwd TEXT NOT NULL,
  worktree TEXT,
  branch TEXT,
  pid INTEGER,
  owner_pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  created_at TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT,
  last_event_at TEXT,
  stop_requested_at TEXT,
  exit_code INTEGER,
  error_kind TEXT,
  error_message TEXT
);
CREATE INDEX runs_status ON runs (status, id);
CREATE INDEX runs_agent ON runs (agent, id);
CREATE INDEX runs_work_item ON runs (work_item_id, id);
CREATE INDEX runs_created ON runs (created_at);

CREATE TABLE invocations (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id),
  prompt TEXT NOT NULL,
  system_prompt TEXT,
  resume_session_id TEXT,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  status TEXT NOT NULL DEFAULT 'running',
  session_id TEXT,
  model TEXT,
  cli_version TEXT,
  duration_ms INTEGER,
  duration_api_ms INTEGER,
  num_turns INTEGER,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
  cache_read_input_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd ${dialect === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION'} NOT NULL DEFAULT 0,
  result_subtype TEXT,
  result_text TEXT,
  is_error INTEGER NOT NULL DEFAULT 0,
  terminal_reason TEXT,
  api_error_status INTEGER,
  permission_denials TEXT NOT NULL DEFAULT '[]',
  exit_code INTEGER,
  signal TEXT,
  stderr_tail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX invocations_run ON invocations (run_id, started_at);

CREATE TABLE messages (
  id ${dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY'},
  invocation_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL,
  type TEXT NOT NULL,
  subtype TEXT,
  tool_name TEXT,
  payload TEXT NOT NULL,
  UNIQUE (invocation_id, seq)
);
CREATE INDEX messages_run ON messages (run_id, id);

CREATE TABLE work_items (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('priority','bug')),
  number TEXT NOT NULL,
  title TEXT NOT NULL,
  slug TEXT NOT NULL,
  state TEXT NOT NULL,
  position ${dialect === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION'} NOT NULL DEFAULT 0,
  severity TEXT,
  body TEXT,
  depends_on TEXT NOT NULL DEFAULT '[]',
  spec_path TEXT,
  review_path TEXT,
  branch TEXT,
  worktree TEXT,
  attempts TEXT NOT NULL DEFAULT '{}',
  blocked_reason TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX work_items_state ON work_items (state);

CREATE TABLE events (
  id ${dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY'},
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  run_id TEXT,
  work_item_id TEXT,
  message TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_work_item ON events (work_item_id, id);
CREATE INDEX events_run ON events (run_id, id);
`;

/** PostgreSQL compares text by the database's collation, which may ignore punctuation; ids and ISO times must sort bytewise, as in SQLite. */
const bytewiseText = (ddl: string) => ddl.replace(/\bTEXT\b/g, 'TEXT COLLATE "C"');

/**
 * A session that ended without the CLI's result (SIGKILL, OOM, crash) gets tokens and cost estimated from its
 * recorded messages: `cost_estimated` marks them, `cost_note` says how they were made (or what had no price).
 */
const COST_ESTIMATES = `
ALTER TABLE invocations ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invocations ADD COLUMN cost_note TEXT;
`;

/** The roadmap's note per work item, and the problems of the last roadmap read (status, doctor and the dashboard show them). */
const ROADMAP_WARNINGS = `
ALTER TABLE work_items ADD COLUMN note TEXT;

CREATE TABLE roadmap_reads (
  path TEXT PRIMARY KEY,
  branch TEXT NOT NULL,
  tip_sha TEXT NOT NULL,
  read_at TEXT NOT NULL,
  item_count INTEGER NOT NULL,
  problems TEXT NOT NULL DEFAULT '[]'
);
`;

/**
 * Why an item that can move is not moving (the scheduler's decision), so that `status` and the dashboard can say
 * it: waiting_for is one of slot, lock, dependency, backoff, budget, roadmap; null while it works or when at rest.
 */
const SCHEDULER_WAITS = `
ALTER TABLE work_items ADD COLUMN waiting_for TEXT;
ALTER TABLE work_items ADD COLUMN waiting_detail TEXT;
ALTER TABLE work_items ADD COLUMN waiting_since TEXT;
`;

/**
 * Several machines on one database. `repositories`: one row per repository, keyed by the normalized remote URL
 * (`remote:<host/path>`) or, without a remote, by an id kept in the clone's .orchestrator/ (`local:<id>`); its
 * generated `id` is what the coordinator lock is keyed on. `coordinators`: who holds a repository's coordinator lock
 * (the lock itself is a PostgreSQL advisory lock; this row only names the holder). `workers` and `worker_jobs`: the
 * processes that run sessions, their heartbeats (database clock, so machines' clocks never matter) and their jobs.
 */
const WORKERS = `
CREATE TABLE repositories (
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  remote_url TEXT,
  created_at TEXT NOT NULL
);

CREATE TABLE coordinators (
  repository_id TEXT PRIMARY KEY REFERENCES repositories (id),
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  connection_pid INTEGER,
  version TEXT,
  schema_version INTEGER NOT NULL
);

CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  slots INTEGER NOT NULL,
  version TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  last_heartbeat_at TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active','draining','stopped','lost')),
  state_changed_at TEXT NOT NULL
);
CREATE INDEX workers_state ON workers (state, last_heartbeat_at);

CREATE TABLE worker_jobs (
  worker_id TEXT NOT NULL REFERENCES workers (id),
  job_id TEXT NOT NULL,
  run_id TEXT,
  work_item_id TEXT,
  started_at TEXT NOT NULL,
  PRIMARY KEY (worker_id, job_id)
);
CREATE INDEX worker_jobs_run ON worker_jobs (run_id);
`;

/**
 * PostgreSQL announces every change another process must see live (issue 8, "across machines, live"): triggers
 * NOTIFY the schema's channel (changeChannelSql) in the writing transaction, so a notification is delivered
 * exactly when its rows are visible, and whatever writes (this store, recovery, another version) announces it.
 * Payloads are ids and small facts as JSON (parseStoreChange), never bodies. Messages are announced once per
 * statement and invocation (a transition table), not per row. SQLite has no listeners: PostgreSQL only.
 */
const CHANNEL = changeChannelSql('TG_TABLE_SCHEMA');
const CHANGE_NOTIFICATIONS_POSTGRES = `
CREATE FUNCTION orchestrator_notify_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(${CHANNEL}, json_build_object('k', 'message', 'run', run_id, 'inv', invocation_id, 'seq', max(seq))::text)
    FROM new_messages GROUP BY run_id, invocation_id;
  RETURN NULL;
END $$;
CREATE TRIGGER messages_notify AFTER INSERT ON messages REFERENCING NEW TABLE AS new_messages
  FOR EACH STATEMENT EXECUTE FUNCTION orchestrator_notify_messages();

CREATE FUNCTION orchestrator_notify_run_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify(${CHANNEL}, json_build_object('k', 'run', 'run', NEW.id, 'status', NEW.status)::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_notify_status AFTER INSERT OR UPDATE OF status ON runs
  FOR EACH ROW EXECUTE FUNCTION orchestrator_notify_run_status();

CREATE FUNCTION orchestrator_notify_run_stop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(${CHANNEL}, json_build_object('k', 'stop', 'run', NEW.id)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER runs_notify_stop AFTER UPDATE OF stop_requested_at ON runs
  FOR EACH ROW WHEN (NEW.stop_requested_at IS NOT NULL) EXECUTE FUNCTION orchestrator_notify_run_stop();

CREATE FUNCTION orchestrator_notify_invocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(${CHANNEL}, json_build_object('k', 'invocation', 'run', NEW.run_id, 'inv', NEW.id)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER invocations_notify AFTER INSERT ON invocations
  FOR EACH ROW EXECUTE FUNCTION orchestrator_notify_invocation();

CREATE FUNCTION orchestrator_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(${CHANNEL}, json_build_object('k', 'event', 'id', NEW.id, 'kind', left(NEW.kind, 200), 'run', NEW.run_id, 'item', NEW.work_item_id)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION orchestrator_notify_event();

CREATE FUNCTION orchestrator_notify_work_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR ROW(NEW.state, NEW.waiting_for, NEW.waiting_detail, NEW.waiting_since) IS DISTINCT FROM ROW(OLD.state, OLD.waiting_for, OLD.waiting_detail, OLD.waiting_since) THEN
    PERFORM pg_notify(${CHANNEL}, json_build_object('k', 'work_item', 'item', NEW.id, 'state', NEW.state)::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER work_items_notify AFTER INSERT OR UPDATE OF state, waiting_for, waiting_detail, waiting_since ON work_items
  FOR EACH ROW EXECUTE FUNCTION orchestrator_notify_work_item();
`;

/**
 * The agent-to-agent message queue and the questions that wait for a person (issue 9, src/store/agent-messages.ts).
 * Integer ids (short enough to type: `orchestrator answer 3 "…"`). The indexes serve the inbox of a session (to its
 * run; to its role on its item; to its item), a run's and an item's thread, and the open questions.
 */
const AGENT_MESSAGES = (dialect: 'sqlite' | 'postgres') => `
CREATE TABLE agent_messages (
  id ${dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY'},
  created_at TEXT NOT NULL,
  sender_kind TEXT NOT NULL CHECK (sender_kind IN ('human','agent','orchestrator')),
  sender_run_id TEXT,
  sender_role TEXT,
  sender_label TEXT,
  recipient_kind TEXT NOT NULL CHECK (recipient_kind IN ('run','role','work_item','human')),
  recipient_run_id TEXT,
  recipient_role TEXT,
  recipient_work_item_id TEXT,
  work_item_id TEXT,
  body TEXT NOT NULL,
  delivered_at TEXT,
  delivered_to_run TEXT,
  read_at TEXT
);
CREATE INDEX agent_messages_to_run ON agent_messages (recipient_run_id, id);
CREATE INDEX agent_messages_to_item ON agent_messages (recipient_work_item_id, recipient_kind, recipient_role, id);
CREATE INDEX agent_messages_thread ON agent_messages (work_item_id, id);
CREATE INDEX agent_messages_from_run ON agent_messages (sender_run_id, id);
CREATE INDEX agent_messages_delivered_to ON agent_messages (delivered_to_run, id);

CREATE TABLE questions (
  id ${dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY'},
  run_id TEXT NOT NULL,
  work_item_id TEXT,
  role TEXT,
  text TEXT NOT NULL,
  choices TEXT,
  created_at TEXT NOT NULL,
  deadline_at TEXT,
  answered_at TEXT,
  answer TEXT,
  answered_by TEXT,
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','answered','expired','cancelled'))
);
CREATE INDEX questions_state ON questions (state, id);
CREATE INDEX questions_run ON questions (run_id, id);
`;

/**
 * PostgreSQL announces new messages (so that a worker delivers one into its live session at once, the way it hears
 * a stop) and questions asked or settled, like migration 6: ids and small facts, never the body.
 */
const AGENT_MESSAGE_NOTIFICATIONS_POSTGRES = `
CREATE FUNCTION orchestrator_notify_agent_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(${CHANNEL}, json_build_object('k', 'agent_message', 'id', NEW.id, 'to', NEW.recipient_kind, 'run', NEW.recipient_run_id, 'item', COALESCE(NEW.recipient_work_item_id, NEW.work_item_id))::text);
  RETURN NULL;
END $$;
CREATE TRIGGER agent_messages_notify AFTER INSERT ON agent_messages
  FOR EACH ROW EXECUTE FUNCTION orchestrator_notify_agent_message();

CREATE FUNCTION orchestrator_notify_question() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state THEN
    PERFORM pg_notify(${CHANNEL}, json_build_object('k', 'question', 'id', NEW.id, 'state', NEW.state, 'run', NEW.run_id)::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER questions_notify AFTER INSERT OR UPDATE OF state ON questions
  FOR EACH ROW EXECUTE FUNCTION orchestrator_notify_question();
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', sqlite: RUNS('sqlite'), postgres: bytewiseText(RUNS('postgres')) },
  { version: 2, name: 'cost_estimates', sqlite: COST_ESTIMATES, postgres: bytewiseText(COST_ESTIMATES) },
  { version: 3, name: 'roadmap_warnings', sqlite: ROADMAP_WARNINGS, postgres: bytewiseText(ROADMAP_WARNINGS) },
  { version: 4, name: 'scheduler_waits', sqlite: SCHEDULER_WAITS, postgres: bytewiseText(SCHEDULER_WAITS) },
  { version: 5, name: 'workers', sqlite: WORKERS, postgres: bytewiseText(WORKERS) },
  { version: 6, name: 'change_notifications', sqlite: '', postgres: CHANGE_NOTIFICATIONS_POSTGRES, postgresOnly: true },
  // 7 is left to a migration built at the same time on another branch.
  {
    version: 8,
    name: 'agent_messages',
    sqlite: AGENT_MESSAGES('sqlite'),
    postgres: `${bytewiseText(AGENT_MESSAGES('postgres'))}\n${AGENT_MESSAGE_NOTIFICATIONS_POSTGRES}`,
  },
];

/** The schema version this build writes (workers refuse jobs from a coordinator on another one). */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;
