import { OrchestratorError, type OrchestratorErrorOptions } from '../lib/errors.js';

/** PostgreSQL cannot be reached (refused, unknown host, wrong password, no such database). */
export class QueueUnreachableError extends OrchestratorError {
  constructor(reason: string, options: OrchestratorErrorOptions = {}) {
    super('ORCH_QUEUE_UNREACHABLE', `the job queue's database cannot be reached: ${reason}`, {
      hint: 'Check database.url (or ORCHESTRATOR_DATABASE_URL / --db): is PostgreSQL running and reachable from this machine, and are the user, password and database name right?',
      retryable: true,
      ...options,
    });
  }
}

/** The queue's tables are not installed in the schema a worker was pointed at. */
export class QueueSchemaMissingError extends OrchestratorError {
  constructor(schema: string) {
    super('ORCH_QUEUE_SCHEMA_MISSING', `the job queue is not installed in schema "${schema}"`, {
      hint: 'Start the coordinator (`orchestrator start`) against this database first: it installs the queue. Check that the coordinator and this worker use the same database and queue schema.',
      data: { schema },
    });
  }
}

/** The queue's schema was made by another version of the queue library than this process runs. */
export class QueueSchemaMismatchError extends OrchestratorError {
  constructor(message: string, options: OrchestratorErrorOptions = {}) {
    super('ORCH_QUEUE_SCHEMA_MISMATCH', message, {
      hint: 'Install the same orchestrator version on every machine (`npm install` the version the coordinator runs), then start this worker again.',
      ...options,
    });
  }
}

/** A schema name that is not a plain PostgreSQL identifier. */
export class QueueSchemaNameError extends OrchestratorError {
  override readonly exitCode = 2;
  constructor(schema: string) {
    super('ORCH_QUEUE_SCHEMA_NAME', `not a queue schema name: "${schema}"`, {
      hint: 'Use lower-case letters, digits and underscores, starting with a letter or underscore (at most 63 characters).',
    });
  }
}

/** A job whose payload is not a session job (written by something else, or by an incompatible version). */
export class QueuePayloadError extends OrchestratorError {
  constructor(message: string, options: OrchestratorErrorOptions = {}) {
    super('ORCH_QUEUE_PAYLOAD', message, {
      hint: 'Jobs are written by the coordinator; run the same orchestrator version on the coordinator and every worker.',
      ...options,
    });
  }
}

/** The queue library stopped the worker by itself (not through its AbortSignal). */
export class QueueWorkerStoppedError extends OrchestratorError {
  constructor(reason: string, options: OrchestratorErrorOptions = {}) {
    super('ORCH_QUEUE_WORKER_STOPPED', `the queue worker stopped: ${reason}`, {
      hint: 'See the cause; start the worker again once it is fixed.',
      ...options,
    });
  }
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', '28P01', '28000', '3D000', '57P03', '53300']);

/** Maps what node-postgres or the library throws to one of the errors above; anything else is returned as is. */
export function toQueueError(error: unknown): unknown {
  if (error instanceof OrchestratorError) return error;
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  if (UNREACHABLE_CODES.has(code) || /connect|Connection terminated/i.test(message)) return new QueueUnreachableError(code ? `${code}: ${message}` : message, { cause: error });
  if (/breaking migration|schema revision/i.test(message)) return new QueueSchemaMismatchError(message, { cause: error });
  return error;
}
