import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../src/events/index.js';
import { branchName } from '../../src/roadmap/index.js';
import { isProcessAlive } from '../../src/runtime/index.js';
import type { ScenarioInput } from '../../src/scripted-model/index.js';
import type { RunSummary, Store } from '../../src/store/index.js';
import { runCli, startCli, type StartedCli } from '../helpers/cli.js';
import { postgresTestDatabase, sqliteTestDatabase, withTestStore, type TestDatabase } from '../helpers/databases.js';
import { sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo, roadmapOf } from '../helpers/pipeline.js';
import { liveProcessesOfRun } from '../helpers/processes.js';
import { standardRoles } from '../helpers/role-scenarios.js';
import type { TmpRepo } from '../helpers/tmp-repo.js';

/**
 * kill -9 of `orchestrator start` at the moments where work has landed but the orchestrator has not acted on it
 * yet. The restart must keep that work: accept what is on disk or on the branch, continue orphaned sessions
 * without counting them as failed attempts, merge each item exactly once, and leave no process behind.
 */

const model = useScriptedModel();
/** A "long build" that must never end by itself during a test: only the recovery may end it. */
const LONG_COMMAND_SECONDS = 900;
/** The whole test (two orchestrator lifetimes on a busy 2-core machine) stays well inside the long command. */
const TEST_TIMEOUT_MS = (LONG_COMMAND_SECONDS - 120) * 1000;
const RESTART_TIMEOUT_MS = TEST_TIMEOUT_MS / 2;
const P1 = 'P-1' as WorkItemId;
const P2 = 'P-2' as WorkItemId;

type Db = TestDatabase;
const sqliteDb = (repo: TmpRepo): Db => sqliteTestDatabase(repo.path);
const postgresDb = (): Promise<Db> => postgresTestDatabase('orch_crash');
const inspect = withTestStore;

/** Polls until `ready()` holds; the limit is the test's own timeout (the scenario decides when, not a clock). */
async function until(ready: () => boolean, what: string, child: StartedCli): Promise<void> {
  while (!ready()) {
    if (child.exitCode !== null) throw new Error(`orchestrator ended (exit ${child.exitCode}) before ${what}:\n${child.output.stdout}\n${child.output.stderr}`);
    await sleep(100);
  }
}

/** The runs of `agent` for an item, oldest first. */
async function runsOf(store: Store, workItemId: WorkItemId, agent: string): Promise<RunSummary[]> {
  return (await store.listRuns({ workItemId, agent, limit: 100 })).reverse();
}

function mergeCommitsOf(repo: TmpRepo, branch: string): string[] {
  return repo.git('log', '--merges', '--fixed-strings', `--grep=Merge ${branch}:`, '--format=%H', 'main').split('\n').filter(Boolean);
}

function hasBranch(repo: TmpRepo, branch: string): boolean {
  return repo.git('for-each-ref', '--format=%(refname)', `refs/heads/${branch}`).trim() !== '';
}

function branchSubjects(repo: TmpRepo, branch: string): string[] {
  try {
    return repo.git('log', '--format=%s', `refs/heads/${branch}`).split('\n');
  } catch {
    return [];
  }
}

/** Developer A writes its file, then runs a long build; it commits only after the restart resumes its session. */
function sleepingDeveloper(markers: string): ScenarioInput {
  return {
    name: 'developer-a-long-build',
    match: { prompt: '^ROLE: code-developer\\nPRIORITY 1:' },
    turns: [
      { tools: [{ name: 'Write', input: { file_path: '{{cwd}}/src/alpha.js', content: 'export const alpha = 1;\n' } }] },
      { tools: [{ name: 'Bash', input: { command: `touch ${markers}/a-building && sleep ${LONG_COMMAND_SECONDS}`, description: 'a long build' }, }] },
      { tools: [{ name: 'Bash', input: { command: 'git add src/alpha.js && git commit -q -m "Add alpha"', description: 'commit' } }] },
      { text: 'IMPLEMENTED: alpha' },
    ],
  };
}

/** Developer B commits first, then runs a long check: killed there, its resumed session has nothing left to commit. */
function committedDeveloper(markers: string): ScenarioInput {
  return {
    name: 'developer-b-committed',
    match: { prompt: '^ROLE: code-developer\\nPRIORITY 2:' },
    turns: [
      { tools: [{ name: 'Write', input: { file_path: '{{cwd}}/src/beta.js', content: 'export const beta = 2;\n' } }] },
      { tools: [{ name: 'Bash', input: { command: 'git add src/beta.js && git commit -q -m "Add beta"', description: 'commit' } }] },
      { tools: [{ name: 'Bash', input: { command: `touch ${markers}/b-checking && sleep ${LONG_COMMAND_SECONDS}`, description: 'a long final check' } }] },
      { text: 'IMPLEMENTED: beta (committed before)' },
    ],
  };
}

async function killedWhileDevelopersWork(db: Db, repo: TmpRepo): Promise<void> {
  const markers = await mkdtemp(join(tmpdir(), 'orch-markers-'));
  try {
    model.addScenarios([sleepingDeveloper(markers), committedDeveloper(markers), ...standardRoles]);
    const env = sessionEnv(model);
    const branchB = branchName('2', 'Beta');
    const first = startCli([...db.args, 'start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env });
    await until(() => existsSync(join(markers, 'a-building')), "developer A's long build started", first);
    await until(() => existsSync(join(markers, 'b-checking')) && branchSubjects(repo, branchB).includes('Add beta'), "developer B's commit is on its branch", first);
    first.kill('SIGKILL');
    await first.closed;

    // Both sessions outlive their orchestrator (their own process groups), as after a real crash.
    const killed = await inspect(db, async (store) => (await store.listRuns({ agent: 'code-developer', statuses: ['running'] })).filter((run) => run.workItemId !== null));
    expect(killed.map((run) => run.workItemId).sort()).toEqual([P1, P2]);
    for (const run of killed) expect(liveProcessesOfRun(run.id).length).toBeGreaterThan(0);

    const restartedAt = new Date().toISOString();
    const second = await runCli([...db.args, 'start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env, timeoutMs: RESTART_TIMEOUT_MS });
    expect(second.exitCode, `${second.stdout}\n${second.stderr}`).toBe(0);
    expect(second.stdout).toContain('recovered 2 run(s)');
    // No stray process: the sessions and their sleeping builds are gone.
    for (const run of killed) {
      expect(liveProcessesOfRun(run.id)).toEqual([]);
      expect(isProcessAlive(run.pid!)).toBe(false);
    }

    const sessions = new Map<WorkItemId, string>();
    await inspect(db, async (store) => {
      for (const killedRun of killed) {
        const id = killedRun.workItemId!;
        const item = await store.getWorkItem(id);
        expect(item, id).toMatchObject({ state: 'done', blockedReason: null });
        const developers = await runsOf(store, id, 'code-developer');
        const events = await store.listEvents({ workItemId: id, limit: 10_000 });
        const history = JSON.stringify({ runs: developers.map((run) => [run.id, run.status, run.attempt, run.errorMessage]), events: events.map((event) => `${event.at} ${event.kind}: ${event.message}`) }, null, 1);
        // From the kill on: the killed run stays orphaned, one run continues it and succeeds, with the same attempt
        // number, and the item's attempt count is what it was when the orchestrator died.
        const fromKill = developers.slice(developers.findIndex((run) => run.id === killedRun.id));
        expect(fromKill.map((run) => run.status), history).toEqual(['orphaned', 'succeeded']);
        expect(fromKill.map((run) => run.attempt), history).toEqual([killedRun.attempt, killedRun.attempt]);
        expect(item!.attempts['code-developer'], history).toBe(killedRun.attempt);
        const [orphan] = await store.listInvocations(fromKill[0]!.id);
        const [resumed] = await store.listInvocations(fromKill[1]!.id);
        expect(resumed!.resumeSessionId).toBe(orphan!.sessionId);
        sessions.set(id, orphan!.sessionId!);
        expect(events.filter((event) => event.kind === 'attempt.failed' && event.at >= restartedAt).map((event) => event.message), history).toEqual([]);
      }
      const failedSinceRestart = (await store.listRuns({ statuses: ['failed', 'timed_out'], limit: 100 })).filter((run) => run.createdAt >= restartedAt);
      expect(failedSinceRestart.map((run) => [run.agent, run.errorMessage])).toEqual([]);
    });

    // Each item merged exactly once; both files on main.
    expect(mergeCommitsOf(repo, branchName('1', 'Alpha'))).toHaveLength(1);
    expect(mergeCommitsOf(repo, branchB)).toHaveLength(1);
    expect(repo.git('show', 'main:src/alpha.js')).toBe('export const alpha = 1;\n');
    expect(repo.git('show', 'main:src/beta.js')).toBe('export const beta = 2;\n');
    // The killed sessions continued where they were, and B was told what its branch already held.
    const turns = (id: WorkItemId) => model.requests.filter((request) => request.sessionId === sessions.get(id) && request.kind === 'turn').map((request) => request.turnIndex);
    expect(turns(P1)).toEqual([0, 1, 2, 3]);
    expect(turns(P2)).toEqual([0, 1, 2, 3]);
    const resumedB = model.requests.find((request) => request.sessionId === sessions.get(P2) && request.turnIndex === 3);
    expect(JSON.stringify(resumedB?.body)).toContain('already holds 1 commit(s) of this work');
    expect(JSON.stringify(resumedB?.body)).toContain('Add beta');
  } finally {
    await rm(markers, { recursive: true, force: true });
  }
}

const TWO_PRIORITIES = roadmapOf([
  { number: '1', title: 'Alpha' },
  { number: '2', title: 'Beta' },
]);

describe('kill -9 of orchestrator start keeps the work already done', () => {
  it(
    'SQLite: one developer in a long build, the other already committed: both items done, merged once, no stray process',
    async () => {
      await using repo = await pipelineRepo(TWO_PRIORITIES, { config: { concurrency: { maxRuns: 4, perRole: { 'code-developer': 2 } } } });
      await killedWhileDevelopersWork(sqliteDb(repo), repo);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'PostgreSQL: the same crash and restart, recorded in its own schema',
    async () => {
      await using repo = await pipelineRepo(TWO_PRIORITIES, { config: { concurrency: { maxRuns: 4, perRole: { 'code-developer': 2 } } } });
      await using db = await postgresDb();
      await killedWhileDevelopersWork(db, repo);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a spec written before the crash is accepted without a new architect session',
    async () => {
      await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Gamma' }]));
      const specInWorktree = join(repo.path, '.orchestrator/worktrees/1-gamma/docs/specs/SPEC-1-gamma.md');
      model.addScenarios([
        {
          name: 'architect-killed-after-writing',
          match: { prompt: '^ROLE: architect\\n[\\s\\S]*?to: (?<spec>\\S+)' },
          maxSessions: 1,
          turns: [{ tools: [{ name: 'Write', input: { file_path: '{{cwd}}/{{spec}}', content: '# SPEC 1: Gamma\n\nWritten before the crash.\n' } }] }, { hang: true }],
        },
        developerFor('1', 'src/gamma.js'),
        ...standardRoles,
      ]);
      const env = sessionEnv(model);
      const first = startCli(['start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env });
      await until(() => existsSync(specInWorktree), 'the spec was written', first);
      first.kill('SIGKILL');
      await first.closed;
      const second = await runCli(['start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env, timeoutMs: RESTART_TIMEOUT_MS });
      expect(second.exitCode, `${second.stdout}\n${second.stderr}`).toBe(0);
      const db = sqliteDb(repo);
      await inspect(db, async (store) => {
        expect(await store.getWorkItem(P1)).toMatchObject({ state: 'done', blockedReason: null });
        expect((await runsOf(store, P1, 'architect')).map((run) => run.status)).toEqual(['orphaned']);
        const events = await store.listEvents({ workItemId: P1, limit: 10_000 });
        expect(events.some((event) => event.kind === 'delivery.recovered' && event.message.includes('SPEC-1-gamma.md'))).toBe(true);
      });
      expect(repo.git('show', 'main:docs/specs/SPEC-1-gamma.md')).toContain('Written before the crash.');
      expect(model.requests.filter((request) => request.scenario === 'architect-killed-after-writing').map((request) => request.turnIndex)).toEqual([0, 1]);
      expect(model.requests.some((request) => request.scenario === 'demo-architect')).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a review written before the crash is used: no second reviewer session, one review on main',
    async () => {
      await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Delta' }]));
      const reviewsDir = join(repo.path, '.orchestrator/worktrees/1-delta/docs/reviews');
      model.addScenarios([
        {
          name: 'reviewer-killed-after-writing',
          match: { prompt: '^ROLE: code-reviewer[\\s\\S]*?Write your review to: (?<review>\\S+)' },
          maxSessions: 1,
          turns: [{ tools: [{ name: 'Write', input: { file_path: '{{cwd}}/{{review}}', content: 'Verdict: APPROVED\n\nWritten before the crash.\n' } }] }, { hang: true }],
        },
        developerFor('1', 'src/delta.js'),
        ...standardRoles,
      ]);
      const env = sessionEnv(model);
      const first = startCli(['start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env });
      await until(() => existsSync(reviewsDir) && readdirSync(reviewsDir).some((name) => name.startsWith('REVIEW-1-')), 'the review was written', first);
      first.kill('SIGKILL');
      await first.closed;
      const second = await runCli(['start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env, timeoutMs: RESTART_TIMEOUT_MS });
      expect(second.exitCode, `${second.stdout}\n${second.stderr}`).toBe(0);
      await inspect(sqliteDb(repo), async (store) => {
        expect(await store.getWorkItem(P1)).toMatchObject({ state: 'done', blockedReason: null });
        expect((await runsOf(store, P1, 'code-reviewer')).map((run) => run.status)).toEqual(['orphaned']);
      });
      const reviews = repo.git('ls-tree', '--name-only', 'main', 'docs/reviews/').trim().split('\n');
      expect(reviews).toHaveLength(1);
      expect(repo.git('show', `main:${reviews[0]!}`)).toContain('Written before the crash.');
      expect(model.requests.some((request) => request.scenario === 'demo-code-reviewer')).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a developer run that succeeded before the crash is judged after the restart, without a new session',
    async () => {
      const markers = await mkdtemp(join(tmpdir(), 'orch-markers-'));
      // The orchestrator's own test run (after the developer's session ended) is where it is killed: the first
      // run of the test command holds (its pid in `held`), every later one runs the tests.
      const holdingTests = join(markers, 'tests.sh');
      await writeFile(holdingTests, `#!/bin/sh\nif [ -e ${markers}/held ]; then exec node --test; fi\necho $$ > ${markers}/held\nexec sleep ${LONG_COMMAND_SECONDS}\n`);
      await chmod(holdingTests, 0o755);
      await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Zeta' }]), { config: { testCommand: holdingTests } });
      let heldTests: number | null = null;
      try {
        model.addScenarios([developerFor('1', 'src/zeta.js'), ...standardRoles]);
        const env = sessionEnv(model);
        const first = startCli(['start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env });
        await until(() => existsSync(join(markers, 'held')) && readFileSync(join(markers, 'held'), 'utf8').trim() !== '', 'the tests of the delivery started', first);
        heldTests = Number(readFileSync(join(markers, 'held'), 'utf8').trim());
        first.kill('SIGKILL');
        await first.closed;
        const second = await runCli(['start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env, timeoutMs: RESTART_TIMEOUT_MS });
        expect(second.exitCode, `${second.stdout}\n${second.stderr}`).toBe(0);
        // The test run that outlived the crash (its own process group) was ended by the restart.
        expect(isProcessAlive(heldTests)).toBe(false);
        await inspect(sqliteDb(repo), async (store) => {
          expect(await store.getWorkItem(P1)).toMatchObject({ state: 'done', blockedReason: null });
          expect((await runsOf(store, P1, 'code-developer')).map((run) => run.status)).toEqual(['succeeded']);
          const events = await store.listEvents({ workItemId: P1, limit: 10_000 });
          expect(events.filter((event) => event.kind === 'delivery.recovered').map((event) => event.message)).toEqual([expect.stringContaining('code-developer run')]);
        });
        expect(model.requests.filter((request) => request.scenario === 'developer-1').map((request) => request.turnIndex)).toEqual([0, 1, 2]);
        expect(mergeCommitsOf(repo, branchName('1', 'Zeta'))).toHaveLength(1);
      } finally {
        // Only if the assertion above failed: never leave the held test behind.
        if (heldTests !== null && isProcessAlive(heldTests)) process.kill(heldTests, 'SIGKILL');
        await rm(markers, { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );

  const MOMENTS: Record<MergeMoment, string> = {
    'merge-staged': "merge half done in the item's worktree",
    'main-advanced': 'main advanced, not yet recorded',
    'branch-deleted': 'merged branch deleted, not yet recorded',
  };
  for (const [moment, label] of Object.entries(MOMENTS) as [MergeMoment, string][]) {
    it(
      `a crash mid-merge (${label}) merges exactly once after the restart`,
      async () => {
        await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Epsilon' }]), { config: { integrationBranch: 'main' } });
        // The user works on another branch, so main moves by update-ref (the reference-transaction hook sees it).
        repo.git('switch', '-q', '-c', 'user-work');
        const markers = await mkdtemp(join(tmpdir(), 'orch-markers-'));
        try {
          await installHoldingHook(repo, moment, markers);
          model.addScenarios([developerFor('1', 'src/epsilon.js'), ...standardRoles]);
          const env = sessionEnv(model);
          // Its own process group: the kill takes git and the hook with it, as a machine crash would.
          const first = spawnDetached(['start', '--until-idle', '--no-dashboard'], repo.path, env);
          await until(() => existsSync(join(markers, 'held')), `the merge reached the moment: ${label}`, first);
          process.kill(-first.pid!, 'SIGKILL');
          await first.closed;
          const branch = branchName('1', 'Epsilon');
          // The merge is made and tested in the item's own worktree, on a detached HEAD, before main moves.
          const itemWorktree = join(repo.path, '.orchestrator/worktrees/1-epsilon');
          if (moment === 'merge-staged') {
            // Killed with the merge staged in the item's worktree and not committed: main has not moved.
            expect(repo.git('-C', itemWorktree, 'status', '--porcelain')).toContain('src/epsilon.js');
            expect(mergeCommitsOf(repo, branch)).toEqual([]);
          } else {
            // Killed after main moved to the merge commit (and, later, after the merged branch was deleted),
            // before the orchestrator recorded the merge.
            expect(mergeCommitsOf(repo, branch)).toHaveLength(1);
            expect(hasBranch(repo, branch)).toBe(moment !== 'branch-deleted');
            await inspect(sqliteDb(repo), async (store) => expect((await store.getWorkItem(P1))?.state).toBe('merging'));
          }
          const second = await runCli(['start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env, timeoutMs: RESTART_TIMEOUT_MS });
          expect(second.exitCode, `${second.stdout}\n${second.stderr}`).toBe(0);
          await inspect(sqliteDb(repo), async (store) => {
            expect(await store.getWorkItem(P1)).toMatchObject({ state: 'done', blockedReason: null });
          });
          expect(mergeCommitsOf(repo, branch)).toHaveLength(1);
          expect(repo.git('show', 'main:src/epsilon.js')).toBe('export const value = "src/epsilon.js";\n');
          expect(hasBranch(repo, branch)).toBe(false);
          expect(existsSync(itemWorktree)).toBe(false);
        } finally {
          await rm(markers, { recursive: true, force: true });
        }
      },
      TEST_TIMEOUT_MS,
    );
  }
});

/** A developer that writes `file` and commits it. */
function developerFor(number: string, file: string): ScenarioInput {
  return {
    name: `developer-${number}`,
    match: { prompt: `^ROLE: code-developer\\nPRIORITY ${number}:` },
    turns: [
      { tools: [{ name: 'Write', input: { file_path: `{{cwd}}/${file}`, content: `export const value = "${file}";\n` } }] },
      { tools: [{ name: 'Bash', input: { command: `git add ${file} && git commit -q -m "Add ${file}"`, description: 'commit' } }] },
      { text: `IMPLEMENTED: ${file}` },
    ],
  };
}

type MergeMoment = 'merge-staged' | 'main-advanced' | 'branch-deleted';

/**
 * A git hook that holds the merge step once at `moment` (marker `held`, then a long sleep) and lets everything
 * after pass: pre-merge-commit runs once the merge is staged in the item's worktree, before its commit;
 * reference-transaction ("committed") runs once main has moved to the merge commit, and once the merged item
 * branch has been deleted (the new sha is all zeros).
 */
async function installHoldingHook(repo: TmpRepo, moment: MergeMoment, markers: string): Promise<void> {
  const hold = `[ -e ${markers}/held ] && exit 0\ntouch ${markers}/held\nexec sleep ${LONG_COMMAND_SECONDS}\n`;
  const refLine = moment === 'main-advanced' ? ' refs/heads/main$' : ' 0\\{40\\} refs/heads/orchestrator/';
  const [hook, script] =
    moment === 'merge-staged'
      ? ['pre-merge-commit', `#!/bin/sh\n${hold}`]
      : ['reference-transaction', `#!/bin/sh\n[ "$1" = committed ] || exit 0\ngrep -q '${refLine}' || exit 0\n${hold}`];
  const path = join(repo.path, '.git', 'hooks', hook);
  await writeFile(path, script);
  await chmod(path, 0o755);
}

function spawnDetached(args: string[], cwd: string, env: Record<string, string>): StartedCli {
  return startCli(args, { cwd, env, detached: true });
}
