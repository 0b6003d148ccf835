import { describe, expect, it } from 'vitest';
import { DEFAULT_SESSION_TOOL_SETTINGS } from '../../../src/orchestrator/index.js';
import { sessionToolSettingsForJob } from '../../../src/orchestrator/session-executor.js';

describe("ask_human's mode travels with the job", () => {
  it("a job's mode (decided where the run started) wins over the executing process's own; without one, the process's", () => {
    const workerSettings = { ...DEFAULT_SESSION_TOOL_SETTINGS, askHuman: 'wait' as const };
    // A coordinator under --until-idle queued it: the worker, which has a terminal of its own, still falls back.
    expect(sessionToolSettingsForJob({ askHuman: 'fallback' }, workerSettings)).toEqual({ ...workerSettings, askHuman: 'fallback' });
    expect(sessionToolSettingsForJob({ askHuman: 'wait' }, { ...workerSettings, askHuman: 'fallback' }).askHuman).toBe('wait');
    // A job of an older coordinator says nothing: the worker's setting stands.
    expect(sessionToolSettingsForJob({}, workerSettings)).toBe(workerSettings);
  });
});
