/**
 * The job queue of several machines (issue 8): every role session is a graphile-worker job in PostgreSQL, picked
 * up through LISTEN/NOTIFY. See docs/architecture.md, "Several machines: the job queue".
 */
export { QueuePayloadError, QueueSchemaMismatchError, QueueSchemaMissingError, QueueSchemaNameError, QueueUnreachableError, QueueWorkerStoppedError } from './errors.js';
export { DEFAULT_MAX_ATTEMPTS, openQueueClient, type EnqueueOptions, type EnqueueResult, type JobState, type QueueClient, type ReleasedJobs } from './queue-client.js';
export { assertQueueInstalled, DEFAULT_QUEUE_SCHEMA, installQueueSchema, stderrQueueLog, type QueueLocation, type QueueLog, type QueueLogLevel } from './queue-schema.js';
export { DEFAULT_DRAIN_GRACE_MS, runQueueWorker, type QueueWorkerOptions, type SessionJobHandler } from './queue-worker.js';
export { parseSessionJobPayload, SESSION_TASK, sessionJobKey, type SessionJob, type SessionJobPayload } from './session-job.js';
