import { join } from 'node:path';
import { DEFAULT_AGENTS, parseAgentDefinition } from '../../src/agents/index.js';
import { loadConfig, type ResolvedConfig } from '../../src/config/index.js';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/index.js';
import { EventBus, type RunId } from '../../src/events/index.js';
import { createToolPolicy, runAgent, stopLocalSession, stopRun, type RunAgentResult } from '../../src/orchestrator/index.js';
import type { ScriptedModelServer } from '../../src/scripted-model/index.js';
import { MessageWriter, SqliteStore } from '../../src/store/index.js';
import { cliPath, sessionEnv } from './model.js';
import { tmpRepo, type TmpRepo } from './tmp-repo.js';

export interface DashboardHarness {
  repo: TmpRepo;
  config: ResolvedConfig;
  store: SqliteStore;
  bus: EventBus;
  writer: MessageWriter;
  dashboard: RunningDashboard;
  /** Starts a real Claude Code session of `agent` (against the scripted model), recorded and streamed like the orchestrator's. */
  startRun(agent: string, prompt: string): { runId: Promise<RunId>; done: Promise<RunAgentResult> };
  close(): Promise<void>;
}

/** A repository, a store, the orchestrator's bus and writer, and the dashboard on a free port, in this process. */
export async function dashboardHarness(model: ScriptedModelServer, options: { env?: Record<string, string>; staticDir?: string | null } = {}): Promise<DashboardHarness> {
  const files: Record<string, string> = { 'README.md': '# sample\n' };
  for (const [name, text] of Object.entries(DEFAULT_AGENTS)) files[`.claude/agents/${name}.md`] = text;
  const repo = await tmpRepo({ files });
  // loadConfig registers the secrets of the environment for redaction, as every CLI command does.
  const config = await loadConfig({ repoRoot: repo.path, env: sessionEnv(model, options.env), overrides: {} });
  const store = SqliteStore.open(join(repo.path, '.orchestrator', 'orchestrator.db'));
  const bus = new EventBus();
  const writer = new MessageWriter(store, { flushIntervalMs: 20 });
  const sessions = new AbortController();
  const running = new Set<Promise<unknown>>();
  const dashboard = await startDashboard({
    store,
    bus,
    controls: {
      // As `orchestrator start` does (src/cli/commands/dashboard.ts): a session of this process is interrupted in-process.
      stopRun: async (run) => {
        if (await stopLocalSession(store, run.id)) return 'stopping';
        void stopRun(store, run, { graceMs: 3000 });
        return 'stopping';
      },
    },
    host: '127.0.0.1',
    port: 0,
    token: null,
    staticDir: options.staticDir ?? null,
    repoRoot: repo.path,
    version: 'test',
  });
  return {
    repo,
    config,
    store,
    bus,
    writer,
    dashboard,
    startRun(agentName, prompt) {
      const agent = parseAgentDefinition(DEFAULT_AGENTS[agentName]!, `.claude/agents/${agentName}.md`);
      let resolveId: (id: RunId) => void = () => {};
      const runId = new Promise<RunId>((resolve) => {
        resolveId = resolve;
      });
      const done = runAgent({
        store,
        bus,
        messages: writer,
        cliPath: cliPath(),
        agent,
        prompt,
        cwd: repo.path,
        env: { ...config.sessionEnv },
        toolPermission: createToolPolicy({ root: repo.path, tools: agent.tools }),
        idleTimeoutMs: 120_000,
        stopGraceMs: 3000,
        onRunCreated: resolveId,
        signal: sessions.signal,
      });
      const settled = done.catch(() => undefined);
      running.add(settled);
      void settled.then(() => running.delete(settled));
      return { runId, done };
    },
    async close() {
      // A test that failed half-way may leave a session running: stop it before closing what it writes to.
      sessions.abort();
      await Promise.all(running);
      await dashboard.close();
      await writer.close();
      await store.close();
      await repo[Symbol.asyncDispose]();
    },
  };
}
