import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../src/events/index.js';
import { waitCli } from '../helpers/cli.js';
import { useMachines } from '../helpers/machines.js';
import { useScriptedModel } from '../helpers/model.js';
import { developerWriting, standardRoles } from '../helpers/role-scenarios.js';

const model = useScriptedModel();
const WAIT_MS = 200_000;

/** Where the coordinator is killed: a push it made has reached the remote, and it has not recorded it. */
const MOMENTS = {
  'the merge pushed to the remote': ' refs/heads/main$',
  "the merged branch deleted on the remote": ' 0\\{40\\} refs/heads/orchestrator/',
} as const;

/**
 * kill -9 of the coordinator (its whole process group, as a machine crash) at the worst moments of a distributed
 * merge, then a restart: the worker goes on, everything resumes, nothing is merged twice.
 */
describe('several machines: the coordinator killed mid-merge', () => {
  const machines = useMachines(model, { waitMs: WAIT_MS, prefix: 'coordcrash' });

  for (const [moment, refLine] of Object.entries(MOMENTS)) {
    it(`killed after ${moment}: the restart resumes and merges each item exactly once`, async () => {
      const { coordinatorRepo, startCoordinator, startWorker, withStore, until } = machines();
      const { repo, remote, git } = await coordinatorRepo(2, { concurrency: { maxRuns: 2 } });
      await using _repo = repo;
      model.addScenarios([
        developerWriting({ number: '1', file: 'src/feature-1.js', content: 'export const feature1 = 1;\n' }),
        developerWriting({ number: '2', file: 'src/feature-2.js', content: 'export const feature2 = 2;\n' }),
        ...standardRoles,
      ]);
      // The remote's post-receive hook holds the first matching push: the ref has moved on the remote, and the
      // coordinator's `git push` (a child in its process group) waits for the hook, so the coordinator has not seen it.
      const markers = await mkdtemp(join(tmpdir(), 'orch-hold-'));
      try {
        const hook = join(remote, 'hooks', 'post-receive');
        await writeFile(hook, `#!/bin/sh\n[ -e ${markers}/held ] && exit 0\ngrep -q '${refLine}' || exit 0\ntouch ${markers}/held\nexec sleep 600\n`);
        await chmod(hook, 0o755);
        const first = await startCoordinator(repo.path, ['--no-dashboard'], { detached: true });
        const worker = await startWorker('machine-a', 2);
        await until(`the push to be held (${moment})`, async () => existsSync(join(markers, 'held')) || first.exitCode !== null);
        expect(first.exitCode, `${first.output.stdout}\n${first.output.stderr}`).toBeNull();
        process.kill(-first.pid!, 'SIGKILL');
        await first.closed;
        // The remote has the move the coordinator never recorded (and, while one push was held, the other item's merge
        // may have landed too: only the push the hook holds waits).
        const merges = () => git('log', '--merges', '--format=%s', 'main').trim().split('\n').filter((subject) => subject.startsWith('Merge orchestrator/'));
        expect(merges().length).toBeGreaterThanOrEqual(1);

        const second = await startCoordinator(repo.path, ['--no-dashboard']);
        const finished = await waitCli(second, WAIT_MS);
        expect(finished.exitCode, `${finished.stdout}\n${finished.stderr}`).toBe(0);
        await withStore(async (store) => {
          expect((await store.listWorkItems()).map((item) => [item.id, item.state])).toEqual([
            ['P-1', 'done'],
            ['P-2', 'done'],
          ]);
          // Each developer session ran once: the worker's work was not redone after the coordinator's restart.
          const developers = await store.listRuns({ agent: 'code-developer' });
          for (const id of ['P-1', 'P-2']) expect(developers.filter((run) => run.workItemId === (id as WorkItemId) && run.status === 'succeeded')).toHaveLength(1);
        });
        expect(merges().sort()).toEqual(['Merge orchestrator/1-feature-1: PRIORITY 1 Feature 1', 'Merge orchestrator/2-feature-2: PRIORITY 2 Feature 2']);
        expect(git('show', 'main:src/feature-1.js')).toBe('export const feature1 = 1;\n');
        expect(git('show', 'main:src/feature-2.js')).toBe('export const feature2 = 2;\n');
        expect(git('show', 'main:docs/roadmap/ROADMAP.md').match(/✅/g)?.length).toBe(2);
        // Any item branch left on the remote is merged (nothing of it is lost). Known gap: an item recorded done before
        // the kill whose merged branch was not yet deleted keeps it (the restart does not resume that clean-up).
        const leftOver = git('for-each-ref', '--format=%(refname)', 'refs/heads/orchestrator/').trim().split('\n').filter(Boolean);
        for (const ref of leftOver) expect(git('merge-base', '--is-ancestor', ref, 'main') === '', `${ref} is not merged`).toBe(true);
        expect(repo.git('rev-parse', 'main').trim()).toBe(git('rev-parse', 'main').trim());
        worker.kill('SIGTERM');
        expect((await waitCli(worker, WAIT_MS)).exitCode).toBe(0);
      } finally {
        await rm(markers, { recursive: true, force: true });
      }
    }, 400_000);
  }
});
