import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { StoppedError, UsageError } from '../../lib/errors.js';
import { createToolPolicy, hasTerminal, loadAgentRegistry, reconcileOrphanedRuns, runAgent, sessionToolServer, sessionToolSettingsOf, sessionToolsEnv } from '../../orchestrator/index.js';
import { locateClaudeCli, signalProcessGroup } from '../../runtime/index.js';
import { formatDuration } from '../../lib/time.js';
import { openContext, type GlobalOptions } from '../context.js';
import { formatCost, painter, sumInvocations } from '../format.js';
import { attachTerminalReporter } from '../reporter.js';
import { priceTable } from '../../usage/index.js';

export interface RunCommandOptions extends GlobalOptions {
  timeout?: number;
  idleTimeout?: number;
  model?: string;
  resume?: string;
  json?: boolean;
}

/** `orchestrator run <agent> "<task>"`: one recorded session, shown live; exit 0 only on success. */
export async function runCommand(agentName: string, task: string, options: RunCommandOptions): Promise<number> {
  const cwd = resolve(options.cwd ?? process.cwd());
  if (!statSync(cwd, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`--cwd ${cwd} is not a directory`, { hint: 'Pass the path of the directory the agent should work in.' });
  }
  if (task.trim().length === 0) throw new UsageError('the task is empty', { hint: 'orchestrator run <agent> "<what to do>"' });
  const ctx = await openContext(options, {
    model: options.model,
    timeoutSeconds: options.timeout,
    idleTimeoutSeconds: options.idleTimeout,
  });
  try {
    const { config, store, bus, writer, stdout } = ctx;
    await reconcileOrphanedRuns(store, { graceMs: config.runtime.stopGraceSeconds * 1000, prices: priceTable(config.pricing) });
    // The user's agent of that name (project, then ~/.claude/agents), else the built-in default for a role.
    const agent = (await loadAgentRegistry(config)).resolve(agentName).definition;
    const cliPath = locateClaudeCli({ claudeBin: config.runtime.claudeBin, pathEnv: process.env.PATH });
    const resumeSessionId = options.resume ? await resolveResume(ctx.store, options.resume) : undefined;

    const detach = options.json
      ? bus.on('run.message', (record) => stdout.write(`${JSON.stringify(record)}\n`))
      : attachTerminalReporter(bus, stdout, { cwdOf: () => cwd });

    const controller = new AbortController();
    // An ad-hoc run without a terminal (a script, CI) has nobody at hand to answer a question.
    const toolSettings = sessionToolSettingsOf(config, { unattended: !hasTerminal() });
    let pid: number | null = null;
    bus.on('run.started', (event) => {
      pid = event.pid;
    });
    let interrupts = 0;
    const onSigint = () => {
      interrupts += 1;
      if (interrupts === 1) {
        ctx.stderr.write('\nstopping the session (Ctrl-C again to kill it at once)…\n');
        controller.abort(new StoppedError('stopped by Ctrl-C'));
      } else if (pid !== null) {
        signalProcessGroup(pid, 'SIGKILL');
      }
    };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    try {
      const { run, session } = await runAgent({
        store,
        bus,
        messages: writer,
        cliPath,
        agent,
        prompt: task,
        cwd,
        env: { ...config.sessionEnv, ...sessionToolsEnv(toolSettings) },
        defaultModel: config.runtime.model,
        taskKind: 'adhoc',
        resumeSessionId,
        toolPermission: createToolPolicy({ root: cwd, tools: agent.tools }),
        mcpServers: (runId) => [sessionToolServer({ runId, role: agent.name, workItemId: null, store, bus, cwd, integrationBranch: config.integrationBranch ?? null, settings: toolSettings }, controller.signal)],
        timeoutMs: config.runtime.timeoutSeconds * 1000,
        idleTimeoutMs: config.runtime.idleTimeoutSeconds * 1000,
        stopGraceMs: config.runtime.stopGraceSeconds * 1000,
        maxTurns: config.runtime.maxTurns,
        maxBudgetUsd: config.budgets.perRunUsd,
        prices: priceTable(config.pricing),
        signal: controller.signal,
      });
      detach();
      if (!options.json) {
        const paint = painter(stdout);
        const totals = sumInvocations(await store.listInvocations(run.id));
        const elapsed = run.startedAt && run.endedAt ? formatDuration(Date.parse(run.endedAt) - Date.parse(run.startedAt)) : '-';
        stdout.write(
          `\n${run.status === 'succeeded' ? paint.green('succeeded') : paint.red(run.status)} · run ${run.id} · session ${session.sessionId ?? '-'} · ${elapsed}` +
            ` · ${totals.inputTokens.toLocaleString('en-US')} in / ${totals.outputTokens.toLocaleString('en-US')} out tokens · ${formatCost(totals.costUsd, totals.costEstimated, { digits: 4 })}` +
            '\n',
        );
        if (run.errorMessage) stdout.write(`${paint.red('reason:')} ${run.errorMessage}\n`);
        if (session.stderrTail.length > 0 && run.status === 'failed') stdout.write(paint.dim(`stderr (last lines):\n${session.stderrTail.slice(-5).join('\n')}\n`));
      }
      if (run.status === 'succeeded') return 0;
      return interrupts > 0 ? 130 : 1;
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    }
  } finally {
    await ctx.close();
  }
}

/** `--resume` takes a session id, or a run id (prefix) whose latest session is resumed. */
async function resolveResume(store: import('../../store/index.js').Store, ref: string): Promise<string> {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-/.test(ref)) return ref;
  const run = await store.findRun(ref);
  if (!run) throw new UsageError(`--resume ${ref}: no run or session with that id`, { hint: 'Use a session id (shown by `orchestrator show`) or a run id.' });
  const invocations = await store.listInvocations(run.id);
  const sessionId = [...invocations].reverse().find((invocation) => invocation.sessionId)?.sessionId;
  if (!sessionId) throw new UsageError(`run ${run.id} has no session to resume`);
  return sessionId;
}
