import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminalRunStatus, type MessageRecord, type RunStatus } from '../../events/index.js';
import { RunNotFoundError, UsageError } from '../../lib/errors.js';
import { formatDuration } from '../../lib/time.js';
import { reconcileOrphanedRuns, stopRun } from '../../orchestrator/index.js';
import { summarizeRun, type RunRecord, type RunSummary, type Store } from '../../store/index.js';
import { openContext, type GlobalOptions } from '../context.js';
import { RUN_HEADERS, formatCost, formatStreamMessage, painter, runPlace, runRow, sumInvocations, table } from '../format.js';
import { priceTable } from '../../usage/index.js';
import { waitingForYouText } from '../waiting-for-you.js';

async function findRunOrThrow(store: Store, ref: string): Promise<RunRecord> {
  const run = await store.findRun(ref);
  if (!run) throw new RunNotFoundError(ref);
  return run;
}

const STATUSES: readonly RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'stopped', 'orphaned'];

/** `orchestrator ps`: active runs, then recent ones. */
export async function psCommand(options: GlobalOptions & { all?: boolean; limit?: number; status?: string; json?: boolean }): Promise<number> {
  const ctx = await openContext(options);
  try {
    await reconcileOrphanedRuns(ctx.store, { graceMs: ctx.config.runtime.stopGraceSeconds * 1000, prices: priceTable(ctx.config.pricing) });
    let statuses: RunStatus[] | undefined;
    if (options.status) {
      statuses = options.status.split(',').map((value) => value.trim()) as RunStatus[];
      const bad = statuses.find((status) => !STATUSES.includes(status));
      if (bad) throw new UsageError(`unknown status "${bad}"`, { hint: `Use one of: ${STATUSES.join(', ')}.` });
    }
    const active = await ctx.store.listRuns({ statuses: ['queued', 'running'], limit: 1000 });
    const recent = options.status
      ? await ctx.store.listRuns({ statuses, limit: options.limit ?? 20 })
      : (await ctx.store.listRuns({ limit: options.all ? (options.limit ?? 1000) : (options.limit ?? 10) })).filter((run) => !['queued', 'running'].includes(run.status));
    const workers = await ctx.store.runWorkers([...active, ...recent].map((run) => run.id));
    const row = (run: RunSummary) => runRow(run, workers.get(run.id));
    if (options.json) {
      const withWorker = (run: RunSummary) => ({ ...run, workerId: workers.get(run.id)?.workerId ?? null });
      ctx.stdout.write(`${JSON.stringify({ active: active.map(withWorker), recent: recent.map(withWorker) }, null, 2)}\n`);
      return 0;
    }
    const paint = painter(ctx.stdout);
    if (!options.status) {
      ctx.stdout.write(`${paint.bold(`Active runs (${active.length})`)}\n`);
      ctx.stdout.write(active.length > 0 ? `${table(RUN_HEADERS, active.map(row))}\n\n` : paint.dim('none\n\n'));
      // Runs waiting on a person (ask_human): said only when there are any, with how to answer.
      ctx.stdout.write(await waitingForYouText(ctx.store, paint));
      ctx.stdout.write(`${paint.bold('Recent runs')}\n`);
    }
    ctx.stdout.write(recent.length > 0 ? `${table(RUN_HEADERS, recent.map(row))}\n` : paint.dim('none\n'));
    return 0;
  } finally {
    await ctx.close();
  }
}

/** `orchestrator show <run>`: the run, its invocations, tokens, cost, errors and denials. */
export async function showCommand(ref: string, options: GlobalOptions & { json?: boolean }): Promise<number> {
  const ctx = await openContext(options);
  try {
    const run = await findRunOrThrow(ctx.store, ref);
    const invocations = await ctx.store.listInvocations(run.id);
    const worker = (await ctx.store.runWorkers([run.id])).get(run.id);
    if (options.json) {
      ctx.stdout.write(`${JSON.stringify({ run: { ...summarizeRun(run, invocations), workerId: worker?.workerId ?? null }, invocations }, null, 2)}\n`);
      return 0;
    }
    const paint = painter(ctx.stdout);
    const totals = sumInvocations(invocations);
    const lines = [
      `${paint.bold('run')}        ${run.id}`,
      `agent      ${run.agent} (${run.taskKind}${run.workItemId ? `, work item ${run.workItemId}` : ''}, attempt ${run.attempt})`,
      `status     ${run.status}${run.errorKind ? ` (${run.errorKind})` : ''}`,
      ...(run.errorMessage ? [`reason     ${run.errorMessage}`] : []),
      `cwd        ${run.cwd}`,
      ...(run.branch ? [`branch     ${run.branch}`] : []),
      `pid        ${run.pid ?? '-'}   owner pid ${run.ownerPid} on ${runPlace(run, worker)}`,
      `created    ${run.createdAt}`,
      `started    ${run.startedAt ?? '-'}`,
      `ended      ${run.endedAt ?? '-'}${run.startedAt && run.endedAt ? `  (${formatDuration(Date.parse(run.endedAt) - Date.parse(run.startedAt))})` : ''}`,
      `exit code  ${run.exitCode ?? '-'}`,
      `tokens     ${totals.inputTokens.toLocaleString('en-US')} in / ${totals.outputTokens.toLocaleString('en-US')} out / ${totals.cacheTokens.toLocaleString('en-US')} cache`,
      `cost       ${formatCost(totals.costUsd, totals.costEstimated, { digits: 6 })}`,
      `task       ${run.prompt}`,
    ];
    for (const [index, invocation] of invocations.entries()) {
      lines.push(
        '',
        paint.bold(`invocation ${index + 1}: ${invocation.id}`),
        `  session   ${invocation.sessionId ?? '-'}${invocation.resumeSessionId ? ` (resumed ${invocation.resumeSessionId})` : ''}`,
        `  model     ${invocation.model ?? '-'}   claude ${invocation.cliVersion ?? '-'}`,
        `  status    ${invocation.status}   result ${invocation.resultSubtype ?? '-'}${invocation.isError ? ' (error)' : ''}   terminal ${invocation.terminalReason ?? '-'}`,
        `  turns     ${invocation.numTurns ?? '-'}   duration ${invocation.durationMs === null ? '-' : formatDuration(invocation.durationMs)} (API ${invocation.durationApiMs === null ? '-' : formatDuration(invocation.durationApiMs)})`,
        `  tokens    ${invocation.inputTokens} in / ${invocation.outputTokens} out / ${invocation.cacheReadInputTokens} cache read / ${invocation.cacheCreationInputTokens} cache write`,
        `  cost      ${formatCost(invocation.costUsd, invocation.costEstimated, { digits: 6 })}`,
        ...(invocation.costNote ? [paint.dim(`            ${invocation.costNote}`)] : []),
        `  exit      ${invocation.exitCode ?? '-'}${invocation.signal ? ` (${invocation.signal})` : ''}`,
      );
      if (invocation.resultText) lines.push(`  result    ${invocation.resultText.split('\n')[0] ?? ''}`);
      for (const denial of invocation.permissionDenials) {
        const reason = typeof denial.message === 'string' ? denial.message : JSON.stringify(denial.tool_input);
        lines.push(paint.yellow(`  denied    ${JSON.stringify(denial.tool_name)}: ${reason}`));
      }
      if (invocation.stderrTail) lines.push(paint.dim(`  stderr    ${invocation.stderrTail.split('\n').slice(-5).join('\n            ')}`));
    }
    ctx.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}

/**
 * `orchestrator logs <run> [--follow]`: the stream of a run. Following reads new rows as the owning process
 * commits them (it may be another process, so the database is the only shared channel here; the dashboard
 * gets its live feed from the event bus instead).
 */
export async function logsCommand(ref: string, options: GlobalOptions & { follow?: boolean; json?: boolean; signal?: AbortSignal }): Promise<number> {
  const ctx = await openContext(options);
  try {
    const run = await findRunOrThrow(ctx.store, ref);
    const paint = painter(ctx.stdout);
    const lastSeq = new Map<string, number>();
    const print = (records: MessageRecord[]) => {
      for (const record of records) {
        lastSeq.set(record.invocationId, Math.max(lastSeq.get(record.invocationId) ?? 0, record.seq));
        if (options.json) ctx.stdout.write(`${JSON.stringify(record)}\n`);
        else for (const line of formatStreamMessage(record.payload, paint, run.cwd)) ctx.stdout.write(`${line}\n`);
      }
    };
    const drain = async () => {
      for (const invocation of await ctx.store.listInvocations(run.id)) {
        for (;;) {
          const batch = await ctx.store.listMessages({ invocationId: invocation.id, afterSeq: lastSeq.get(invocation.id) ?? 0, limit: 1000 });
          print(batch);
          if (batch.length < 1000) break;
        }
      }
    };
    await drain();
    if (options.follow) {
      for (;;) {
        const current = await ctx.store.getRun(run.id);
        if (!current || isTerminalRunStatus(current.status)) {
          await drain();
          if (!options.json) ctx.stdout.write(paint.dim(`-- run ${current?.status ?? 'gone'}${current?.errorMessage ? `: ${current.errorMessage}` : ''}\n`));
          break;
        }
        await sleep(150, undefined, options.signal ? { signal: options.signal } : undefined);
        await drain();
      }
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

/** `orchestrator stop <run>`: works from any terminal on the machine running the session. */
export async function stopCommand(ref: string, options: GlobalOptions): Promise<number> {
  const ctx = await openContext(options);
  try {
    const run = await findRunOrThrow(ctx.store, ref);
    const outcome = await stopRun(ctx.store, run, { graceMs: ctx.config.runtime.stopGraceSeconds * 1000 });
    switch (outcome.kind) {
      case 'already_ended':
        ctx.stdout.write(`run ${run.id} already ended (${run.status})\n`);
        return 0;
      case 'other_host':
        ctx.stdout.write(`run ${run.id} runs on ${run.host}; a stop was requested and its orchestrator will act on it\n`);
        return 0;
      case 'stopped':
        ctx.stdout.write(`run ${run.id} ${outcome.run.status} (${outcome.by === 'owner' ? 'interrupted by the orchestrator that runs it' : 'by signals to its process group'})\n`);
        return isTerminalRunStatus(outcome.run.status) ? 0 : 1;
    }
  } finally {
    await ctx.close();
  }
}

/** `orchestrator usage [--by agent|day|model]`: tokens and cost. */
export async function usageCommand(options: GlobalOptions & { by?: string; since?: string; until?: string; json?: boolean }): Promise<number> {
  const by = options.by ?? 'agent';
  if (by !== 'agent' && by !== 'day' && by !== 'model' && by !== 'work_item') {
    throw new UsageError(`--by ${by} is not supported`, { hint: 'Use --by agent, --by day, --by model or --by work_item.' });
  }
  for (const [flag, value] of [['--since', options.since], ['--until', options.until]] as const) {
    if (value !== undefined && Number.isNaN(Date.parse(value))) throw new UsageError(`${flag} ${value} is not a date`, { hint: 'Use an ISO date such as 2026-11-24 or 2026-11-24T10:00:00Z.' });
  }
  const ctx = await openContext(options);
  try {
    const rows = await ctx.store.usage({
      by,
      ...(options.since ? { since: new Date(options.since).toISOString() } : {}),
      ...(options.until ? { until: new Date(options.until).toISOString() } : {}),
    });
    if (options.json) {
      ctx.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const total = rows.reduce(
      (sum, row) => ({ runs: sum.runs + row.runs, cost: sum.cost + row.costUsd, estimated: sum.estimated || row.costEstimated, input: sum.input + row.inputTokens, output: sum.output + row.outputTokens }),
      { runs: 0, cost: 0, estimated: false, input: 0, output: 0 },
    );
    const body = rows.map((row) => [
      row.key,
      String(row.runs),
      String(row.succeeded),
      String(row.failed),
      row.inputTokens.toLocaleString('en-US'),
      row.outputTokens.toLocaleString('en-US'),
      (row.cacheReadInputTokens + row.cacheCreationInputTokens).toLocaleString('en-US'),
      formatCost(row.costUsd, row.costEstimated, { digits: 4 }),
      formatDuration(row.totalDurationMs),
    ]);
    body.push(['TOTAL', String(total.runs), '', '', total.input.toLocaleString('en-US'), total.output.toLocaleString('en-US'), '', formatCost(total.cost, total.estimated, { digits: 4 }), '']);
    ctx.stdout.write(`${table([by.toUpperCase(), 'RUNS', 'OK', 'FAILED', 'IN TOKENS', 'OUT TOKENS', 'CACHE', 'COST', 'TIME'], body)}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}
