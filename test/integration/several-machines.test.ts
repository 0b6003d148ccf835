import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../src/events/index.js';
import { findProcessesOfRun } from '../../src/runtime/index.js';
import type { RunSummary } from '../../src/store/index.js';
import { waitCli } from '../helpers/cli.js';
import { useMachines } from '../helpers/machines.js';
import { useScriptedModel } from '../helpers/model.js';
import { developerWriting, standardRoles } from '../helpers/role-scenarios.js';

const model = useScriptedModel();
const WAIT_MS = 200_000;

describe('several machines: a coordinator and worker processes on one database and one remote', () => {
  const machines = useMachines(model, { waitMs: WAIT_MS });

  it('takes six priorities to done with three workers: every session on a worker, the roadmap update\'s too, every merge on the remote', async () => {
    const { coordinatorRepo, startCoordinator, startWorker, withStore } = machines();
    const { repo, git } = await coordinatorRepo(6, {
      concurrency: { maxRuns: 6, perRole: { 'code-developer': 6 } },
      // No worker is killed here: the default lease, so that a machine as busy as CI's never loses a live one.
      workers: { leaseSeconds: 30 },
    });
    await using _repo = repo;
    model.addScenarios([...Array.from({ length: 6 }, (_, i) => developerWriting({ number: String(i + 1), file: `src/feature-${i + 1}.js`, content: `export const feature${i + 1} = ${i + 1};\n` })), ...standardRoles]);
    const started = await startCoordinator(repo.path, ['--no-dashboard']);
    const workers = await Promise.all(['machine-a', 'machine-b', 'machine-c'].map((name) => startWorker(name, 2)));
    const coordinator = await waitCli(started, WAIT_MS);
    expect(coordinator.exitCode, `${coordinator.stdout}\n${coordinator.stderr}`).toBe(0);

    await withStore(async (store) => {
      const items = await store.listWorkItems();
      expect(items.map((item) => item.state)).toEqual(Array(6).fill('done'));
      const runs = await store.listRuns({ limit: 1000 });
      const workerPids = new Set(workers.map((worker) => worker.pid));
      const onWorkers = runs.filter((run) => run.agent !== 'project-manager');
      // Architect, developer and reviewer of each item, each recorded by the worker process that ran it, on this host.
      expect(onWorkers, JSON.stringify(onWorkers.map((run) => [run.workItemId, run.agent, run.status, run.ownerPid, run.errorKind, run.errorMessage]))).toHaveLength(18);
      expect(onWorkers.every((run) => run.status === 'succeeded' && workerPids.has(run.ownerPid) && run.host === hostname())).toBe(true);
      expect(new Set(onWorkers.map((run) => run.ownerPid)).size).toBeGreaterThan(1);
      // The roadmap updates too: the project manager's session is a job like the others.
      const managers = runs.filter((run) => run.agent === 'project-manager');
      expect(managers.length).toBeGreaterThanOrEqual(1);
      expect(managers.every((run) => run.status === 'succeeded' && workerPids.has(run.ownerPid) && run.host === hostname())).toBe(true);
      // Each worker is registered with its host and slots.
      expect((await store.listWorkers()).map((worker) => [worker.host, worker.slots])).toEqual(Array(3).fill([hostname(), 2]));
    });
    // The remote's integration branch holds every merge and the roadmap marks; no item branch is left there, and
    // the coordinator's clone is at the same commit.
    for (let i = 1; i <= 6; i++) expect(git('show', `main:src/feature-${i}.js`)).toBe(`export const feature${i} = ${i};\n`);
    expect(git('show', 'main:docs/roadmap/ROADMAP.md').match(/✅/g)?.length).toBe(6);
    expect(git('log', '--merges', '--format=%s', 'main').trim().split('\n').filter((subject) => subject.startsWith('Merge orchestrator/'))).toHaveLength(6);
    expect(git('for-each-ref', '--format=%(refname)', 'refs/heads/orchestrator/').trim()).toBe('');
    expect(repo.git('rev-parse', 'main').trim()).toBe(git('rev-parse', 'main').trim());

    for (const worker of workers) worker.kill('SIGTERM');
    for (const worker of workers) expect((await waitCli(worker, WAIT_MS)).exitCode).toBe(0);
    await withStore(async (store) => expect((await store.listWorkers({ states: ['stopped'] })).length).toBe(3));
  }, 300_000);

  it('a worker killed with SIGKILL mid-session: its run is orphaned naming its host, the job finishes on the other worker, nothing is left running', async () => {
    const { coordinatorRepo, startCoordinator, startWorker, withStore, until } = machines();
    const { repo, git } = await coordinatorRepo(1);
    await using _repo = repo;
    model.addScenarios([
      // The first developer session thinks for a long time: its worker is killed meanwhile.
      { name: 'slow-developer', match: { prompt: '^ROLE: code-developer\\nPRIORITY 1:' }, maxSessions: 1, turns: [{ delayMs: 60_000, text: 'still thinking' }] },
      developerWriting({ number: '1', file: 'src/feature-1.js', content: 'export const feature1 = 1;\n' }),
      ...standardRoles,
    ]);
    const coordinator = await startCoordinator(repo.path, ['--no-dashboard']);
    const a = await startWorker('machine-a', 1);
    // Worker A takes every session until the developer's; then worker B joins, and A is killed mid-session.
    const slow = await until('the developer session on worker A', () =>
      withStore(async (store) => (await store.listRuns({ agent: 'code-developer' })).find((run: RunSummary) => run.status === 'running' && run.ownerPid === a.pid)),
    );
    await until('the slow model request', async () => model.requests.some((request) => request.scenario === 'slow-developer'));
    const b = await startWorker('machine-b', 1);
    a.kill('SIGKILL');
    const finished = await waitCli(coordinator, WAIT_MS);
    expect(finished.exitCode, `${finished.stdout}\n${finished.stderr}`).toBe(0);
    expect(finished.stdout).toMatch(/worker \S+ on \S+ lost: 1 job\(s\) back in the queue, 1 run\(s\) orphaned/);

    await withStore(async (store) => {
      expect((await store.getWorkItem('P-1' as WorkItemId))?.state).toBe('done');
      const developers = (await store.listRuns({ agent: 'code-developer' })).reverse();
      expect(developers.map((run) => [run.status, run.ownerPid])).toEqual([
        ['orphaned', a.pid],
        ['succeeded', b.pid],
      ]);
      const orphaned = await store.getRun(slow.id);
      expect(orphaned?.errorMessage).toContain(`on ${hostname()} was lost`);
      // The developer counted one attempt: a lost worker is not a task failure.
      expect((await store.getWorkItem('P-1' as WorkItemId))?.attempts['code-developer']).toBe(1);
      expect((await store.listEvents({})).some((event) => event.kind === 'worker.lost')).toBe(true);
    });
    // The killed worker's session process was ended (same machine), and the work is on the remote once.
    expect(findProcessesOfRun(slow.id)).toEqual([]);
    expect(git('show', 'main:src/feature-1.js')).toBe('export const feature1 = 1;\n');
    expect(git('log', '--merges', '--format=%s', 'main').trim().split('\n').filter((subject) => subject.startsWith('Merge orchestrator/'))).toHaveLength(1);
    b.kill('SIGTERM');
    expect((await waitCli(b, WAIT_MS)).exitCode).toBe(0);
  }, 300_000);
  it("the dashboard's stop reaches a session on a worker process: the run is stopped with its cost, and the item goes on", async () => {
    const { coordinatorRepo, startCoordinator, startWorker, withStore, until } = machines();
    const { repo } = await coordinatorRepo(1);
    await using _repo = repo;
    model.addScenarios([
      // The first developer session writes a file (a turn with a cost), then thinks for a long time: it is stopped then.
      {
        name: 'stopped-developer',
        match: { prompt: '^ROLE: code-developer\\nPRIORITY 1:' },
        maxSessions: 1,
        turns: [
          { tools: [{ name: 'Write', input: { file_path: '{{cwd}}/src/draft.js', content: 'export const draft = true;\n' } }], usage: { input_tokens: 4_000, output_tokens: 200 } },
          { delayMs: 60_000, text: 'still thinking' },
        ],
      },
      developerWriting({ number: '1', file: 'src/feature-1.js', content: 'export const feature1 = 1;\n' }),
      ...standardRoles,
    ]);
    const coordinator = await startCoordinator(repo.path, ['--port', '0']);
    const worker = await startWorker('machine-a', 1);
    const url = await until('the coordinator\'s dashboard', async () => /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(coordinator.output.stdout)?.[1]);
    const developer = await until('the developer session on the worker', () =>
      withStore(async (store) => (await store.listRuns({ agent: 'code-developer' })).find((run: RunSummary) => run.status === 'running' && run.ownerPid === worker.pid)),
    );
    await until('the long model request', async () => model.requests.some((request) => request.scenario === 'stopped-developer' && request.turnIndex === 1));
    const response = await fetch(`${url}/api/runs/${developer.id}/stop`, { method: 'POST', headers: { 'x-orchestrator-request': '1' } });
    expect(response.status).toBe(202);
    const stopped = await until('the stopped run', () => withStore(async (store) => (await store.listRuns({ agent: 'code-developer' })).find((run) => run.id === developer.id && run.status === 'stopped')));
    expect(stopped).toMatchObject({ status: 'stopped', errorKind: 'stop_requested', ownerPid: worker.pid });
    // The worker interrupted the session through its control channel: the CLI's own result, with the first turn's cost.
    expect(stopped.costUsd).toBeGreaterThan(0);
    expect(stopped.costEstimated).toBe(false);
    const finished = await waitCli(coordinator, WAIT_MS);
    expect(finished.exitCode, `${finished.stdout}\n${finished.stderr}`).toBe(0);
    await withStore(async (store) => expect((await store.getWorkItem('P-1' as WorkItemId))?.state).toBe('done'));
    worker.kill('SIGTERM');
    expect((await waitCli(worker, WAIT_MS)).exitCode).toBe(0);
  }, 300_000);
});
