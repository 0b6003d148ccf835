import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import type { RunId, WorkItemId } from '../../../src/events/index.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { bugsFiledBy, fileBug, sessionToolSettingsOf, sessionToolsEnv } from '../../../src/orchestrator/index.js';
import { SqliteStore } from '../../../src/store/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'session-tools-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configured(config: unknown) {
  await writeFile(join(dir, 'orchestrator.config.json'), JSON.stringify(config));
  return loadConfig({ repoRoot: dir, env: {} });
}

describe('session tools: settings', () => {
  it('default to 3 bugs per run and a 24 h MCP tool timeout, given to the CLI as MCP_TOOL_TIMEOUT in ms', async () => {
    const settings = sessionToolSettingsOf(await configured({}));
    expect(settings).toEqual({ bugsPerRun: 3, messagesPerRun: 20, messagesPerItem: 100, toolTimeoutMs: 86_400_000, askHumanTimeoutMs: 1_800_000, askHuman: 'wait' });
    expect(sessionToolsEnv(settings)).toEqual({ MCP_TOOL_TIMEOUT: '86400000' });
    expect(sessionToolSettingsOf(await configured({ sessionTools: { bugsPerRun: 0, toolTimeoutSeconds: 7200 } }))).toEqual({ bugsPerRun: 0, messagesPerRun: 20, messagesPerItem: 100, toolTimeoutMs: 7_200_000, askHumanTimeoutMs: 1_800_000, askHuman: 'wait' });
  });

  it('refuse an unknown key or a negative limit, naming it', async () => {
    await expect(configured({ sessionTools: { bugsPerRunn: 2 } })).rejects.toThrow(ConfigError);
    await expect(configured({ sessionTools: { bugsPerRun: -1 } })).rejects.toThrow(/bugsPerRun/);
  });
});

describe('fileBug (orchestrator bug and the file_bug tool)', () => {
  it('numbers bugs after the highest, links a session’s bug to its run, and stops at the run’s limit; a person has none', async () => {
    const store = SqliteStore.open(join(dir, 'o.db'));
    try {
      const filedBy = { runId: 'run-1' as RunId, role: 'code-reviewer', workItemId: 'P-2' as WorkItemId };
      const first = await fileBug(store, { title: '  Crash  ', body: 'steps', severity: 'high', filedBy }, { perRunLimit: 2 });
      // Filed at the same time: one at a time, so each gets its own number.
      const [second, third] = await Promise.all([
        fileBug(store, { title: 'Second', body: '', severity: 'low', filedBy }, { perRunLimit: 2 }),
        fileBug(store, { title: 'Third', body: '', severity: 'low', filedBy }, { perRunLimit: 2 }),
      ]);
      const byPerson = await fileBug(store, { title: 'From a person', body: 'b', severity: 'medium' });
      expect(first).toMatchObject({ kind: 'filed', item: { id: 'B-1', title: 'Crash', severity: 'high', state: 'planned' } });
      expect(second).toMatchObject({ kind: 'filed', item: { id: 'B-2' } });
      expect(third).toEqual({ kind: 'limit_reached', filed: 2, limit: 2 });
      expect(byPerson).toMatchObject({ kind: 'filed', item: { id: 'B-3', body: 'b' } });
      expect(first.kind === 'filed' && first.item.body).toBe('steps\n\n---\nFiled by the code-reviewer session of run run-1 while it worked on P-2.');
      expect(await bugsFiledBy(store, 'run-1' as RunId)).toBe(2);
      const events = (await store.listEvents({ limit: 100 })).filter((event) => event.kind === 'bug.filed');
      expect(events.map((event) => [event.workItemId, event.runId])).toEqual([
        ['B-1', 'run-1'],
        ['B-2', 'run-1'],
        ['B-3', null],
      ]);
      expect(events[0]?.data).toEqual({ filedByRun: 'run-1', filedByRole: 'code-reviewer', fromWorkItem: 'P-2' });
    } finally {
      await store.close();
    }
  });
});
