import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../../src/events/index.js';
import { mergeTestMarker } from '../../../src/orchestrator/integration-gate.js';
import { RUN_MARKER_ENV, isProcessAlive, killRunProcesses } from '../../../src/runtime/index.js';

const P1 = 'P-1' as WorkItemId;

describe('the marker of a merge test', () => {
  it('names the repository: ending one repository’s merge tests leaves another’s P-1 running', async () => {
    expect(mergeTestMarker('/repos/a', P1)).toBe(mergeTestMarker('/repos/a/', P1));
    expect(mergeTestMarker('/repos/a', P1)).not.toBe(mergeTestMarker('/repos/b', P1));
    // A merge test of repository A, as the integration gate starts it.
    const test = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env: { [RUN_MARKER_ENV]: mergeTestMarker('/repos/a', P1) }, stdio: 'ignore' });
    const pid = test.pid!;
    try {
      // Repository B's merge step of its own P-1 ends its leftovers: not A's test.
      await killRunProcesses(mergeTestMarker('/repos/b', P1), null, 1_000);
      expect(isProcessAlive(pid)).toBe(true);
      const exited = once(test, 'exit');
      await killRunProcesses(mergeTestMarker('/repos/a', P1), null, 1_000);
      await exited;
      expect(test.signalCode).toBe('SIGKILL');
    } finally {
      test.kill('SIGKILL');
    }
  });
});
