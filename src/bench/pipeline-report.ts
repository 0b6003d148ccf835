import { cpus } from 'node:os';
import { median, type PipelineFigures, type PipelineRunFigures } from './pipeline.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const tokens = (value: number) => Math.round(value).toLocaleString('en-US');

/** The derived figures issue 10 sets targets on. */
export interface PipelineVerdict {
  speedup: number;
  /** Sum of session times at the higher maxRuns divided by that maxRuns: the wall time a perfect scheduler needs. */
  boundMs: number;
  efficiency: number;
  pmTokensPerItem: number;
  /** Median input tokens of project-manager sessions that marked exactly one item (either pass); null if none did. */
  oneItemPmTokens: number | null;
}

/**
 * `oneItemReference`: the input tokens of one project-manager session marking one item the way it was done before
 * issue 10 (Claude Code's system prompt with the agent's appended), measured in the same run; without it, the median
 * of the passes' own one-item sessions.
 */
export function pipelineVerdict(serial: PipelineRunFigures, parallel: PipelineRunFigures, items: number, oneItemReference: number | null = null): PipelineVerdict {
  const boundMs = parallel.sessionSumMs / parallel.maxRuns;
  const oneItem = [...serial.pmBySession, ...parallel.pmBySession].filter((session) => session.items === 1).map((session) => session.inputTokens);
  return {
    speedup: serial.wallMs / parallel.wallMs,
    boundMs,
    efficiency: boundMs / parallel.wallMs,
    pmTokensPerItem: parallel.pmInputTokens / items,
    oneItemPmTokens: oneItemReference ?? (oneItem.length > 0 ? median(oneItem) : null),
  };
}

const duration = (ms: number) => (ms < 1_000 ? `${Math.round(ms)} ms` : seconds(ms));

function lockCell(run: PipelineRunFigures): string {
  if (run.mergeLockHeldMs === null) return 'not recorded';
  return `${duration(median(run.mergeLockHeldMs))} / ${duration(Math.max(...run.mergeLockHeldMs))} (${run.mergeLockHeldMs.length} merges)`;
}

/** The docs/benchmarks.md section and the lines the bench prints, for a run at maxRuns 1 and one at 4. */
export function pipelineSection(figures: PipelineFigures): { markdown: string; summary: string[] } {
  const [serial, parallel] = figures.runs;
  if (!serial || !parallel) throw new Error('the pipeline benchmark needs two passes (maxRuns 1 and 4)');
  const verdict = pipelineVerdict(serial, parallel, figures.items, figures.oneItemPm?.appended ?? null);
  const ratio = verdict.oneItemPmTokens === null ? null : verdict.pmTokensPerItem / verdict.oneItemPmTokens;
  const both = (cell: (run: PipelineRunFigures) => string) => `| ${figures.runs.map(cell).join(' | ')} |`;
  const header = (run: PipelineRunFigures) => `maxRuns ${run.maxRuns}${run.testsUnderLock ? ', merge tested under the lock' : ''}`;
  const roles = [...new Set(figures.runs.flatMap((run) => run.roles.map((role) => role.role)))];
  const underLock = figures.runs.find((run) => run.testsUnderLock);
  const roleCell = (run: PipelineRunFigures, role: string) => {
    const figure = run.roles.find((entry) => entry.role === role);
    return figure ? `${figure.count} × ${seconds(figure.medianMs)}` : '—';
  };
  const markdown = [
    `## 6. Pipeline throughput (targets: speedup ≥ 2.8×, efficiency ≥ 0.85, project-manager input tokens per item ≤ half the one-item figure)`,
    '',
    `${figures.items} independent priorities (one new file and test each, so merges never conflict) through the whole pipeline (architect → developer → reviewer → merge → project manager): the orchestrator as \`start --until-idle --no-dashboard\` runs it, on SQLite, the real Claude Code CLI, the scripted model answering every turn after ${seconds(figures.modelTurnMs)}, and \`${figures.testCommand}\` as the project's test command.`,
    `The same run ${figures.runs.length === 2 ? 'twice' : `${figures.runs.length} times`} in one process, each in a fresh repository and database: \`concurrency.maxRuns\` ${serial.maxRuns}, then ${parallel.maxRuns} (with as many developers allowed)${underLock ? ', then again with the merge tested under the lock' : ''}. Input tokens are measured, not scripted: the model reports characters / 4 of the system prompt, tools and messages the CLI sent (\`estimateInputTokens\`).`,
    'Session time is a run\'s started → ended (the CLI process); sessions slow down when they share the 2 cores, so the bound is the sum of session times divided by maxRuns, and efficiency is that bound divided by the wall time.',
    '',
    `| figure | ${figures.runs.map(header).join(' | ')} |`,
    `|---|${figures.runs.map(() => '---|').join('')}`,
    `| wall time ${both((run) => `**${seconds(run.wallMs)}**`)}`,
    `| sessions ${both((run) => String(run.sessions))}`,
    `| sum of session times ${both((run) => seconds(run.sessionSumMs))}`,
    `| sessions running at once, time-weighted mean (max) ${both((run) => `${run.meanConcurrent.toFixed(2)} (${run.maxConcurrent})`)}`,
    `| project-manager sessions ${both((run) => String(run.pmSessions))}`,
    `| project-manager input tokens per item ${both((run) => tokens(run.pmInputTokens / figures.items))}`,
    `| integration lock held per merge, median / max ${both(lockCell)}`,
    ...roles.map((role) => `| ${role}: sessions × median time ${both((run) => roleCell(run, role))}`),
    `| load average (1 min) before → after ${both((run) => `${run.loadBefore.toFixed(1)} → ${run.loadAfter.toFixed(1)}`)}`,
    '',
    '| derived | value | target |',
    '|---|---|---|',
    `| speedup (wall at ${serial.maxRuns} ÷ wall at ${parallel.maxRuns}) | **${verdict.speedup.toFixed(2)}×** | ≥ 2.8× |`,
    `| bound (sum of session times at ${parallel.maxRuns} ÷ ${parallel.maxRuns}) | ${seconds(verdict.boundMs)} | — |`,
    `| efficiency (bound ÷ wall at ${parallel.maxRuns}) | **${verdict.efficiency.toFixed(2)}** | ≥ 0.85 |`,
    `| project-manager input tokens per item at ${parallel.maxRuns} | **${tokens(verdict.pmTokensPerItem)}** | ≤ ${verdict.oneItemPmTokens === null ? 'half the one-item figure' : tokens(verdict.oneItemPmTokens / 2)} |`,
    figures.oneItemPm
      ? `| one-item figure: one project-manager session marking one item with Claude Code's system prompt, the agent's appended (before issue 10), measured in this run | ${tokens(figures.oneItemPm.appended)} (with the agent's prompt alone, as now: ${tokens(figures.oneItemPm.agentOnly)}) | — |`
      : `| one-item figure (median of project-manager sessions that marked one item) | ${verdict.oneItemPmTokens === null ? 'no such session' : tokens(verdict.oneItemPmTokens)} | — |`,
    ...(underLock
      ? [
          '',
          `The last column is the design not chosen, measured for the decision: the merge is tested while it holds the integration lock (\`merge.maxRetests: 0\`), so nothing can move under the test and nothing is ever re-tested, but every merge waits for every test before it. Wall time ${seconds(underLock.wallMs)} against ${seconds(parallel.wallMs)}; the lock is held ${lockCell(underLock)} per merge against ${lockCell(parallel)}.`,
        ]
      : []),
    '',
    `Measured on Node ${process.version.slice(1)}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}); the load average is other work on the machine plus the bench's own sessions.`,
  ].join('\n');
  const summary = [
    `wall ${seconds(serial.wallMs)} at ${serial.maxRuns}, ${seconds(parallel.wallMs)} at ${parallel.maxRuns}: speedup ${verdict.speedup.toFixed(2)}× (target ≥ 2.8)`,
    `bound ${seconds(verdict.boundMs)}, efficiency ${verdict.efficiency.toFixed(2)} (target ≥ 0.85), mean sessions at once ${parallel.meanConcurrent.toFixed(2)} (max ${parallel.maxConcurrent})`,
    `project manager: ${parallel.pmSessions} sessions, ${tokens(verdict.pmTokensPerItem)} input tokens per item${ratio === null ? '' : ` (${ratio.toFixed(2)} of the one-item ${tokens(verdict.oneItemPmTokens ?? 0)}; target ≤ 0.5)`}`,
    `integration lock per merge: ${lockCell(parallel)}${underLock ? `; tested under the lock: ${lockCell(underLock)}, wall ${seconds(underLock.wallMs)}` : ''}`,
    ...roles.map((role) => `${role}: ${roleCell(serial, role)} at ${serial.maxRuns}, ${roleCell(parallel, role)} at ${parallel.maxRuns}`),
  ];
  return { markdown, summary };
}
