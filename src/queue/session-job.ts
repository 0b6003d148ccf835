import { QueuePayloadError } from './errors.js';

/** The task name of every role session in the queue. */
export const SESSION_TASK = 'role_session';

/**
 * What a job carries: JSON only. The coordinator defines the exact fields; the queue needs only `kind`, and the
 * four below for job keys and messages. Anything else (agent definitions, config, the commit) rides along.
 */
export interface SessionJobPayload {
  kind: 'role-session';
  workItemId: string;
  step: string;
  role: string;
  attempt: number;
  [field: string]: unknown;
}

/** A job as a handler sees it. */
export interface SessionJob<P extends SessionJobPayload = SessionJobPayload> {
  id: string;
  /** The job key (`item:<id>:<step>`), null for a job enqueued without one. */
  key: string | null;
  /** How many times the queue has started this job, this time included (a worker that died counts too). */
  attempts: number;
  maxAttempts: number;
  payload: P;
}

/** The key that keeps one work item from ever having two jobs for the same step. */
export function sessionJobKey(workItemId: string, step: string): string {
  return `item:${workItemId}:${step}`;
}

/** Checks a job's payload (it crossed a database): the fields the queue relies on, the rest untouched. */
export function parseSessionJobPayload(value: unknown): SessionJobPayload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new QueuePayloadError('a job payload is not an object');
  const record = value as Record<string, unknown>;
  if (record.kind !== 'role-session') throw new QueuePayloadError(`a job payload has kind ${JSON.stringify(record.kind)}, not "role-session"`);
  for (const field of ['workItemId', 'step', 'role'] as const) {
    if (typeof record[field] !== 'string' || record[field] === '') throw new QueuePayloadError(`a job payload has no ${field}`);
  }
  if (typeof record.attempt !== 'number' || !Number.isInteger(record.attempt)) throw new QueuePayloadError('a job payload has no integer attempt');
  return record as SessionJobPayload;
}
