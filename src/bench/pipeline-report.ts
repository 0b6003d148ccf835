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

export function pipelineVerdict(serial: PipelineRunFigures, parallel: PipelineRunFigures, items: number): PipelineVerdict {
  const boundMs = parallel.sessionSumMs / parallel.maxRuns;
  const oneItem = [...serial.pmBySession, ...parallel.pmBySession].filter((session) => session.items === 1).map((session) => session.inputTokens);
  return {
    speedup: serial.wallMs / parallel.wallMs,
    boundMs,
    efficiency: boundMs / parallel.wallMs,
    pmTokensPerItem: parallel.pmInputTokens / items,
    oneItemPmTokens: oneItem.length > 0 ? median(oneItem) : null,
  };
}

function lockCell(run: PipelineRunFigures): string {
  if (run.mergeLockHeldMs === null) return 'not recorded';
  return `${seconds(median(run.mergeLockHeldMs))} / ${seconds(Math.max(...run.mergeLockHeldMs))} (${run.mergeLockHeldMs.length} merges)`;
}

/** The docs/benchmarks.md section and the lines the bench prints, for a run at maxRuns 1 and one at 4. */
export function pipelineSection(figures: PipelineFigures): { markdown: string; summary: string[] } {
  const [serial, parallel] = figures.runs;
  if (!serial || !parallel) throw new Error('the pipeline benchmark needs two passes (maxRuns 1 and 4)');
  const verdict = pipelineVerdict(serial, parallel, figures.items);
  const ratio = verdict.oneItemPmTokens === null ? null : verdict.pmTokensPerItem / verdict.oneItemPmTokens;
  const both = (cell: (run: PipelineRunFigures) => string) => `| ${cell(serial)} | ${cell(parallel)} |`;
  const roles = [...new Set([...serial.roles, ...parallel.roles].map((role) => role.role))];
  const roleCell = (run: PipelineRunFigures, role: string) => {
    const figure = run.roles.find((entry) => entry.role === role);
    return figure ? `${figure.count} × ${seconds(figure.medianMs)}` : '—';
  };
  const markdown = [
    `## 6. Pipeline throughput (targets: speedup ≥ 2.8×, efficiency ≥ 0.85, project-manager input tokens per item ≤ half the one-item figure)`,
    '',
    `${figures.items} independent priorities (one new file and test each, so merges never conflict) through the whole pipeline (architect → developer → reviewer → merge → project manager): the orchestrator as \`start --until-idle --no-dashboard\` runs it, on SQLite, the real Claude Code CLI, the scripted model answering every turn after ${seconds(figures.modelTurnMs)}, and \`${figures.testCommand}\` as the project's test command.`,
    `The same run twice in one process, each in a fresh repository and database: \`concurrency.maxRuns\` ${serial.maxRuns}, then ${parallel.maxRuns} (with as many developers allowed). Input tokens are measured, not scripted: the model reports characters / 4 of the system prompt, tools and messages the CLI sent (\`estimateInputTokens\`).`,
    'Session time is a run\'s started → ended (the CLI process); sessions slow down when they share the 2 cores, so the bound is the sum of session times divided by maxRuns, and efficiency is that bound divided by the wall time.',
    '',
    `| figure | maxRuns ${serial.maxRuns} | maxRuns ${parallel.maxRuns} |`,
    '|---|---|---|',
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
    `| one-item figure (median of project-manager sessions that marked one item) | ${verdict.oneItemPmTokens === null ? 'no such session' : tokens(verdict.oneItemPmTokens)} | — |`,
    '',
    `Measured on Node ${process.version.slice(1)}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}); the load average is other work on the machine plus the bench's own sessions.`,
  ].join('\n');
  const summary = [
    `wall ${seconds(serial.wallMs)} at ${serial.maxRuns}, ${seconds(parallel.wallMs)} at ${parallel.maxRuns}: speedup ${verdict.speedup.toFixed(2)}× (target ≥ 2.8)`,
    `bound ${seconds(verdict.boundMs)}, efficiency ${verdict.efficiency.toFixed(2)} (target ≥ 0.85), mean sessions at once ${parallel.meanConcurrent.toFixed(2)} (max ${parallel.maxConcurrent})`,
    `project manager: ${parallel.pmSessions} sessions, ${tokens(verdict.pmTokensPerItem)} input tokens per item${ratio === null ? '' : ` (${ratio.toFixed(2)} of the one-item ${tokens(verdict.oneItemPmTokens ?? 0)}; target ≤ 0.5)`}`,
    `integration lock per merge: ${lockCell(parallel)}`,
    ...roles.map((role) => `${role}: ${roleCell(serial, role)} at ${serial.maxRuns}, ${roleCell(parallel, role)} at ${parallel.maxRuns}`),
  ];
  return { markdown, summary };
}
