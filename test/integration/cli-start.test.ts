import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../src/events/index.js';
import { isProcessAlive } from '../../src/runtime/index.js';
import { SqliteStore, type RunRecord, type Store } from '../../src/store/index.js';
import { runCli, startCli, waitCli } from '../helpers/cli.js';
import { sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo, roadmapOf } from '../helpers/pipeline.js';
import { liveProcessesOfRun } from '../helpers/processes.js';
import { developerWriting, standardRoles } from '../helpers/role-scenarios.js';

const model = useScriptedModel();

async function withStore<T>(root: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = SqliteStore.open(join(root, '.orchestrator', 'orchestrator.db'));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function waitForRun(root: string, predicate: (run: RunRecord) => boolean, timeoutMs = 60_000): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await withStore(root, async (store) => (await store.listRuns({ limit: 50 })).find(predicate) ?? null).catch(() => null);
    if (found) return found;
    await sleep(100);
  }
  throw new Error('no run reached the expected state');
}

describe('orchestrator start (the CLI)', () => {
  it('recovers from SIGKILL mid-run: nothing left running, nothing lost, the session resumed and the item completed', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Survivor' }]));
    model.addScenarios([
      {
        name: 'developer-killed-mid-run',
        match: { prompt: '^ROLE: code-developer\\nPRIORITY 1:' },
        turns: [
          { tools: [{ name: 'Write', input: { file_path: '{{cwd}}/src/survivor.js', content: 'export const alive = true;\n' } }] },
          { tools: [{ name: 'Bash', input: { command: 'sleep 30', description: 'a long build' } }] },
          // After the restart the same session is resumed and continues here.
          { tools: [{ name: 'Bash', input: { command: 'git add src/survivor.js && git commit -q -m "Add survivor"', description: 'commit' } }] },
          { text: 'IMPLEMENTED: survivor' },
        ],
      },
      ...standardRoles,
    ]);
    const env = sessionEnv(model);
    const first = startCli(['start', '--until-idle'], { cwd: repo.path, env });
    const developer = await waitForRun(repo.path, (run) => run.agent === 'code-developer' && run.status === 'running');
    await model.waitForRequest((request) => request.scenario === 'developer-killed-mid-run' && request.turnIndex === 1);
    await sleep(800);
    first.kill('SIGKILL');
    await first.closed;
    // The session outlives its orchestrator (its own process group) until the next start deals with it.
    const second = await runCli(['start', '--until-idle'], { cwd: repo.path, env, timeoutMs: 280_000 });
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain('recovered 1 run(s)');
    expect(isProcessAlive(developer.pid!)).toBe(false);
    expect(liveProcessesOfRun(developer.id)).toEqual([]);
    await withStore(repo.path, async (store) => {
      expect((await store.getWorkItem('P-1' as WorkItemId))?.state).toBe('done');
      const developers = (await store.listRuns({ agent: 'code-developer' })).reverse();
      expect(developers.map((run) => run.status)).toEqual(['orphaned', 'succeeded']);
      expect(developers[0]!.errorMessage).toContain('ended while the run was running');
      const [orphan] = await store.listInvocations(developers[0]!.id);
      expect(orphan).toMatchObject({ status: 'orphaned', isError: true });
      expect(orphan!.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      const [resumed] = await store.listInvocations(developers[1]!.id);
      expect(resumed!.resumeSessionId).toBe(orphan!.sessionId);
      expect(resumed!.sessionId).toBe(orphan!.sessionId);
    });
    expect(repo.git('show', 'main:src/survivor.js')).toBe('export const alive = true;\n');
    const turns = model.requests.filter((request) => request.scenario === 'developer-killed-mid-run').map((request) => request.turnIndex);
    expect(turns).toEqual([0, 1, 2, 3]);
  });

  it('refuses a second start in the same repository, naming the pid that holds it', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Waiting' }]));
    model.addScenarios([{ name: 'slow-architect', match: { prompt: '^ROLE: architect' }, turns: [{ delayMs: 20_000, text: 'thinking' }] }]);
    const env = sessionEnv(model);
    const first = startCli(['start'], { cwd: repo.path, env });
    await waitForRun(repo.path, (run) => run.agent === 'architect' && run.status === 'running');
    const second = await runCli(['start'], { cwd: repo.path, env });
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain(`another orchestrator is already running in this repository (pid ${first.pid!}`);
    expect(second.stderr).toContain('fix: ');
    first.kill('SIGINT');
    const stopped = await waitCli(first, 60_000);
    expect(stopped.exitCode).toBe(130);
    await withStore(repo.path, async (store) => {
      const [architect] = await store.listRuns({ agent: 'architect' });
      expect(architect?.status).toBe('stopped');
      // Shutdown does not block the item: it resumes on the next start.
      expect((await store.getWorkItem('P-1' as WorkItemId))?.state).toBe('specifying');
    });
    expect(existsSync(join(repo.path, '.orchestrator', 'orchestrator.lock'))).toBe(false);
  });

  it('rejects a roadmap it cannot read at all and a broken agent file with errors naming file and line', async () => {
    await using repo = await pipelineRepo('# Roadmap\n\nPRIORITY 1 is to be decided.\n');
    const env = sessionEnv(model);
    const unreadable = await runCli(['start', '--until-idle'], { cwd: repo.path, env });
    expect(unreadable.exitCode).toBe(1);
    expect(unreadable.stderr).toContain('docs/roadmap/ROADMAP.md:1: has no priorities or user stories the orchestrator can read');
    expect(unreadable.stderr).toContain('fix: Give each item a heading such as `### PRIORITY 1: User login`');
    await repo.write('docs/roadmap/ROADMAP.md', roadmapOf([{ number: '1', title: 'A' }]));
    // A missing role would run the built-in default; two files with one name is a real problem.
    await repo.write('.claude/agents/reviewer_copy.md', repo.git('show', 'HEAD:.claude/agents/code-reviewer.md'));
    repo.commitAll('fix roadmap, duplicate the reviewer');
    const missing = await runCli(['start', '--until-idle'], { cwd: repo.path, env });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(`${join(repo.path, '.claude/agents/code-reviewer.md')}: agent name "code-reviewer" is also used by ${join(repo.path, '.claude/agents/reviewer_copy.md')}`);
    expect(missing.stderr).toContain('fix: Claude Code would pick one of them arbitrarily.');
    expect(model.requests.filter((request) => request.kind === 'turn')).toEqual([]);
  });

  it('takes a high-severity bug before roadmap priorities, through bug-fixer, review and merge', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Feature' }]), { config: { concurrency: { maxRuns: 1 } } });
    model.addScenarios([
      developerWriting({ number: 'B', name: 'bug-fixer', match: '^ROLE: bug-fixer\\nBUG 1:', file: 'src/fix.js', content: 'export const fixed = true;\n' }),
      {
        name: 'bug-reviewer',
        match: { prompt: '^ROLE: code-reviewer\\nBUG 1:[\\s\\S]*?Write your review to: (?<review>\\S+)' },
        turns: [{ tools: [{ name: 'Write', input: { file_path: '{{cwd}}/{{review}}', content: 'Verdict: APPROVED\n' } }] }, { text: 'REVIEW WRITTEN' }],
      },
      developerWriting({ number: '1', file: 'src/feature.js', content: 'export const feature = 1;\n' }),
      ...standardRoles,
    ]);
    const env = sessionEnv(model);
    const filed = await runCli(['bug', 'Crash on empty input', '--severity', 'high', '--body', 'Steps: call with "". Expected: no crash.'], { cwd: repo.path, env });
    expect(filed.stdout).toContain('filed bug 1 (B-1, high): Crash on empty input');
    const started = await runCli(['start', '--until-idle', '--quiet', '--port', '0'], { cwd: repo.path, env, timeoutMs: 280_000 });
    expect(started.exitCode).toBe(0);
    // It served the dashboard while it worked, and said where.
    expect(started.stdout).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\//);
    await withStore(repo.path, async (store) => {
      expect((await store.listWorkItems()).map((item) => [item.id, item.state])).toEqual([['P-1', 'done'], ['B-1', 'done']]);
      const runs = (await store.listRuns({ limit: 100 })).reverse();
      // The bug's session goes first; while the orchestrator tests its fix (no session, so no slot), the one slot
      // goes to the priority's architect: slots are for running sessions only.
      expect(runs[0]?.agent).toBe('bug-fixer');
      expect(runs.filter((run) => run.workItemId === 'B-1').map((run) => run.agent)).toEqual(['bug-fixer', 'code-reviewer']);
      expect(runs.filter((run) => run.workItemId === 'P-1').map((run) => run.agent)).toEqual(['architect', 'code-developer', 'code-reviewer', 'project-manager']);
      const [fixer] = await store.listInvocations(runs[0]!.id);
      expect(fixer!.prompt).toContain('Steps: call with "". Expected: no crash.');
    });
    expect(repo.git('show', 'main:src/fix.js')).toBe('export const fixed = true;\n');
    const status = await runCli(['status'], { cwd: repo.path, env });
    expect(status.stdout).toMatch(/BUG 1\s+Crash on empty input\s+done/);
  });
});
