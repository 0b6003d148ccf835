import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../src/events/index.js';
import { parseRoadmap } from '../../src/roadmap/index.js';
import type { ScenarioInput } from '../../src/scripted-model/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';
import { FIXTURES_DIR } from '../helpers/fixtures.js';
import { sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo } from '../helpers/pipeline.js';
import { developerWriting, reviewerScenario } from '../helpers/role-scenarios.js';

const model = useScriptedModel();
const ROADMAP = 'docs/roadmap/ROADMAP.md';
const handGrown = () => readFile(join(FIXTURES_DIR, 'roadmaps', 'hand-grown.md'), 'utf8');

/** The architect of the demo without its Read of the whole roadmap (this one is 800 KB). */
const architect: ScenarioInput = {
  name: 'architect',
  match: { prompt: '^ROLE: architect\\nPRIORITY (?<n>[0-9.]+): (?<title>[^\\n]+)[\\s\\S]*?to: (?<spec>\\S+)' },
  turns: [{ tools: [{ name: 'Write', input: { file_path: '{{cwd}}/{{spec}}', content: '# SPEC {{n}}: {{title}}\n\nAs the roadmap says.\n' } }] }, { text: 'SPEC WRITTEN: {{spec}}' }],
};

interface StatusEdit {
  number: string;
  oldString: string;
  newString: string;
  line: number;
}

/**
 * Project managers that read around each item and change only its status, the way the prompt asks: one scenario
 * for every batch of these items the orchestrator may hand one session (the prompt lists them in roadmap order, one
 * `PRIORITY n:` line each, then a blank line), the larger batches first.
 */
function projectManagers(edits: readonly StatusEdit[]): ScenarioInput[] {
  const batches = Array.from({ length: 2 ** edits.length - 1 }, (_, mask) => edits.filter((_, index) => ((mask + 1) >> index) & 1)).sort((a, b) => b.length - a.length);
  return batches.map((batch) => ({
    name: `project-manager-${batch.map((edit) => edit.number).join('-')}`,
    match: { prompt: `^ROLE: project-manager\\n${batch.map((edit) => `PRIORITY ${edit.number}:[^\\n]*\\n`).join('')}\\n` },
    turns: [
      { tools: batch.map((edit) => ({ name: 'Read', input: { file_path: `{{cwd}}/${ROADMAP}`, offset: Math.max(1, edit.line - 5), limit: 20 } })) },
      { tools: batch.map((edit) => ({ name: 'Edit', input: { file_path: `{{cwd}}/${ROADMAP}`, old_string: edit.oldString, new_string: edit.newString } })) },
      { text: `ROADMAP UPDATED: ${batch.map((edit) => `PRIORITY ${edit.number}`).join(', ')}` },
    ],
  }));
}

describe('a hand-grown roadmap of 30,000+ lines', () => {
  it('status and plan show every item, its note and the problems with file:line before any start, spawning nothing', async () => {
    await using repo = await pipelineRepo(await handGrown());
    const env = sessionEnv(model);
    const status = await runCli(['status'], { cwd: repo.path, env });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).not.toContain('no work items yet');
    expect(status.stdout).toMatch(/Roadmap docs\/roadmap\/ROADMAP\.md on main \([0-9a-f]{7}\): 312 item\(s\) · 2 to start now · 1 after their dependencies · 309 skipped · 7 problem\(s\)/);
    // Every item is a row: 311 items and the duplicate.
    expect(status.stdout.split('\n').filter((line) => /^(PRIORITY \S+|US-\d+)\s+\d+\s/.test(line))).toHaveLength(312);
    expect(status.stdout).toMatch(/PRIORITY 301\s+75\s+Enhanced Communication\s+planned\s+next\s+Phase 4 \(Spec Migration\) · ⚡ NEW/);
    expect(status.stdout).toMatch(/PRIORITY 302\s+80\s+Notification Digest\s+planned\s+after PRIORITY 301\s+🔴 P0 CRITICAL - DO THIS FIRST!/);
    expect(status.stdout).toMatch(/PRIORITY 304\s+96\s+Offline Mode\s+unreadable\s+skip: held back: its status "Whenever we get to it" cannot be read/);
    expect(status.stdout).toMatch(/PRIORITY 1\s+986\s+Add caching for teams\s+complete\s+skip: complete/);
    expect(status.stdout).toMatch(/PRIORITY 290\s+\d+\s+\S.*complete\s+skip: complete\s+Documentation Delivered/);
    expect(status.stdout).toContain('docs/roadmap/ROADMAP.md:97: unknown status "Whenever we get to it": PRIORITY 304 is held back (fix: Start the status with one of');
    expect(status.stdout).toContain('docs/roadmap/ROADMAP.md:30400: PRIORITY 150 appears twice (lines 16594 and 30400)');
    expect(status.stdout).toContain('docs/roadmap/ROADMAP.md:116: cannot read the heading "PRIORITY 3b - Hotfix for the importer"');
    expect(status.stdout).toContain('nothing started yet');

    const plan = await runCli(['plan'], { cwd: repo.path, env });
    expect(plan.exitCode).toBe(0);
    expect(plan.stdout).toContain('start takes 3 item(s), in this order:');
    expect(plan.stdout).toMatch(/1\. PRIORITY 301: Enhanced Communication[^\n]*startable now[^\n]*note: Phase 4 \(Spec Migration\) · ⚡ NEW\n\s+2\. PRIORITY 302: Notification Digest[^\n]*after PRIORITY 301 · depends on 301[^\n]*\n\s+3\. PRIORITY 303: PyPI Package/);
    expect(plan.stdout).toContain('skipped: 301 complete, 8 other(s)');
    expect(plan.stdout).toMatch(/PRIORITY 308: Offline Sync\s+\(line 112\) waits on PRIORITY 304, which will not be done \(held back\)/);
    const json = JSON.parse((await runCli(['plan', '--json'], { cwd: repo.path, env })).stdout) as { items: { number: string; decision: string }[]; problems: unknown[] };
    expect(json.items.filter((item) => item.decision !== 'skipped').map((item) => item.number)).toEqual(['301', '302', '303']);
    expect(json.problems).toHaveLength(7);

    // Edits the pipeline cannot see are named, by status, plan and doctor alike.
    await repo.write(ROADMAP, `${await handGrown()}\n### PRIORITY 400: Added but not committed\n`);
    for (const command of ['status', 'plan']) {
      const result = await runCli([command], { cwd: repo.path, env });
      expect(result.stdout).toContain('docs/roadmap/ROADMAP.md has edits not committed to main: the pipeline reads main, so it does not see them.');
    }
    const doctor = await runCli(['doctor'], { cwd: repo.path, env });
    expect(doctor.stdout).toMatch(/! roadmap\s+docs\/roadmap\/ROADMAP\.md on main \([0-9a-f]{7}\): 312 item\(s\), 7 problem\(s\) \(5 hold an item back\)/);
    expect(doctor.stdout).toContain('error: docs/roadmap/ROADMAP.md:8981: unknown status "~~Complete~~ superseded by 142": PRIORITY 77 is held back');
    expect(doctor.stdout).toContain('has edits not committed to main');
    expect(model.requests).toEqual([]);
  });

  it('start works through the planned items in order, leaves the rest, and marks each done keeping its note', async () => {
    const original = await handGrown();
    await using repo = await pipelineRepo(original, { config: { concurrency: { maxRuns: 1 } } });
    model.addScenarios([
      architect,
      developerWriting({ number: '301', file: 'src/communication.js', content: 'export const channel = [];\n' }),
      developerWriting({ number: '302', file: 'src/digest.js', content: 'export const digest = () => [];\n' }),
      developerWriting({ number: '303', file: 'src/package.js', content: 'export const name = "acme";\n' }),
      reviewerScenario,
      ...projectManagers([
        { number: '301', oldString: '**Status**: 📝 Planned - Phase 4 (Spec Migration)', newString: '**Status**: ✅ Complete - Phase 4 (Spec Migration)', line: 76 },
        { number: '302', oldString: '### PRIORITY 302: Notification Digest 🔴 P0 CRITICAL - DO THIS FIRST!\n', newString: '### PRIORITY 302: Notification Digest 🔴 P0 CRITICAL - DO THIS FIRST!\n**Status**: ✅ Complete\n', line: 80 },
        { number: '303', oldString: '**Status:** 📝 **PLANNED** (target 2025-11-30)', newString: '**Status:** ✅ **COMPLETE** (target 2025-11-30)', line: 86 },
      ]),
    ]);
    const env = sessionEnv(model);
    const start = await runCli(['start', '--until-idle', '--no-dashboard', '--quiet'], { cwd: repo.path, env, timeoutMs: 300_000 });
    expect(start.exitCode).toBe(0);
    // The banner names the roadmap's problems; none of them stopped the start.
    expect(start.stdout).toMatch(/roadmap: docs\/roadmap\/ROADMAP\.md at [0-9a-f]{7} · 312 item\(s\), 3 held back · 7 problem\(s\)/);
    expect(start.stdout).toContain('docs/roadmap/ROADMAP.md:110: PRIORITY 307 depends on PRIORITY 999, which is not in the roadmap');

    const store = SqliteStore.open(join(repo.path, '.orchestrator', 'orchestrator.db'));
    try {
      const items = await store.listWorkItems({ kind: 'priority' });
      const notComplete = new Set(parseRoadmap(original).items.filter((entry) => entry.status !== 'complete').map((entry) => entry.number));
      expect(items.filter((item) => notComplete.has(item.number)).map((item) => [item.number, item.state])).toEqual([
        ['301', 'done'],
        ['302', 'done'],
        ['303', 'done'],
        ['307', 'planned'],
        ['308', 'planned'],
      ]);
      expect(items.filter((item) => !notComplete.has(item.number)).every((item) => item.state === 'done')).toBe(true);
      expect(items.find((item) => item.number === '304')).toBeUndefined();
      expect(items.find((item) => item.number === '77')).toBeUndefined();
      expect(items.find((item) => item.number === '301')?.note).toBe('Phase 4 (Spec Migration) · ⚡ NEW');
      const runs = (await store.listRuns({ limit: 100 })).reverse();
      expect(runs.every((run) => run.status === 'succeeded')).toBe(true);
      // Roadmap order where items compete: 301 first. 302 depends on 301: its first session starts only once 301 is
      // merged, from a main that holds it; 303 may use the slot meanwhile.
      expect(runs[0]?.workItemId).toBe('P-301');
      const merged301 = (await store.listEvents({ workItemId: 'P-301' as WorkItemId })).find((event) => event.kind === 'merge.completed');
      const first302 = runs.find((run) => run.workItemId === ('P-302' as WorkItemId));
      expect(merged301).toBeDefined();
      expect(first302!.createdAt >= merged301!.at).toBe(true);
      for (const id of ['P-301', 'P-303'] as WorkItemId[]) expect(runs.filter((run) => run.workItemId === id).map((run) => run.agent).slice(0, 3)).toEqual(['architect', 'code-developer', 'code-reviewer']);
      expect(runs.filter((run) => run.workItemId === ('P-302' as WorkItemId)).map((run) => run.agent).slice(0, 3)).toEqual(['architect', 'code-developer', 'code-reviewer']);
      // One project manager session per batch of merged items; every item's status was marked by one of them.
      expect(runs.filter((run) => run.agent === 'project-manager').length).toBeGreaterThanOrEqual(1);
      const read = await store.latestRoadmapRead();
      // Read again after each roadmap commit: 302 has a Status line now, so its heading warning is gone, and the lines below moved by one.
      expect(read?.problems.map((problem) => problem.line)).toEqual([88, 98, 111, 117, 8982, 30401]);
    } finally {
      await store.close();
    }

    // On main: the three items complete with their notes, every other line as it was.
    const after = repo.git('show', `main:${ROADMAP}`);
    const items = parseRoadmap(after).items;
    const before = parseRoadmap(original).items;
    for (const number of ['301', '302', '303']) {
      expect(items.find((item) => item.number === number)).toMatchObject({ status: 'complete', note: before.find((item) => item.number === number)?.note });
    }
    const expected = original.split('\n');
    expected[76 - 1] = '**Status**: ✅ Complete - Phase 4 (Spec Migration)';
    expected[86 - 1] = '**Status:** ✅ **COMPLETE** (target 2025-11-30)';
    expected.splice(80, 0, '**Status**: ✅ Complete');
    const changed = after.split('\n').map((line, index) => (line === expected[index] ? null : index + 1)).filter((line) => line !== null);
    expect(changed).toEqual([]);
    expect(after.split('\n').length).toBe(expected.length);

    const status = await runCli(['status'], { cwd: repo.path, env });
    expect(status.stdout).toMatch(/PRIORITY 302\s+80\s+Notification Digest\s+complete\s+skip: done\s+🔴 P0 CRITICAL - DO THIS FIRST!/);
    expect(status.stdout).toMatch(/PRIORITY 301\s+75\s+Enhanced Communication\s+complete\s+skip: done\s+Phase 4 \(Spec Migration\) · ⚡ NEW/);
    expect(status.stdout).toMatch(/PRIORITY 303\s+PyPI Package\s+done\s+4\s+arch dev review pm/);
  });
});
