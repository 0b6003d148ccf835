import type { SteeringFigures } from './steering.js';
import type { LatencyFigure } from './stats.js';

const WHERE: Record<SteeringFigures['database'], string> = {
  sqlite: 'SQLite, dashboard in the session\'s process',
  postgres: 'PostgreSQL, dashboard in another process (NOTIFY)',
};

/** Section 10 of docs/benchmarks.md: steering a live session, one block of rows per database measured. */
export function steeringSection(runs: readonly SteeringFigures[]): string {
  const row = (name: string, latency: LatencyFigure, bold: boolean) =>
    `| ${name} | ${latency.count} | ${latency.p50Ms.toFixed(1)} ms | ${bold ? `**${latency.p95Ms.toFixed(1)} ms**` : `${latency.p95Ms.toFixed(1)} ms`} | ${latency.maxMs.toFixed(1)} ms |`;
  const first = runs[0];
  return [
    '## 10. Steering a live session (target: p95 ≤ 500 ms after the turn ends)',
    '',
    'One real CLI session through `runAgent` (control channel, permission hook on every tool call, the MessageWriter).',
    `The scripted model answers each of its turns after ${first?.turnDelayMs ?? '?'} ms with a Read; at a random moment (10–70 %) of every other turn's delay, a person's message is POSTed to the dashboard's \`/api/runs/:id/messages\`, which stores it; live delivery (\`deliverLive\`) writes it on the session's stdin, and the CLI folds it into its next request to the model.`,
    'On SQLite the dashboard\'s HTTP server runs in the session\'s process, as `orchestrator start` runs it (the store announces the message in-process); on PostgreSQL it runs in a process of its own, as `orchestrator dashboard` does on another machine, and the session\'s owner hears the message through LISTEN/NOTIFY.',
    '**Turn end** = the scripted model has handed its answer (the tool call) to the socket in full; the CLI then runs the Read, answers the permission hook and sends its next request, which must carry the message text. The POST → request time includes the rest of the model\'s turn: the message waits for the turn boundary, as it must. The baseline is the same gap after the turns in between, which no message was posted into: what the CLI takes anyway. Both ends read the same clock (the model runs in the benchmark process).',
    '',
    '| path | samples | p50 | p95 | max |',
    '|---|---|---|---|---|',
    ...runs.flatMap((figures) => [
      row(`${WHERE[figures.database]}: **the turn ends → the next request carrying the message**`, figures.afterTurnEnd, true),
      row(`${WHERE[figures.database]}: the POST → that request`, figures.fromPost, false),
      row(`${WHERE[figures.database]}: baseline, the turn ends → the next request, no message`, figures.baseline, false),
    ]),
    '',
    ...runs.map(
      (figures) =>
        `${WHERE[figures.database]}: ${figures.inNextRequest} of ${figures.samples} messages were in the very next request after the turn in flight when they were posted; wall time ${(figures.wallMs / 1000).toFixed(0)} s; load average ${figures.loadBefore.toFixed(1)} before, ${figures.loadAfter.toFixed(1)} after.`,
    ),
    '',
    'The machine has 2 cores shared with other work (the load averages above): every figure here slows with it.',
  ].join('\n');
}
