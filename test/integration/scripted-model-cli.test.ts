import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLE_ROADMAP } from '../../src/demo/sample-repo.js';
import { measuredScenario } from '../../src/bench/pipeline.js';
import { runClaudeSession } from '../../src/runtime/index.js';
import { estimateInputTokens, type ScenarioInput } from '../../src/scripted-model/index.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';
import { projectManagerScenario } from '../helpers/role-scenarios.js';

const model = useScriptedModel();

/** Run ids unique to this process: a run id marks a session's processes. */
const runIdFor = (name: string): string => `it-scripted-${name}-${process.pid}`;

async function repoWithRoadmap(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'scripted-cli-it-'));
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  await mkdir(join(dir, 'docs', 'roadmap'), { recursive: true });
  await writeFile(join(dir, 'docs', 'roadmap', 'ROADMAP.md'), SAMPLE_ROADMAP);
  return dir;
}

/** The batched project-manager prompt of issue 10: one PRIORITY line per item, then instructions. */
const BATCHED_PROMPT = [
  'ROLE: project-manager',
  'PRIORITY 1: Slugify helper',
  'PRIORITY 3: Title case',
  '',
  'These priorities were reviewed and merged into main. In docs/roadmap/ROADMAP.md, set the status of each to "✅ Complete".',
  'Change nothing else.',
].join('\n');

/** The batched prompt, run by the real CLI (Read and Edit) in a fresh repository, against `scenario`. */
async function batchedProjectManager(name: string, scenario: ScenarioInput) {
  const cwd = await repoWithRoadmap();
  model.addScenarios([scenario]);
  const result = await runClaudeSession({ runId: runIdFor(name), cliPath: cliPath(), cwd, prompt: BATCHED_PROMPT, tools: ['Read', 'Edit'], allowedTools: ['Read', 'Edit'], env: sessionEnv(model) });
  return { cwd, result };
}

describe('scripted model features with the real CLI', () => {
  it('the demo project manager edits every PRIORITY line of a batched prompt (each), and only those', async () => {
    const { cwd, result } = await batchedProjectManager('batched-pm', projectManagerScenario);
    expect(result.outcome).toBe('succeeded');
    const roadmap = await readFile(join(cwd, 'docs', 'roadmap', 'ROADMAP.md'), 'utf8');
    expect(roadmap).toBe(
      SAMPLE_ROADMAP.replace('### PRIORITY 1: Slugify helper\n**Status**: 📝 Planned', '### PRIORITY 1: Slugify helper\n**Status**: ✅ Complete').replace(
        '### PRIORITY 3: Title case\n**Status**: 📝 Planned',
        '### PRIORITY 3: Title case\n**Status**: ✅ Complete',
      ),
    );
    // The scripted usage is kept: the demo's cost figures rely on it.
    expect(result.result?.usage.input_tokens).toBe(2_600 + 2_900 + 3_000);
  });

  it('estimateInputTokens reports what the CLI really sent: the result sums the estimates of its requests', async () => {
    const { result } = await batchedProjectManager('measured-pm', measuredScenario(projectManagerScenario));
    expect(result.outcome).toBe('succeeded');
    const turns = model.requests.filter((request) => request.kind === 'turn');
    expect(turns).toHaveLength(3);
    const estimates = turns.map((request) => estimateInputTokens(request.body ?? {}));
    // Each request carries the whole conversation so far, so each estimate is larger than the one before.
    expect(estimates[1]).toBeGreaterThan(estimates[0]!);
    expect(estimates[2]).toBeGreaterThan(estimates[1]!);
    expect(result.result?.usage.input_tokens).toBe(estimates.reduce((sum, value) => sum + value, 0));
  });
});
