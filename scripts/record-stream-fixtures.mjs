#!/usr/bin/env node
// Records test/fixtures/streams/*.jsonl from the REAL Claude Code CLI running against the scripted model.
// Usage: npm run build && node scripts/record-stream-fixtures.mjs
// Each fixture gets a .meta.json with the exact command line, CLI version and scenario that produced it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScriptedModelServer } from '../dist/scripted-model/index.js';
import { buildCliArgs, locateClaudeCli, runClaudeSession } from '../dist/runtime/index.js';
import { StoppedError } from '../dist/lib/errors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'test/fixtures/streams');
mkdirSync(outDir, { recursive: true });
const cliPath = locateClaudeCli({ claudeBin: process.env.CLAUDE_BIN, pathEnv: process.env.PATH });
const cliVersion = execFileSync(cliPath, ['--version'], { encoding: 'utf8' }).trim();

const fixtures = [
  {
    name: 'multi-tool-success',
    prompt: 'Create notes.txt, show it, and fix the typo.',
    permission: true,
    turns: [
      { text: 'Creating the file.', tools: [{ name: 'Write', input: { file_path: '{{cwd}}/notes.txt', content: 'alpha\nbeta\n' } }], usage: { input_tokens: 1000, output_tokens: 50 } },
      { tools: [{ name: 'Bash', input: { command: 'cat notes.txt && git status --short', description: 'Show the file' } }], usage: { input_tokens: 1100, output_tokens: 30 } },
      { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/notes.txt' } }], usage: { input_tokens: 1200, output_tokens: 20 } },
      { tools: [{ name: 'Edit', input: { file_path: '{{cwd}}/notes.txt', old_string: 'beta', new_string: 'gamma' } }], usage: { input_tokens: 1300, output_tokens: 40 } },
      { text: 'COMPLETE: notes.txt written and fixed', usage: { input_tokens: 1400, output_tokens: 25, cache_read_input_tokens: 500 } },
    ],
  },
  {
    name: 'permission-denied',
    prompt: 'Write a file outside the working directory.',
    permission: true,
    deny: (req) => req.toolName === 'Write' && !String(req.input.file_path).startsWith(req.cwd),
    turns: [
      { tools: [{ name: 'Write', input: { file_path: '/tmp/orchestrator-fixture-outside.txt', content: 'x' } }] },
      { text: 'The write was denied.' },
    ],
  },
  {
    name: 'api-error-529',
    prompt: 'Say hello.',
    env: { CLAUDE_CODE_MAX_RETRIES: '1' },
    turns: [
      { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } },
      { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } },
    ],
  },
  {
    name: 'api-error-400',
    prompt: 'Say hello.',
    turns: [{ error: { status: 400, type: 'invalid_request_error', message: 'messages: bad thing' } }],
  },
  {
    name: 'interrupted',
    prompt: 'Write a long story.',
    interruptAfterMs: 1500,
    turns: [{ text: 'Once upon a time '.repeat(60), chunkDelayMs: 40 }],
  },
];

for (const fixture of fixtures) {
  const cwd = mkdtempSync(join(tmpdir(), 'orch-fixture-'));
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd });
  const server = new ScriptedModelServer({ scenarios: [{ name: fixture.name, turns: fixture.turns }] });
  const url = await server.start();
  const lines = [];
  const controller = new AbortController();
  const options = {
    runId: `fixture-${fixture.name}`,
    cliPath,
    cwd,
    prompt: fixture.prompt,
    appendSystemPrompt: 'You are a fixture recorder.',
    tools: ['Read', 'Write', 'Edit', 'Bash'],
    allowedTools: ['Read', 'Write', 'Edit', 'Bash'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: 'sk-fixture', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', ...(fixture.env ?? {}) },
    onStdoutLine: (line) => lines.push(line),
    signal: controller.signal,
    ...(fixture.permission
      ? { toolPermission: (req) => (fixture.deny?.({ ...req, cwd }) ? { behavior: 'deny', message: 'outside the worktree' } : { behavior: 'allow' }) }
      : {}),
  };
  if (fixture.interruptAfterMs) setTimeout(() => controller.abort(new StoppedError('fixture interrupt')), fixture.interruptAfterMs);
  const result = await runClaudeSession(options);
  await server.close();
  // Paths differ per machine: keep the recorded lines byte-for-byte except the temp dir, which becomes /WORKDIR.
  const text = lines.map((line) => line.split(cwd).join('/WORKDIR')).join('\n') + '\n';
  writeFileSync(join(outDir, `${fixture.name}.jsonl`), text);
  writeFileSync(
    join(outDir, `${fixture.name}.meta.json`),
    `${JSON.stringify(
      {
        recordedWith: 'node scripts/record-stream-fixtures.mjs',
        cliVersion,
        command: [cliPath.replace(root, '.'), ...buildCliArgs(options)].join(' '),
        prompt: fixture.prompt,
        scenario: fixture.turns,
        outcome: result.outcome,
        exitCode: result.exitCode,
        note: 'stdout of the real CLI; the temporary working directory is replaced by /WORKDIR',
      },
      null,
      2,
    )}\n`,
  );
  rmSync(cwd, { recursive: true, force: true });
  console.log(`${fixture.name}: ${lines.length} lines, outcome ${result.outcome}, exit ${result.exitCode}`);
}
