import { findProcessesOfRun } from '../../src/runtime/index.js';

/** Live processes (any group) carrying the run's marker: after a session ends this must be empty. */
export function liveProcessesOfRun(runId: string): number[] {
  return findProcessesOfRun(runId);
}
