import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_AGENTS } from '../agents/index.js';

const git = promisify(execFile);

export const SAMPLE_ROADMAP = `# Roadmap: text-utils

A tiny library of text helpers, built by the agent team.

### PRIORITY 1: Slugify helper
**Status**: 📝 Planned

Add \`slugify(text)\` in \`src/slugify.js\`: lowercase, ASCII letters and digits, words joined by "-".

### PRIORITY 2: Word count
**Status**: 📝 Planned

Add \`wordCount(text)\` in \`src/word-count.js\`: the number of whitespace-separated words.

### PRIORITY 3: Title case
**Status**: 📝 Planned

Add \`titleCase(text)\` in \`src/title-case.js\`: capitalise the first letter of every word.
`;

/** The demo's orchestrator.config.json. */
export const SAMPLE_CONFIG: Readonly<Record<string, unknown>> = { testCommand: 'node --test', concurrency: { maxRuns: 3, perRole: { 'code-developer': 3 } }, retries: { baseDelayMs: 500 } };

const FILES: Record<string, string> = {
  'package.json': `${JSON.stringify({ name: 'text-utils', version: '0.1.0', private: true, type: 'module', scripts: { test: 'node --test' } }, null, 2)}\n`,
  'README.md': '# text-utils\n\nSmall text helpers. Run the tests with `npm test`.\n',
  'src/index.js': "export const VERSION = '0.1.0';\n",
  'test/index.test.js': "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { VERSION } from '../src/index.js';\n\ntest('has a version', () => assert.equal(VERSION, '0.1.0'));\n",
  '.gitignore': 'node_modules/\n.orchestrator/\n',
};

/**
 * Creates the demo's sample repository: a small Node project with a roadmap and the default agents, committed.
 * The benchmark passes its own roadmap and config (default: the demo's three priorities and SAMPLE_CONFIG).
 */
export async function createSampleRepo(dir: string, options: { roadmap?: string; config?: Readonly<Record<string, unknown>> } = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {
    ...FILES,
    'orchestrator.config.json': `${JSON.stringify(options.config ?? SAMPLE_CONFIG, null, 2)}\n`,
    'docs/roadmap/ROADMAP.md': options.roadmap ?? SAMPLE_ROADMAP,
  };
  for (const [name, text] of Object.entries(DEFAULT_AGENTS)) files[`.claude/agents/${name}.md`] = text;
  for (const [path, content] of Object.entries(files)) {
    const target = join(dir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  const run = (args: string[]) => git('git', args, { cwd: dir });
  await run(['init', '-q', '-b', 'main']);
  await run(['config', 'user.name', 'Orchestrator Demo']);
  await run(['config', 'user.email', 'demo@orchestrator.invalid']);
  await run(['config', 'commit.gpgsign', 'false']);
  await run(['add', '-A']);
  await run(['commit', '-q', '-m', 'Initial commit: text-utils with a roadmap']);
}
