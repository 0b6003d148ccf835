import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import type { RunId } from '../../../src/events/index.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { answerQuestionAsPerson, noAnswerText, reconcileOrphanedRuns, sessionToolSettingsOf, waitForQuestion } from '../../../src/orchestrator/index.js';
import { SqliteStore } from '../../../src/store/index.js';

let dir: string;
let store: SqliteStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ask-human-'));
  store = SqliteStore.open(join(dir, 'o.db'));
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function configured(config: unknown) {
  await writeFile(join(dir, 'orchestrator.config.json'), JSON.stringify(config));
  return loadConfig({ repoRoot: dir, env: {} });
}

async function runOf(ownerPid: number): Promise<RunId> {
  const runId = `run-${ownerPid}-${Math.random().toString(36).slice(2)}` as RunId;
  await store.createRun({ id: runId, agent: 'code-developer', taskKind: 'code-developer', prompt: 'p', cwd: dir, ownerPid, host: hostname(), createdAt: new Date().toISOString() });
  return runId;
}

describe('ask_human settings', () => {
  it('wait by default; the fallback at once when unattended, unless configured to wait', async () => {
    const config = await configured({ sessionTools: { askHumanTimeoutSeconds: 90 } });
    expect(sessionToolSettingsOf(config)).toMatchObject({ askHuman: 'wait', askHumanTimeoutMs: 90_000 });
    expect(sessionToolSettingsOf(config, { unattended: true })).toMatchObject({ askHuman: 'fallback' });
    expect(sessionToolSettingsOf(await configured({ sessionTools: { askHumanUnattended: 'wait' } }), { unattended: true })).toMatchObject({ askHuman: 'wait' });
  });

  it('refuse a wait limit at or above the CLI\'s tool timeout, naming both', async () => {
    await expect(configured({ sessionTools: { askHumanTimeoutSeconds: 3600, toolTimeoutSeconds: 600 } })).rejects.toThrow(ConfigError);
    await expect(configured({ sessionTools: { askHumanTimeoutSeconds: 3600, toolTimeoutSeconds: 600 } })).rejects.toThrow(/askHumanTimeoutSeconds.*toolTimeoutSeconds/);
    await expect(configured({ sessionTools: { askHumanUnattended: 'maybe' } })).rejects.toThrow(/askHumanUnattended/);
  });

  it('say the limit in words', () => {
    expect(noAnswerText(1_800_000)).toBe('No answer from a person within 30 minutes: decide yourself, and say what you assumed.');
    expect(noAnswerText(60_000)).toBe('No answer from a person within 1 minute: decide yourself, and say what you assumed.');
    expect(noAnswerText(5_000)).toBe('No answer from a person within 5 seconds: decide yourself, and say what you assumed.');
  });
});

describe('waitForQuestion', () => {
  it('hears an answer given in this process at once, whatever its poll interval', async () => {
    const runId = await runOf(process.pid);
    const question = await store.addQuestion({ runId, text: 'Go on?', at: new Date().toISOString() });
    const waiting = waitForQuestion(store, question.id, { deadline: Date.now() + 600_000, signal: new AbortController().signal, pollMs: 600_000 });
    await answerQuestionAsPerson(store, String(question.id), 'yes', { by: 'dashboard' });
    expect(await waiting).toMatchObject({ state: 'answered', answer: 'yes', answeredBy: 'dashboard' });
  });

  it('returns the open question when its deadline passes or its signal aborts', async () => {
    const runId = await runOf(process.pid);
    const question = await store.addQuestion({ runId, text: 'Go on?', at: new Date().toISOString() });
    expect(await waitForQuestion(store, question.id, { deadline: Date.now() - 1, signal: new AbortController().signal })).toMatchObject({ state: 'open' });
    const aborted = new AbortController();
    const waiting = waitForQuestion(store, question.id, { deadline: Date.now() + 600_000, signal: aborted.signal, pollMs: 600_000 });
    aborted.abort();
    expect(await waiting).toMatchObject({ state: 'open' });
  });
});

describe('open questions survive a restart as cancelled', () => {
  it('the open question of a run orphaned by a restart is cancelled; another run\'s stays open', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const orphan = await runOf(Number(dead.stdout));
    const live = await runOf(process.pid);
    const asked = await store.addQuestion({ runId: orphan, text: 'Still there?', at: new Date().toISOString() });
    const other = await store.addQuestion({ runId: live, text: 'And you?', at: new Date().toISOString() });
    const orphaned = await reconcileOrphanedRuns(store, { graceMs: 100 });
    expect(orphaned.map((run) => run.id)).toEqual([orphan]);
    expect(await store.getQuestion(asked.id)).toMatchObject({ state: 'cancelled' });
    expect(await store.getQuestion(other.id)).toMatchObject({ state: 'open' });
    expect((await store.listEvents({ runId: orphan })).map((event) => event.kind)).toContain('question.cancelled');
  });
});
