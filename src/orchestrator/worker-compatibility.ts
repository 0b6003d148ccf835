import { OrchestratorError } from '../lib/errors.js';
import type { CoordinatorRecord } from '../store/index.js';

/** A worker whose package version or database schema differs from the coordinator's: it must take no jobs. */
export class WorkerIncompatibleError extends OrchestratorError {
  constructor(what: 'version' | 'schema', worker: { version: string; schemaVersion: number }, coordinator: CoordinatorRecord) {
    const mine = what === 'version' ? worker.version : `schema ${worker.schemaVersion}`;
    const theirs = what === 'version' ? String(coordinator.version) : `schema ${coordinator.schemaVersion}`;
    super('ORCH_WORKER_INCOMPATIBLE', `this worker runs ${mine} but the coordinator (pid ${coordinator.pid} on ${coordinator.host}) runs ${theirs}: it takes no jobs`, {
      hint: 'Install the same orchestrator version on every machine (npm install -g roadmap-orchestrator@<version>), then start the worker again.',
      data: { what, worker: { ...worker }, coordinator: { host: coordinator.host, pid: coordinator.pid, version: coordinator.version, schemaVersion: coordinator.schemaVersion } },
    });
  }
}

/**
 * Why this worker must not take the coordinator's jobs, or null when it may (or when no coordinator has recorded
 * itself yet: nothing to compare). The schema always counts; the version when the coordinator recorded one.
 */
export function workerIncompatibility(coordinator: CoordinatorRecord | null, worker: { version: string; schemaVersion: number }): WorkerIncompatibleError | null {
  if (!coordinator) return null;
  if (coordinator.schemaVersion !== worker.schemaVersion) return new WorkerIncompatibleError('schema', worker, coordinator);
  if (coordinator.version !== null && coordinator.version !== worker.version) return new WorkerIncompatibleError('version', worker, coordinator);
  return null;
}
