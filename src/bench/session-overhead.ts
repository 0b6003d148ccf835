import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_AGENTS, parseAgentDefinition } from '../agents/index.js';
import { EventBus } from '../events/index.js';
import { createToolPolicy, runAgent } from '../orchestrator/index.js';
import { ScriptedModelServer, type ScenarioInput } from '../scripted-model/index.js';
import { MessageWriter, SqliteStore } from '../store/index.js';

const SCENARIO: ScenarioInput = {
  name: 'bench',
  turns: [
    { text: 'Writing.', tools: [{ name: 'Write', input: { file_path: '{{cwd}}/notes.txt', content: 'alpha\nbeta\n' } }], usage: { input_tokens: 1000, output_tokens: 40 } },
    { tools: [{ name: 'Bash', input: { command: 'wc -l notes.txt', description: 'count' } }], usage: { input_tokens: 1100, output_tokens: 30 } },
    { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/notes.txt' } }], usage: { input_tokens: 1200, output_tokens: 20 } },
    { text: 'COMPLETE', usage: { input_tokens: 1300, output_tokens: 10 } },
  ],
};

export interface OverheadFigures {
  rounds: number;
  bareMedianMs: number;
  orchestratedMedianMs: number;
  ratio: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * The same 4-turn scenario (Write, Bash, Read, text) run by the bare CLI command and by `runAgent` (control
 * channel, PreToolUse permission hook on every call, recording to SQLite), alternating, median of each.
 */
export async function benchmarkSessionOverhead(options: { cliPath: string; rounds: number; env: Record<string, string> }): Promise<OverheadFigures> {
  const model = new ScriptedModelServer();
  const url = await model.start();
  const dir = await mkdtemp(join(tmpdir(), 'orch-bench-session-'));
  const env = { ...options.env, ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: 'sk-bench', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
  const agent = parseAgentDefinition(DEFAULT_AGENTS['code-developer']!, 'code-developer.md');
  const store = SqliteStore.open(join(dir, 'bench.db'));
  const writer = new MessageWriter(store);
  const bus = new EventBus();
  const bare: number[] = [];
  const orchestrated: number[] = [];
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const kind of round % 2 === 0 ? (['bare', 'orchestrated'] as const) : (['orchestrated', 'bare'] as const)) {
        model.reset([SCENARIO]);
        const cwd = join(dir, `${kind}-${round}`);
        execFileSync('git', ['init', '-q', '-b', 'main', cwd]);
        const started = performance.now();
        if (kind === 'bare') {
          await new Promise<void>((resolve, reject) => {
            const child = spawn(
              options.cliPath,
              ['-p', 'Write notes.txt, count it, read it', '--output-format', 'stream-json', '--verbose', '--tools', (agent.tools ?? []).join(','), '--allowedTools', (agent.tools ?? []).join(','), '--append-system-prompt', agent.instructions],
              { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
            );
            child.stdout.resume();
            child.stderr.resume();
            child.on('error', reject);
            child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`bare CLI exited ${String(code)}`))));
          });
          bare.push(performance.now() - started);
        } else {
          const { run } = await runAgent({
            store,
            bus,
            messages: writer,
            cliPath: options.cliPath,
            agent,
            prompt: 'Write notes.txt, count it, read it',
            cwd,
            env,
            toolPermission: createToolPolicy({ root: cwd, tools: agent.tools }),
          });
          if (run.status !== 'succeeded') throw new Error(`orchestrated run ${run.status}: ${run.errorMessage ?? ''}`);
          orchestrated.push(performance.now() - started);
        }
      }
    }
  } finally {
    await writer.close();
    await store.close();
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
  const bareMedianMs = median(bare);
  const orchestratedMedianMs = median(orchestrated);
  return { rounds: options.rounds, bareMedianMs, orchestratedMedianMs, ratio: orchestratedMedianMs / bareMedianMs };
}
