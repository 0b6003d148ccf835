import { describe, expect, it } from 'vitest';
import { benchFeatures, benchRoadmap, benchScenarios, concurrency, measuredScenario, type PipelineRunFigures } from '../../../src/bench/pipeline.js';
import { pipelineSection, pipelineVerdict } from '../../../src/bench/pipeline-report.js';
import { parseRoadmap } from '../../../src/roadmap/index.js';
import { parseScenarios } from '../../../src/scripted-model/index.js';

function runFigures(overrides: Partial<PipelineRunFigures>): PipelineRunFigures {
  return {
    maxRuns: 1,
    testsUnderLock: false,
    wallMs: 100_000,
    sessions: 48,
    sessionSumMs: 90_000,
    meanConcurrent: 1,
    maxConcurrent: 1,
    pmSessions: 12,
    pmInputTokens: 12 * 8_400,
    pmBySession: Array.from({ length: 12 }, () => ({ items: 1, inputTokens: 8_400 })),
    mergeLockHeldMs: null,
    roles: [{ role: 'project-manager', count: 12, medianMs: 7_000 }],
    loadBefore: 0.5,
    loadAfter: 2,
    dir: '/tmp/x',
    ...overrides,
  };
}

describe('pipeline benchmark', () => {
  it('generates twelve independent priorities, each in its own files, that the roadmap parser reads as planned', () => {
    const features = benchFeatures(12);
    expect(new Set(features.map((feature) => feature.file)).size).toBe(12);
    const parsed = parseRoadmap(benchRoadmap(features));
    expect(parsed.problems).toEqual([]);
    expect(parsed.items.map((item) => [item.number, item.status, item.dependsOn])).toEqual(features.map((feature) => [feature.number, 'planned', []]));
  });

  it('measures input tokens in its scenarios instead of scripting them, and keeps the scripted output tokens', () => {
    const scenarios = parseScenarios({ scenarios: benchScenarios(benchFeatures(12)) }, 'bench');
    expect(scenarios).toHaveLength(15);
    for (const scenario of scenarios) {
      expect(scenario.estimateInputTokens).toBe(true);
      for (const turn of scenario.turns) if ('usage' in turn && turn.usage) expect(turn.usage.input_tokens).toBeUndefined();
    }
    const measured = measuredScenario({ name: 's', turns: [{ text: 'a', usage: { input_tokens: 5, output_tokens: 7 } }] });
    expect(measured.turns[0]).toEqual({ text: 'a', usage: { output_tokens: 7 } });
  });

  it('computes the time-weighted mean and the maximum of sessions running at once', () => {
    // 0–10 one session, 10–25 two (at 20 one ends as another starts: never three), 25–30 one: 45 / 30.
    expect(concurrency([[0, 20], [10, 30], [20, 25]])).toEqual({ mean: 1.5, max: 2 });
    expect(concurrency([[0, 10], [0, 10], [0, 10], [0, 10]])).toEqual({ mean: 4, max: 4 });
    expect(concurrency([])).toEqual({ mean: 0, max: 0 });
  });

  it('derives speedup, bound, efficiency and the project-manager ratio from the two passes', () => {
    const serial = runFigures({});
    const parallel = runFigures({
      maxRuns: 4,
      wallMs: 40_000,
      sessionSumMs: 136_000,
      pmSessions: 3,
      pmInputTokens: 3 * 9_000,
      pmBySession: [{ items: 1, inputTokens: 8_600 }, { items: 5, inputTokens: 9_200 }, { items: 6, inputTokens: 9_200 }],
      mergeLockHeldMs: [2_000, 3_000, 9_000],
    });
    const verdict = pipelineVerdict(serial, parallel, 12);
    expect(verdict.speedup).toBe(2.5);
    expect(verdict.boundMs).toBe(34_000);
    expect(verdict.efficiency).toBe(0.85);
    expect(verdict.pmTokensPerItem).toBe(2_250);
    expect(verdict.oneItemPmTokens).toBe(8_400);
    const { markdown, summary } = pipelineSection({ oneItemPm: null, items: 12, modelTurnMs: 1_500, testCommand: 'sleep 2 && node --test', runs: [serial, parallel] });
    expect(markdown).toContain('| integration lock held per merge, median / max | not recorded | 3.0 s / 9.0 s (3 merges) |');
    expect(markdown).toContain('| speedup (wall at 1 ÷ wall at 4) | **2.50×** | ≥ 2.8× |');
    expect(summary[2]).toBe('project manager: 3 sessions, 2,250 input tokens per item (0.27 of the one-item 8,400; target ≤ 0.5)');
    // With the design not chosen as a third pass, and the one-item session measured side by side as the reference.
    const locked = runFigures({ maxRuns: 4, testsUnderLock: true, wallMs: 50_000, mergeLockHeldMs: [2_100, 2_300, 2_500] });
    const three = pipelineSection({ oneItemPm: { appended: 9_000, agentOnly: 4_500 }, items: 12, modelTurnMs: 1_500, testCommand: 'sleep 2 && node --test', runs: [serial, parallel, locked] });
    expect(three.markdown).toContain('| figure | maxRuns 1 | maxRuns 4 | maxRuns 4, merge tested under the lock |');
    expect(three.markdown).toContain('| integration lock held per merge, median / max | not recorded | 3.0 s / 9.0 s (3 merges) | 2.3 s / 2.5 s (3 merges) |');
    expect(three.summary[2]).toBe('project manager: 3 sessions, 2,250 input tokens per item (0.25 of the one-item 9,000; target ≤ 0.5)');
    expect(three.summary[3]).toBe('integration lock per merge: 3.0 s / 9.0 s (3 merges); tested under the lock: 2.3 s / 2.5 s (3 merges), wall 50.0 s');
  });
});
