import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { runOrchestrator } from '../cli/commands/start.js';
import { openContext } from '../cli/context.js';
import { commandForHints } from '../cli/invocation.js';
import { painter } from '../cli/format.js';
import { ConfigError } from '../lib/errors.js';
import { waitForTerminationSignal } from '../lib/termination.js';
import { ScriptedModelServer } from '../scripted-model/index.js';
import { createSampleRepo } from './sample-repo.js';
import { DEMO_SCENARIOS } from './scenarios.js';

const git = promisify(execFile);

export interface DemoOptions {
  dir?: string | undefined;
  live?: boolean | undefined;
  /** Wait before each scripted model turn (default: 1000 ms on a terminal, 0 otherwise). */
  paceMs?: number | undefined;
  /** Keep the dashboard open after the work is done, until Ctrl-C (default: on a terminal). */
  keepOpen?: boolean | undefined;
  /** Start the dashboard (default true). */
  dashboard?: boolean | undefined;
  env: Record<string, string | undefined>;
  out: NodeJS.WriteStream;
}

/**
 * The offline demo: a fresh sample repository with a three-priority roadmap, the scripted model on 127.0.0.1, and
 * the whole pipeline (architect → developer → reviewer → merge → project manager) with real Claude Code sessions.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { out } = options;
  const paint = painter(out);
  if (options.live && !options.env.ANTHROPIC_API_KEY && !options.env.ANTHROPIC_AUTH_TOKEN) {
    throw new ConfigError('--live needs ANTHROPIC_API_KEY in the environment', { hint: 'export ANTHROPIC_API_KEY=… or run the demo without --live (scripted model, no key).' });
  }
  const dir = options.dir ? resolve(options.dir) : await mkdtemp(join(tmpdir(), 'orchestrator-demo-'));
  await createSampleRepo(dir);
  out.write(`${paint.bold('Sample repository')}: ${dir} (a three-priority roadmap in docs/roadmap/ROADMAP.md)\n`);

  const interactive = out.isTTY;
  const model = options.live ? null : new ScriptedModelServer({ scenarios: [...DEMO_SCENARIOS], paceMs: options.paceMs ?? (interactive ? 1000 : 0) });
  const env: Record<string, string | undefined> = { ...options.env };
  if (model) {
    const url = await model.start();
    env.ANTHROPIC_BASE_URL = url;
    env.ANTHROPIC_API_KEY = 'sk-scripted-demo-not-a-real-key';
    delete env.ANTHROPIC_AUTH_TOKEN;
    env.CLAUDE_CODE_MAX_RETRIES = '2';
    out.write(`${paint.bold('Scripted model')}: ${url} (the real Claude Code CLI runs every tool; only the model's replies are scripted)\n\n`);
  }
  const ctx = await openContext({ cwd: dir }, {}, env);
  let shown = false;
  /** The roadmap and history on main: printed once, before the dashboard is kept open for a look. */
  const showOutcome = async () => {
    if (shown) return;
    shown = true;
    const roadmap = (await git('git', ['show', 'main:docs/roadmap/ROADMAP.md'], { cwd: dir })).stdout;
    const statuses = roadmap.split('\n').filter((line) => line.startsWith('### PRIORITY') || line.startsWith('**Status**'));
    const log = (await git('git', ['log', '--oneline', '--graph', '-14', 'main'], { cwd: dir })).stdout.trim();
    const self = commandForHints(process.argv, options.env, process.cwd());
    out.write(
      [
        '',
        paint.bold('Roadmap on main:'),
        ...statuses.map((line) => `  ${line}`),
        '',
        paint.bold('git log main:'),
        ...log.split('\n').map((line) => `  ${line}`),
        '',
        `Database: ${ctx.config.databasePath}`,
        `Explore:  ${self} --cwd ${dir} status`,
        `          ${self} --cwd ${dir} ps --all`,
        `          ${self} --cwd ${dir} usage --by agent`,
        `          ${self} --cwd ${dir} dashboard`,
        '',
      ].join('\n'),
    );
  };
  try {
    const code = await runOrchestrator(ctx, {
      untilIdle: true,
      dashboard: options.dashboard ?? true,
      keepDashboardOpen: async (dashboard) => {
        if (!(options.keepOpen ?? interactive)) return;
        await showOutcome();
        out.write(`${paint.bold('The dashboard stays open')} at ${dashboard.url} (replay the runs, see tokens and cost per agent). Ctrl-C to exit.\n`);
        await waitForTerminationSignal();
      },
    });
    await showOutcome();
    return code;
  } finally {
    await ctx.close();
    await model?.close();
  }
}
