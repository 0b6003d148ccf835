import { join } from 'node:path';
import { DEFAULT_AGENTS } from '../../src/agents/index.js';
import { loadConfig } from '../../src/config/index.js';
import { EventBus } from '../../src/events/index.js';
import { Supervisor, type SupervisorReport } from '../../src/orchestrator/index.js';
import type { ScriptedModelServer } from '../../src/scripted-model/index.js';
import { MessageWriter, SqliteStore } from '../../src/store/index.js';
import { cliPath, sessionEnv } from './model.js';
import { tmpRepo, type TmpRepo } from './tmp-repo.js';

export const PACKAGE_JSON = `${JSON.stringify({ name: 'fixture', private: true, type: 'module', scripts: { test: 'node --test' } }, null, 2)}\n`;

/**
 * A committed repository with agents (the default ones, or `agents`: file name in .claude/agents/ → text), a
 * roadmap and a config (test command, fast retries).
 */
export async function pipelineRepo(
  roadmap: string,
  options: { config?: Record<string, unknown>; files?: Record<string, string>; agents?: Record<string, string> } = {},
): Promise<TmpRepo> {
  const files: Record<string, string> = {
    'package.json': PACKAGE_JSON,
    'test/base.test.js': "import { test } from 'node:test';\ntest('base', () => {});\n",
    '.gitignore': '.orchestrator/\n',
    'docs/roadmap/ROADMAP.md': roadmap,
    'orchestrator.config.json': `${JSON.stringify({ testCommand: 'node --test', retries: { baseDelayMs: 100, maxDelayMs: 500 }, ...options.config }, null, 2)}\n`,
    ...options.files,
  };
  const agents = options.agents ?? Object.fromEntries(Object.entries(DEFAULT_AGENTS).map(([name, text]) => [`${name}.md`, text]));
  for (const [name, text] of Object.entries(agents)) files[`.claude/agents/${name}`] = text;
  return tmpRepo({ files });
}

export function roadmapOf(priorities: { number: string; title: string; body?: string; dependsOn?: string }[]): string {
  return `# Roadmap\n\n${priorities
    .map((p) => `### PRIORITY ${p.number}: ${p.title}\n**Status**: 📝 Planned\n${p.dependsOn ? `**Depends on**: PRIORITY ${p.dependsOn}\n` : ''}\n${p.body ?? `Build ${p.title}.`}\n`)
    .join('\n')}`;
}

export interface PipelineRun {
  report: SupervisorReport;
  store: SqliteStore;
  bus: EventBus;
  close(): Promise<void>;
}

/** Runs the supervisor in-process until idle against the scripted model; the store stays open for assertions. */
export async function runPipeline(repo: TmpRepo, model: ScriptedModelServer, options: { signal?: AbortSignal; env?: Record<string, string> } = {}): Promise<PipelineRun> {
  const config = await loadConfig({ repoRoot: repo.path, env: sessionEnv(model, options.env), overrides: {} });
  const store = SqliteStore.open(join(repo.path, '.orchestrator', 'orchestrator.db'));
  const bus = new EventBus((error) => {
    throw error;
  });
  const writer = new MessageWriter(store);
  const supervisor = new Supervisor({ config, store, bus, messages: writer, cliPath: cliPath(), untilIdle: true, signal: options.signal ?? new AbortController().signal, pollIntervalMs: 100 });
  await supervisor.prepare();
  const report = await supervisor.run();
  await writer.close();
  return { report, store, bus, close: () => store.close() };
}

/** Each work item's state, with the reason when it is blocked, so a failed assertion says what went wrong. */
export async function itemStates(store: SqliteStore): Promise<string[]> {
  return (await store.listWorkItems()).map((item) => (item.state === 'blocked' ? `blocked: ${item.blockedReason ?? '?'}` : item.state));
}
