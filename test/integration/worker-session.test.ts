import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { architectPrompt, developerPrompt } from '../../src/agents/index.js';
import { EventBus, type RunId } from '../../src/events/index.js';
import { newSortableId } from '../../src/lib/ids.js';
import { InProcessSessionExecutor, runRemoteSession, type SessionJob } from '../../src/orchestrator/index.js';
import { Role } from '../../src/orchestrator/role-policies.js';
import { MessageWriter, SqliteStore } from '../../src/store/index.js';
import { priceTable } from '../../src/usage/index.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo, roadmapOf } from '../helpers/pipeline.js';
import { architectScenario, developerWriting } from '../helpers/role-scenarios.js';
import { roleSessionJob } from '../helpers/session-jobs.js';

const model = useScriptedModel();

const BRANCH = 'orchestrator/1-remote';
const SPEC = 'docs/specs/SPEC-1-remote.md';
const ITEM = { number: '1', title: 'Remote', body: 'Build Remote.' };

function job(role: Role, prompt: string, paths: SessionJob['paths']): SessionJob {
  return roleSessionJob(role, { prompt, branch: BRANCH, paths });
}

describe('a queued session on a worker (runRemoteSession)', () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'orch-worker-session-'));
  });
  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('runs in its own clone of the shared remote, commits the deliverable, pushes; the next job, on another worker, continues from the push', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Remote' }]));
    const remote = join(scratch, 'shared.git');
    execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
    model.addScenarios([architectScenario, developerWriting({ number: '1', file: 'src/remote.js', content: 'export const remote = true;\n' })]);
    const store = SqliteStore.open(join(scratch, 'shared.db'));
    const writer = new MessageWriter(store);
    const executor = new InProcessSessionExecutor({ store, bus: new EventBus(), messages: writer, cliPath: cliPath(), env: sessionEnv(model), prices: priceTable() });
    const signal = new AbortController().signal;
    try {
      // The architect's session on worker A: the branch is new, so it starts from the integration branch.
      const architectRun = newSortableId() as RunId;
      const architect = await runRemoteSession(
        { runId: architectRun, session: job(Role.architect, architectPrompt(ITEM, SPEC), { specPath: SPEC }), remote, integrationBranch: 'main' },
        { executor, cacheDir: join(scratch, 'worker-a'), signal },
      );
      expect(architect.run).toMatchObject({ id: architectRun, status: 'succeeded', host: hostname(), branch: BRANCH });
      expect(architect.startedFrom).toBe('integration_branch');
      expect(architect.worktree.startsWith(join(scratch, 'worker-a'))).toBe(true);
      expect(architect.pushed.kind).toBe('pushed');
      // The spec is on the remote's branch, committed by the worker (the architect only writes it).
      const git = (...args: string[]) => execFileSync('git', args, { cwd: remote, encoding: 'utf8' });
      expect(git('show', `${BRANCH}:${SPEC}`)).toContain('# SPEC 1');
      expect(git('log', '--format=%s', `main..${BRANCH}`).trim()).toBe(`architect of P-1: ${SPEC}`);

      // The developer's session on worker B continues from what A pushed, and its own commit reaches the remote.
      const developerRun = newSortableId() as RunId;
      const prompt = developerPrompt(ITEM, { specPath: SPEC, branch: BRANCH, integrationBranch: 'main', testCommand: 'node --test' });
      const developer = await runRemoteSession({ runId: developerRun, session: job(Role.codeDeveloper, prompt, {}), remote, integrationBranch: 'main' }, { executor, cacheDir: join(scratch, 'worker-b'), signal });
      expect(developer.run).toMatchObject({ id: developerRun, status: 'succeeded' });
      expect(developer.startedFrom).toBe('pushed_branch');
      expect(git('log', '--format=%s', `main..${BRANCH}`).trim().split('\n')).toEqual(['Implement PRIORITY 1', `architect of P-1: ${SPEC}`]);
      expect(git('show', `${BRANCH}:src/remote.js`)).toBe('export const remote = true;\n');
      // Both sessions are recorded in the shared store under the ids the coordinator chose.
      expect((await store.listRuns()).map((run) => run.id).sort()).toEqual([architectRun, developerRun].sort());
    } finally {
      await writer.close();
      await store.close();
    }
  });
});
