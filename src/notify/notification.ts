import type { NotificationKind } from '../config/index.js';
import type { OrchestratorEventName, OrchestratorEvents, RunId, WorkItemId } from '../events/index.js';
import type { AuditEventRecord } from '../store/index.js';

/**
 * Something a person should hear about, chosen from the orchestrator's events: a question waiting for them, a
 * work item blocked or done, a budget reached. Everything else the pipeline does is not a notification.
 */
export interface Notification {
  kind: NotificationKind;
  /** The event it came from (`work_item.transitioned`, `budget.reached`, `question.asked`). */
  event: OrchestratorEventName;
  at: string;
  workItemId: WorkItemId | null;
  runId: RunId | null;
  questionId: string | null;
  /** The fact to tell: the blocked reason, the question, the budget message; null when the kind says it all. */
  detail: string | null;
  /**
   * The same notification heard twice has the same key (a question from this process's bus and from the store),
   * and is sent once.
   */
  key: string;
}

/** The bus events that can notify; a subscriber listens to these alone. */
export const NOTIFYING_EVENTS = ['work_item.transitioned', 'budget.reached', 'question.asked'] as const satisfies readonly OrchestratorEventName[];
export type NotifyingEvent = (typeof NOTIFYING_EVENTS)[number];

/** The notification an event makes, or null (a transition to any state but done or blocked, for one). */
export function notificationOf<K extends NotifyingEvent>(name: K, payload: OrchestratorEvents[K]): Notification | null {
  switch (name) {
    case 'work_item.transitioned': {
      const event = payload as OrchestratorEvents['work_item.transitioned'];
      if (event.to !== 'done' && event.to !== 'blocked') return null;
      return {
        kind: event.to,
        event: name,
        at: event.at,
        workItemId: event.workItemId,
        runId: null,
        questionId: null,
        detail: event.to === 'blocked' ? event.reason : null,
        key: `${event.to}:${event.workItemId}:${event.at}`,
      };
    }
    case 'budget.reached': {
      const event = payload as OrchestratorEvents['budget.reached'];
      return { kind: 'budget', event: name, at: event.at, workItemId: event.workItemId, runId: event.runId, questionId: null, detail: event.message, key: `budget:${event.scope}:${event.runId ?? ''}:${event.at}` };
    }
    case 'question.asked': {
      const event = payload as OrchestratorEvents['question.asked'];
      return { kind: 'question', event: name, at: new Date().toISOString(), workItemId: event.workItemId, runId: event.runId, questionId: event.questionId, detail: event.text, key: `question:${event.questionId}` };
    }
    default:
      return null;
  }
}

/**
 * The notification an audit event recorded by another process makes (a question asked in a worker's session
 * reaches the coordinator only through the store). Only kinds that can come from elsewhere are read here.
 */
export function notificationOfAuditEvent(event: AuditEventRecord): Notification | null {
  if (event.kind !== 'question.asked') return null;
  const questionId = typeof event.data.questionId === 'string' || typeof event.data.questionId === 'number' ? String(event.data.questionId) : null;
  if (questionId === null || event.runId === null) return null;
  const text = typeof event.data.text === 'string' ? event.data.text : event.message;
  return { kind: 'question', event: 'question.asked', at: event.at, workItemId: event.workItemId, runId: event.runId, questionId, detail: text, key: `question:${questionId}` };
}

/** The audit-event kinds notificationOfAuditEvent reads. */
export const FOLLOWED_AUDIT_KINDS: ReadonlySet<string> = new Set(['question.asked']);
