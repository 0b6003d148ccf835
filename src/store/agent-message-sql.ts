import type { RunId, WorkItemId } from '../events/index.js';
import {
  QUESTION_ANSWERED_EVENT,
  QUESTION_ASKED_EVENT,
  QUESTION_CANCELLED_EVENT,
  QUESTION_EXPIRED_EVENT,
  type AgentMessageFilter,
  type AgentMessageRecord,
  type InboxQuery,
  type MessageRecipientKind,
  type MessageSenderKind,
  type NewAgentMessage,
  type NewQuestion,
  type QuestionAnswer,
  type QuestionRecord,
  type QuestionState,
} from './agent-messages.js';
import { parseJson, type Row } from './rows.js';
import type { Params, Query } from './sql.js';
import type { NewAuditEvent } from './store.js';

/** The SQL of the message queue and of questions, shared by both stores (`?` placeholders, as src/store/sql.ts). */

const placeholders = (count: number) => Array.from({ length: count }, () => '?').join(',');
const str = (value: unknown): string => (typeof value === 'string' ? value : String(value));
const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : str(value));
const num = (value: unknown): number => (typeof value === 'number' ? value : Number(value ?? 0));

/** The recipient columns of a new message: (kind, run, role, work item). */
function recipientColumns(input: NewAgentMessage): [MessageRecipientKind, string | null, string | null, string | null] {
  const to = input.recipient;
  switch (to.kind) {
    case 'run':
      return ['run', to.runId, null, null];
    case 'role':
      return ['role', null, to.role, to.workItemId];
    case 'work_item':
      return ['work_item', null, null, to.workItemId];
    case 'human':
      return ['human', null, null, null];
  }
}

/**
 * The inbox of a session: messages to its run, to its role on its work item, or to its work item. A null role or
 * item matches nothing (`= NULL` is never true), so one statement serves every owner.
 */
function inboxWhere(query: InboxQuery): Query {
  return {
    sql: `((recipient_kind = 'run' AND recipient_run_id = ?)
        OR (recipient_kind = 'role' AND recipient_role = ? AND recipient_work_item_id = ?)
        OR (recipient_kind = 'work_item' AND recipient_work_item_id = ?))${query.undeliveredOnly ? ' AND delivered_at IS NULL' : ''}`,
    params: [query.runId, query.role ?? null, query.workItemId ?? null, query.workItemId ?? null],
  };
}

export const agentMessageSql = {
  insertMessage: (input: NewAgentMessage): Query => {
    const [kind, runId, role, recipientItem] = recipientColumns(input);
    return {
      sql: `INSERT INTO agent_messages (created_at, sender_kind, sender_run_id, sender_role, sender_label, recipient_kind, recipient_run_id, recipient_role, recipient_work_item_id, work_item_id, body)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      params: [input.at, input.sender.kind, input.sender.runId ?? null, input.sender.role ?? null, input.sender.label ?? null, kind, runId, role, recipientItem, input.workItemId ?? recipientItem, input.body],
    };
  },
  getMessage: (id: number): Query => ({ sql: 'SELECT * FROM agent_messages WHERE id = ?', params: [id] }),
  listMessages: (filter: AgentMessageFilter): Query => {
    const clauses: string[] = [];
    const params: Params = [];
    if (filter.runId) {
      clauses.push('(recipient_run_id = ? OR sender_run_id = ? OR delivered_to_run = ?)');
      params.push(filter.runId, filter.runId, filter.runId);
    }
    if (filter.workItemId) {
      clauses.push('(work_item_id = ? OR recipient_work_item_id = ?)');
      params.push(filter.workItemId, filter.workItemId);
    }
    if (filter.recipientKind) {
      clauses.push('recipient_kind = ?');
      params.push(filter.recipientKind);
    }
    if (filter.undelivered) clauses.push('delivered_at IS NULL');
    if (filter.afterId !== undefined) {
      clauses.push('id > ?');
      params.push(filter.afterId);
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    // The newest `limit`, shown oldest first.
    return { sql: `SELECT * FROM (SELECT * FROM agent_messages ${where} ORDER BY id DESC LIMIT ?) newest ORDER BY id`, params: [...params, filter.limit ?? 200] };
  },
  inbox: (query: InboxQuery): Query => {
    const where = inboxWhere(query);
    return { sql: `SELECT * FROM agent_messages WHERE ${where.sql} ORDER BY (read_at IS NULL) DESC, id LIMIT ?`, params: [...where.params, query.limit ?? 100] };
  },
  /** Claims messages for a run: only those no one got yet; returns the ids it claimed (RETURNING, in both databases). */
  markDelivered: (ids: readonly number[], runId: RunId, at: string): Query => ({
    sql: `UPDATE agent_messages SET delivered_at = ?, delivered_to_run = ? WHERE id IN (${placeholders(ids.length)}) AND delivered_at IS NULL RETURNING id`,
    params: [at, runId, ...ids],
  }),
  releaseDelivery: (ids: readonly number[], runId: RunId): Query => ({
    sql: `UPDATE agent_messages SET delivered_at = NULL, delivered_to_run = NULL WHERE id IN (${placeholders(ids.length)}) AND delivered_to_run = ?`,
    params: [...ids, runId],
  }),
  markRead: (ids: readonly number[], at: string): Query => ({
    sql: `UPDATE agent_messages SET read_at = ? WHERE id IN (${placeholders(ids.length)}) AND read_at IS NULL`,
    params: [at, ...ids],
  }),
  insertQuestion: (input: NewQuestion): Query => ({
    sql: `INSERT INTO questions (run_id, work_item_id, role, text, choices, created_at, deadline_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'open')`,
    params: [input.runId, input.workItemId ?? null, input.role ?? null, input.text, input.choices ? JSON.stringify(input.choices) : null, input.at, input.deadlineAt ?? null],
  }),
  getQuestion: (id: number): Query => ({ sql: 'SELECT * FROM questions WHERE id = ?', params: [id] }),
  listQuestions: (filter: { state?: QuestionState; runId?: RunId; workItemId?: WorkItemId; limit?: number }): Query => {
    const clauses: string[] = [];
    const params: Params = [];
    if (filter.state) {
      clauses.push('state = ?');
      params.push(filter.state);
    }
    if (filter.runId) {
      clauses.push('run_id = ?');
      params.push(filter.runId);
    }
    if (filter.workItemId) {
      clauses.push('work_item_id = ?');
      params.push(filter.workItemId);
    }
    return { sql: `SELECT * FROM questions ${clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : ''} ORDER BY id LIMIT ?`, params: [...params, filter.limit ?? 200] };
  },
  /** First answer wins: only an open question changes. */
  answerQuestion: (id: number, answer: QuestionAnswer): Query => ({
    sql: "UPDATE questions SET state = 'answered', answer = ?, answered_by = ?, answered_at = ? WHERE id = ? AND state = 'open'",
    params: [answer.answer, answer.answeredBy, answer.at, id],
  }),
  closeQuestion: (id: number, state: 'expired' | 'cancelled', at: string): Query => ({
    sql: "UPDATE questions SET state = ?, answered_at = ? WHERE id = ? AND state = 'open'",
    params: [state, at, id],
  }),
};

/** The audit event recorded with a question in the same transaction (kind `question.asked`). */
export function questionAskedEvent(question: QuestionRecord): NewAuditEvent {
  return {
    at: question.createdAt,
    kind: QUESTION_ASKED_EVENT,
    runId: question.runId,
    workItemId: question.workItemId,
    message: `question ${question.id}: ${question.text.slice(0, 300)}`,
    data: { questionId: question.id, runId: question.runId, workItemId: question.workItemId, text: question.text, choices: question.choices, deadlineAt: question.deadlineAt },
  };
}

/** The audit event of an answered question (kind `question.answered`). */
export function questionAnsweredEvent(question: QuestionRecord): NewAuditEvent {
  return {
    at: question.answeredAt ?? question.createdAt,
    kind: QUESTION_ANSWERED_EVENT,
    runId: question.runId,
    workItemId: question.workItemId,
    message: `question ${question.id} answered by ${question.answeredBy ?? '?'}`,
    data: { questionId: question.id, runId: question.runId, workItemId: question.workItemId, answer: question.answer, answeredBy: question.answeredBy },
  };
}

/** The audit event of a question that stopped waiting without an answer. */
export function questionClosedEvent(question: QuestionRecord): NewAuditEvent {
  return {
    at: question.answeredAt ?? question.createdAt,
    kind: question.state === 'cancelled' ? QUESTION_CANCELLED_EVENT : QUESTION_EXPIRED_EVENT,
    runId: question.runId,
    workItemId: question.workItemId,
    message: `question ${question.id} ${question.state} without an answer`,
    data: { questionId: question.id, runId: question.runId, workItemId: question.workItemId, state: question.state },
  };
}

export function agentMessageFromRow(row: Row): AgentMessageRecord {
  return {
    id: num(row.id),
    createdAt: str(row.created_at),
    senderKind: str(row.sender_kind) as MessageSenderKind,
    senderRunId: strOrNull(row.sender_run_id) as RunId | null,
    senderRole: strOrNull(row.sender_role),
    senderLabel: strOrNull(row.sender_label),
    recipientKind: str(row.recipient_kind) as MessageRecipientKind,
    recipientRunId: strOrNull(row.recipient_run_id) as RunId | null,
    recipientRole: strOrNull(row.recipient_role),
    recipientWorkItemId: strOrNull(row.recipient_work_item_id) as WorkItemId | null,
    workItemId: strOrNull(row.work_item_id) as WorkItemId | null,
    body: str(row.body),
    deliveredAt: strOrNull(row.delivered_at),
    deliveredToRun: strOrNull(row.delivered_to_run) as RunId | null,
    readAt: strOrNull(row.read_at),
  };
}

export function questionFromRow(row: Row): QuestionRecord {
  const choices = row.choices === null || row.choices === undefined ? null : parseJson<string[] | null>(row.choices, null);
  return {
    id: num(row.id),
    runId: str(row.run_id) as RunId,
    workItemId: strOrNull(row.work_item_id) as WorkItemId | null,
    role: strOrNull(row.role),
    text: str(row.text),
    choices,
    createdAt: str(row.created_at),
    deadlineAt: strOrNull(row.deadline_at),
    answeredAt: strOrNull(row.answered_at),
    answer: strOrNull(row.answer),
    answeredBy: strOrNull(row.answered_by),
    state: str(row.state) as QuestionState,
  };
}
