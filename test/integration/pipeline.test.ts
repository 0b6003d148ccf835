import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRoadmap } from '../../src/roadmap/index.js';
import type { WorkItemId } from '../../src/events/index.js';
import type { SqliteStore } from '../../src/store/index.js';
import { useScriptedModel } from '../helpers/model.js';
import { itemStates, pipelineRepo, roadmapOf, runPipeline } from '../helpers/pipeline.js';
import { architectScenario, developerWriting, projectManagerScenario, reviewerScenario, standardRoles } from '../helpers/role-scenarios.js';
import type { TmpRepo } from '../helpers/tmp-repo.js';

const model = useScriptedModel();
const P1 = 'P-1' as WorkItemId;

function roadmapStatusOnMain(repo: TmpRepo, number: string): string | undefined {
  return parseRoadmap(repo.git('show', 'main:docs/roadmap/ROADMAP.md')).items.find((item) => item.number === number)?.status;
}

async function transitions(store: SqliteStore, id: WorkItemId): Promise<string[]> {
  return (await store.listEvents({ workItemId: id })).filter((event) => event.kind === 'work_item.transitioned').map((event) => event.data.to as string);
}

describe('the pipeline with real Claude Code sessions', () => {
  it('takes a priority from planned to done: spec, implementation, review, merge, roadmap marked', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Slugify helper' }]));
    model.addScenarios([developerWriting({ number: '1', file: 'src/slugify.js', content: 'export const slugify = (s) => s.toLowerCase();\n' }), ...standardRoles]);
    const run = await runPipeline(repo, model);
    try {
      const item = await run.store.getWorkItem(P1);
      expect(item).toMatchObject({ state: 'done', specPath: 'docs/specs/SPEC-1-slugify-helper.md', blockedReason: null });
      expect(await transitions(run.store, P1)).toEqual(['specifying', 'spec_ready', 'implementing', 'reviewing', 'merging', 'marking_done', 'done']);
      const runs = await run.store.listRuns({ workItemId: P1 });
      expect(runs.map((r) => [r.agent, r.status]).reverse()).toEqual([
        ['architect', 'succeeded'],
        ['code-developer', 'succeeded'],
        ['code-reviewer', 'succeeded'],
        ['project-manager', 'succeeded'],
      ]);
      // Everything landed on main: spec, code, review, and the roadmap status; the branch and worktree are gone.
      expect(repo.git('show', 'main:src/slugify.js')).toBe('export const slugify = (s) => s.toLowerCase();\n');
      expect(repo.git('show', 'main:docs/specs/SPEC-1-slugify-helper.md')).toContain('# SPEC 1: Slugify helper');
      expect(repo.git('ls-tree', '--name-only', 'main', 'docs/reviews/')).toMatch(/REVIEW-1-[0-9a-f]{7}\.md/);
      expect(roadmapStatusOnMain(repo, '1')).toBe('complete');
      expect(repo.git('branch', '--list', 'orchestrator/*').trim()).toBe('');
      expect(existsSync(join(repo.path, '.orchestrator/worktrees/1-slugify-helper'))).toBe(false);
      // The user's checkout of main was fast-forwarded, not left behind.
      expect(await readFile(join(repo.path, 'src/slugify.js'), 'utf8')).toContain('slugify');
      expect(repo.git('status', '--porcelain').trim()).toBe('');
    } finally {
      await run.close();
    }
  });

  it('sends the work back when the reviewer requests changes, and merges after the second review', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Word count' }]));
    model.addScenarios([
      {
        name: 'strict-reviewer',
        match: { prompt: '^ROLE: code-reviewer[\\s\\S]*?Write your review to: (?<review>\\S+)' },
        maxSessions: 1,
        turns: [{ tools: [{ name: 'Write', input: { file_path: '{{cwd}}/{{review}}', content: 'Verdict: CHANGES REQUESTED\n\n1. Handle empty input.\n' } }] }, { text: 'REVIEW WRITTEN: CHANGES REQUESTED' }],
      },
      developerWriting({ number: '1', name: 'developer-round-2', readFirst: true, match: '^ROLE: code-developer[\\s\\S]*requested changes in', file: 'src/word-count.js', content: 'export const wordCount = (s) => s.split(/\\s+/).filter(Boolean).length;\n' }),
      developerWriting({ number: '1', file: 'src/word-count.js', content: 'export const wordCount = (s) => s.split(" ").length;\n' }),
      ...standardRoles,
    ]);
    const run = await runPipeline(repo, model);
    try {
      expect((await run.store.getWorkItem(P1))?.blockedReason ?? null).toBeNull();
      expect((await run.store.getWorkItem(P1))?.state).toBe('done');
      expect(await transitions(run.store, P1)).toEqual(['specifying', 'spec_ready', 'implementing', 'reviewing', 'changes_requested', 'implementing', 'reviewing', 'merging', 'marking_done', 'done']);
      expect(repo.git('show', 'main:src/word-count.js')).toContain('filter(Boolean)');
      const reviews = repo.git('ls-tree', '--name-only', 'main', 'docs/reviews/').trim().split('\n');
      expect(reviews).toHaveLength(2);
      // The second developer session was told where the review is.
      const developerPrompts = model.requests.filter((request) => request.scenario === 'developer-round-2' && request.turnIndex === 0);
      expect(JSON.stringify(developerPrompts[0]?.body)).toContain('requested changes in docs/reviews/REVIEW-1-');
    } finally {
      await run.close();
    }
  });

  it('runs two priorities in parallel in separate worktrees', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Alpha' }, { number: '2', title: 'Beta' }]));
    // Each developer first waits (up to 60 s) until the other has started too: a rendezvous that proves both
    // sessions were alive at once however slow the machine is, instead of a delay that hopes they overlap.
    const rendezvous = await mkdtemp(join(tmpdir(), 'rendezvous-'));
    const meeting = (number: string, file: string, other: string) => {
      const scenario = developerWriting({ number, file, content: `export const v${number} = ${number};\n` });
      const command = `touch ${rendezvous}/${number}.started; for i in $(seq 600); do if [ -f ${rendezvous}/${other}.started ]; then touch ${rendezvous}/${number}.met; exit 0; fi; sleep 0.1; done; exit 1`;
      return { ...scenario, turns: [{ tools: [{ name: 'Bash', input: { command, description: 'wait for the other developer' } }] }, ...scenario.turns] };
    };
    model.addScenarios([meeting('1', 'src/alpha.js', '2'), meeting('2', 'src/beta.js', '1'), ...standardRoles]);
    const run = await runPipeline(repo, model);
    try {
      expect(existsSync(join(rendezvous, '1.met')) && existsSync(join(rendezvous, '2.met')), 'both developers met while running').toBe(true);
      expect(await itemStates(run.store)).toEqual(['done', 'done']);
      const developers = await run.store.listRuns({ agent: 'code-developer' });
      expect(developers).toHaveLength(2);
      const [a, b] = developers as [(typeof developers)[0], (typeof developers)[0]];
      expect(a.cwd).not.toBe(b.cwd);
      expect(new Set(developers.map((r) => r.branch))).toEqual(new Set(['orchestrator/1-alpha', 'orchestrator/2-beta']));
      // Overlapping lifetimes: each started before the other ended.
      expect(a.startedAt! < b.endedAt! && b.startedAt! < a.endedAt!).toBe(true);
      expect(repo.git('show', 'main:src/alpha.js')).toContain('v1');
      expect(repo.git('show', 'main:src/beta.js')).toContain('v2');
    } finally {
      await run.close();
    }
  });

  it('handles a merge conflict between two priorities without losing either change', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Red' }, { number: '2', title: 'Blue' }]));
    model.addScenarios([
      {
        name: 'conflict-resolver',
        match: { prompt: '^ROLE: code-developer[\\s\\S]*conflicted in: src/shared\\.js' },
        turns: [
          { tools: [{ name: 'Bash', input: { command: 'git merge main > /dev/null 2>&1; git diff --name-only --diff-filter=U', description: 'merge main' } }] },
          { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/src/shared.js' } }] },
          { tools: [{ name: 'Write', input: { file_path: '{{cwd}}/src/shared.js', content: "export const colors = ['red', 'blue'];\n" } }] },
          { tools: [{ name: 'Bash', input: { command: 'git add src/shared.js && git commit -q --no-edit', description: 'commit the merge' } }] },
          { text: 'IMPLEMENTED: conflict resolved' },
        ],
      },
      developerWriting({ number: '1', file: 'src/shared.js', content: "export const colors = ['red'];\n" }),
      developerWriting({ number: '2', file: 'src/shared.js', content: "export const colors = ['blue'];\n" }),
      ...standardRoles,
    ]);
    const run = await runPipeline(repo, model);
    try {
      expect(await itemStates(run.store)).toEqual(['done', 'done']);
      const conflicts = (await run.store.listEvents()).filter((event) => event.kind === 'merge.conflicted');
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0]!.data.files).toEqual(['src/shared.js']);
      expect(repo.git('show', 'main:src/shared.js')).toBe("export const colors = ['red', 'blue'];\n");
      const loser = conflicts[0]!.workItemId!;
      expect(await transitions(run.store, loser)).toEqual(['specifying', 'spec_ready', 'implementing', 'reviewing', 'merging', 'implementing', 'reviewing', 'merging', 'marking_done', 'done']);
      expect(roadmapStatusOnMain(repo, '1')).toBe('complete');
      expect(roadmapStatusOnMain(repo, '2')).toBe('complete');
    } finally {
      await run.close();
    }
  });

  it('does not accept an agent that claims success but delivers nothing', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Nothing' }]), { config: { retries: { maxAttempts: 2, baseDelayMs: 100 } } });
    model.addScenarios([{ name: 'liar', match: { prompt: '^ROLE: code-developer' }, turns: [{ text: 'All done! Tests pass. IMPLEMENTED: everything' }] }, ...standardRoles]);
    const run = await runPipeline(repo, model);
    try {
      const item = await run.store.getWorkItem(P1);
      expect(item?.state).toBe('blocked');
      // The architect's spec commit on the branch is not the developer's work.
      expect(item?.blockedReason).toMatch(/^code-developer failed 2 time\(s\); last: the code-developer reported success but orchestrator\/1-nothing holds no commit of this work since the spec commit \([0-9a-f]{7}\)$/);
      expect((await run.store.listRuns({ agent: 'code-developer' })).map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
      expect(roadmapStatusOnMain(repo, '1')).toBe('planned');
      // The spec the architect wrote is kept on the item's branch.
      expect(repo.git('rev-parse', '--verify', '--quiet', 'refs/heads/orchestrator/1-nothing').trim()).toMatch(/^[0-9a-f]{40}$/);
    } finally {
      await run.close();
    }
  });

  it('retries an API failure with backoff, without spending an attempt, and recovers', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Flaky' }]));
    model.addScenarios([
      { name: 'overloaded-architect', match: { prompt: '^ROLE: architect' }, maxSessions: 1, turns: [0, 1].map(() => ({ error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } })) },
      developerWriting({ number: '1', file: 'src/flaky.js', content: 'export const ok = true;\n' }),
      ...standardRoles,
    ]);
    const run = await runPipeline(repo, model);
    try {
      expect(await itemStates(run.store)).toEqual(['done']);
      const architects = (await run.store.listRuns({ agent: 'architect' })).reverse();
      expect(architects.map((r) => [r.status, r.errorKind])).toEqual([
        ['failed', 'api_error'],
        ['succeeded', null],
      ]);
      const retries = (await run.store.listEvents({ workItemId: P1 })).filter((event) => event.kind === 'retry.scheduled');
      expect(retries).toHaveLength(1);
      expect(retries[0]!.message).toContain('HTTP 529');
      expect((await run.store.getWorkItem(P1))?.attempts.architect).toBe(1);
    } finally {
      await run.close();
    }
  });

  it('denies a tool call outside the role and the worktree, records it, and leaves the file untouched', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Guarded' }]));
    const outside = join(repo.path, '..', `outside-${Date.now()}.txt`);
    model.addScenarios([
      {
        name: 'sneaky-architect',
        match: { prompt: '^ROLE: architect\\nPRIORITY (?<n>[0-9.]+): (?<title>[^\\n]+)[\\s\\S]*?to: (?<spec>\\S+)' },
        turns: [
          { tools: [{ name: 'Write', input: { file_path: outside, content: 'escaped' } }] },
          { tools: [{ name: 'Write', input: { file_path: '{{cwd}}/src/not-my-job.js', content: 'code' } }] },
          { tools: [{ name: 'Write', input: { file_path: '{{cwd}}/{{spec}}', content: '# SPEC {{n}}\n' } }] },
          { text: 'SPEC WRITTEN' },
        ],
      },
      developerWriting({ number: '1', file: 'src/guarded.js', content: 'export const g = 1;\n' }),
      reviewerScenario,
      projectManagerScenario,
    ]);
    const run = await runPipeline(repo, model);
    try {
      expect((await run.store.getWorkItem(P1))?.state).toBe('done');
      expect(existsSync(outside)).toBe(false);
      expect(() => repo.git('show', 'main:src/not-my-job.js')).toThrow();
      const denials = (await run.store.listEvents()).filter((event) => event.kind === 'permission.denied');
      expect(denials.map((event) => event.message)).toEqual([
        expect.stringContaining(`Write: Permission denied by the orchestrator: ${outside} is outside the run's worktree`),
        expect.stringContaining('Write: Permission denied by the orchestrator: this role may write only docs/specs/SPEC-1-guarded.md, not src/not-my-job.js'),
      ]);
      const [architect] = await run.store.listRuns({ agent: 'architect' });
      const [invocation] = await run.store.listInvocations(architect!.id);
      expect(invocation!.permissionDenials.filter((denial) => denial.source === 'orchestrator').map((denial) => denial.tool_input)).toEqual([
        { file_path: outside, content: 'escaped' },
        { file_path: join(architect!.cwd, 'src/not-my-job.js'), content: 'code' },
      ]);
    } finally {
      await run.close();
    }
  });
  it("gives a waiting item's slot to another: while one merge holds the integration lock and the next waits for it, a third item's session runs", async () => {
    const gate = await mkdtemp(join(tmpdir(), 'orch-gate-'));
    const barrier = join(gate, 'release-merge-tests');
    // Merge tests (they carry the marker merge-<item>) wait for the barrier; with maxRetests 0 every merge holds the
    // lock while it tests, so P-1 holds it until the barrier is there and P-2 waits for it.
    const testCommand = `case "$ORCHESTRATOR_RUN_ID" in merge-*) while [ ! -f ${barrier} ]; do sleep 0.1; done;; esac; node --test`;
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'One' }, { number: '2', title: 'Two' }, { number: '3', title: 'Three' }]), {
      config: { testCommand, concurrency: { maxRuns: 2 }, merge: { maxRetests: 0 } },
    });
    model.addScenarios([
      developerWriting({ number: '1', file: 'src/one.js', content: 'export const one = 1;\n' }),
      developerWriting({ number: '2', file: 'src/two.js', content: 'export const two = 2;\n' }),
      developerWriting({ number: '3', file: 'src/three.js', content: 'export const three = 3;\n' }),
      ...standardRoles,
    ]);
    const pipeline = runPipeline(repo, model);
    // Watch from outside, as `status` does: a second connection to the same database.
    const { SqliteStore: Store } = await import('../../src/store/index.js');
    const dbPath = join(repo.path, '.orchestrator', 'orchestrator.db');
    while (!existsSync(dbPath)) await new Promise((resolve) => setTimeout(resolve, 100));
    const watcher = Store.open(dbPath);
    let seen: { waiting: string; running: string[] } | null = null;
    let stuckSince: number | null = null;
    try {
      for (;;) {
        const items = await watcher.listWorkItems();
        const running = (await watcher.listRuns({ statuses: ['running'] })).filter((r) => r.workItemId !== null);
        const waitingForLock = items.find((item) => item.waitingFor === 'lock');
        const merging = items.filter((item) => item.state === 'merging');
        if (waitingForLock && running.some((r) => r.workItemId !== waitingForLock.id && !merging.some((item) => item.id === r.workItemId))) {
          seen = { waiting: `${waitingForLock.id}: ${waitingForLock.waitingDetail ?? ''}`, running: running.map((r) => `${r.workItemId ?? ''} ${r.agent}`) };
          break;
        }
        // Nothing can move any more without the barrier (the old behaviour: merging items held both slots): give up
        // once that has lasted a while (a wait for a slot is written before the scheduler's next pass clears it).
        const stuck = merging.length >= 2 && running.length === 0 && items.every((item) => item.state === 'merging' || item.state === 'done' || item.waitingFor === 'slot');
        stuckSince = stuck ? (stuckSince ?? Date.now()) : null;
        if (stuckSince !== null && Date.now() - stuckSince > 15_000) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await import('node:fs/promises').then((fs) => fs.writeFile(barrier, ''));
      await watcher.close();
    }
    const run = await pipeline;
    try {
      expect(seen, 'no session ran while an item waited for the integration lock').not.toBeNull();
      // Whichever item reached the merge first holds the lock; another waits for it (which one depends on how fast
      // the sessions ran: on a loaded machine P-3 can overtake P-2), and a third item's session uses the slot meanwhile.
      const waitingItem = /^(P-[123]): (P-[123] ahead in the merge queue; then it holds main while it is tested|main is being updated; waiters go in roadmap order)$/.exec(seen?.waiting ?? '')?.[1];
      expect(waitingItem, `the waiting item's reason: ${seen?.waiting ?? 'none'}`).toBeDefined();
      expect(seen?.running.some((entry) => !entry.startsWith(`${waitingItem} `))).toBe(true);
      expect(await itemStates(run.store)).toEqual(['done', 'done', 'done']);
      expect(repo.git('log', '--first-parent', '--merges', '--format=%s', 'main').trim().split('\n').sort()).toEqual([
        'Merge orchestrator/1-one: PRIORITY 1 One',
        'Merge orchestrator/2-two: PRIORITY 2 Two',
        'Merge orchestrator/3-three: PRIORITY 3 Three',
      ]);
      // No more sessions than slots at any moment.
      const runs = await run.store.listRuns({ limit: 100 });
      const edges = runs.flatMap((r) => [{ at: r.startedAt ?? '', delta: 1 }, { at: r.endedAt ?? '', delta: -1 }]).sort((a, b) => a.at.localeCompare(b.at) || a.delta - b.delta);
      let open = 0;
      let peak = 0;
      for (const edge of edges) peak = Math.max(peak, (open += edge.delta));
      expect(peak).toBeLessThanOrEqual(2);
      // Nothing waits once the run is over.
      expect((await run.store.listWorkItems()).map((item) => item.waitingFor)).toEqual([null, null, null]);
    } finally {
      await run.close();
    }
  }, 300_000);

  it('stops spawning when the daily budget is spent: the session that overspent is stopped, the item waits, nothing is lost', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Costly' }, { number: '2', title: 'Waiting' }]), {
      config: { budgets: { perRunUsd: 5, perDayUsd: 0.05 }, concurrency: { maxRuns: 1 } },
    });
    const expensive = { input_tokens: 400_000, output_tokens: 2_000 };
    model.addScenarios([
      {
        name: 'costly-architect',
        match: { prompt: '^ROLE: architect\\nPRIORITY 1:' },
        turns: [
          { tools: [{ name: 'Bash', input: { command: 'echo thinking', description: 'think' } }], usage: expensive },
          { tools: [{ name: 'Bash', input: { command: 'echo thinking more', description: 'think' } }], usage: expensive },
          { text: 'never reached' },
        ],
      },
      ...standardRoles,
    ]);
    const run = await runPipeline(repo, model);
    try {
      expect(run.report.stoppedBy).toBe('budget');
      const runs = await run.store.listRuns({ limit: 10 });
      // One session only (one at a time here): the architect of PRIORITY 1, stopped by the budget (the CLI was
      // given the day's remaining $0.05); PRIORITY 2 was never spawned once the day's budget was spent.
      expect(runs.map((r) => [r.agent, r.status, r.errorKind])).toEqual([['architect', 'stopped', 'budget']]);
      expect(runs[0]!.costUsd).toBeGreaterThan(0.05);
      // Neither item was blocked or lost: they wait for tomorrow's budget.
      const items = await run.store.listWorkItems();
      expect(items.map((item) => [item.id, item.blockedReason])).toEqual([['P-1', null], ['P-2', null]]);
      expect(items.map((item) => item.state)).not.toContain('blocked');
      expect(roadmapStatusOnMain(repo, '1')).toBe('planned');
    } finally {
      await run.close();
    }
  });
});

void architectScenario;
