import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { attachTerminalReporter } from '../cli/reporter.js';
import { loadAgentDefinition } from '../agents/index.js';
import { loadConfig } from '../config/index.js';
import { EventBus } from '../events/index.js';
import { ConfigError } from '../lib/errors.js';
import { formatDuration } from '../lib/time.js';
import { createToolPolicy, runAgent } from '../orchestrator/index.js';
import { locateClaudeCli } from '../runtime/index.js';
import { ScriptedModelServer } from '../scripted-model/index.js';
import { MessageWriter, openStore } from '../store/index.js';
import { createSampleRepo } from './sample-repo.js';
import { developerScenario } from './scenarios.js';

const git = promisify(execFile);

export interface DemoOptions {
  dir?: string | undefined;
  live?: boolean | undefined;
  env: Record<string, string | undefined>;
  out: NodeJS.WriteStream;
}

/**
 * The offline demo: a fresh sample repository, the scripted model on 127.0.0.1, and a real Claude Code
 * session of the code-developer agent that writes code, runs the tests and commits; everything recorded.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { out } = options;
  if (options.live && !options.env.ANTHROPIC_API_KEY) {
    throw new ConfigError('--live needs ANTHROPIC_API_KEY in the environment', { hint: 'export ANTHROPIC_API_KEY=… or run the demo without --live (scripted model, no key).' });
  }
  const dir = options.dir ? resolve(options.dir) : await mkdtemp(join(tmpdir(), 'orchestrator-demo-'));
  await createSampleRepo(dir);
  out.write(`Sample repository: ${dir}\n`);

  const model = options.live ? null : new ScriptedModelServer({ scenarios: [developerScenario] });
  const env: Record<string, string | undefined> = { ...options.env };
  if (model) {
    const url = await model.start();
    env.ANTHROPIC_BASE_URL = url;
    env.ANTHROPIC_API_KEY = 'sk-scripted-demo-not-a-real-key';
    delete env.ANTHROPIC_AUTH_TOKEN;
    env.CLAUDE_CODE_MAX_RETRIES = '2';
    out.write(`Scripted model: ${url} (the real Claude Code CLI runs every tool; only the model's replies are scripted)\n\n`);
  }
  const config = await loadConfig({ repoRoot: dir, env, overrides: {} });
  const store = await openStore({ url: config.database.url, sqlitePath: config.databasePath });
  const bus = new EventBus();
  const writer = new MessageWriter(store, {});
  const detach = attachTerminalReporter(bus, out, { cwdOf: () => dir, prefixAgent: true });
  try {
    const agent = await loadAgentDefinition(join(dir, config.agentsDir), 'code-developer');
    const { run, session } = await runAgent({
      store,
      bus,
      messages: writer,
      cliPath: locateClaudeCli({ claudeBin: config.runtime.claudeBin, pathEnv: env.PATH }),
      agent,
      prompt: 'Implement PRIORITY 1 of docs/roadmap/ROADMAP.md: add slugify(text) in src/slugify.js with tests in test/, run the tests, and commit.',
      cwd: dir,
      env: { ...config.sessionEnv },
      defaultModel: config.runtime.model,
      taskKind: 'implement',
      toolPermission: createToolPolicy({ root: dir, tools: agent.tools }),
      timeoutMs: 300_000,
      idleTimeoutMs: 120_000,
    });
    const invocations = await store.listInvocations(run.id);
    const invocation = invocations[invocations.length - 1];
    const log = (await git('git', ['log', '--oneline', '-3'], { cwd: dir })).stdout.trim();
    out.write(
      [
        '',
        `Run ${run.id}: ${run.status}${run.errorMessage ? ` (${run.errorMessage})` : ''}`,
        `  session ${session.sessionId ?? '-'} · ${invocation?.numTurns ?? 0} turns · ${invocation?.inputTokens ?? 0} in / ${invocation?.outputTokens ?? 0} out tokens · $${(invocation?.costUsd ?? 0).toFixed(4)} · ${formatDuration(invocation?.durationMs ?? 0)}`,
        `  messages recorded: ${writer.written}`,
        `  git log:\n    ${log.split('\n').join('\n    ')}`,
        '',
        `Database: ${config.databasePath}`,
        `Explore:  npx orchestrator --cwd ${dir} ps`,
        `          npx orchestrator --cwd ${dir} show ${run.id.slice(0, 10)}`,
        `          npx orchestrator --cwd ${dir} logs ${run.id.slice(0, 10)}`,
        '',
      ].join('\n'),
    );
    return run.status === 'succeeded' ? 0 : 1;
  } finally {
    detach();
    await writer.close();
    await store.close();
    await model?.close();
  }
}
