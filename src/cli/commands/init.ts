import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { AGENT_NAMES, AgentRegistry, DEFAULT_AGENTS, userAgentsDir } from '../../agents/index.js';
import { CONFIG_FILE_NAME, configSchema } from '../../config/index.js';
import { NotAGitRepoError } from '../../lib/errors.js';
import { painter } from '../format.js';
import { commandForHints } from '../invocation.js';

export const ROADMAP_TEMPLATE = `# Roadmap

Each priority is a heading \`### PRIORITY <n>: <title>\` with a **Status** line. The orchestrator takes the
📝 Planned ones in order: the architect writes a spec, a developer implements it in its own worktree, a reviewer
reviews it, it is merged, and the project manager marks it ✅ Complete.
Statuses: 📝 Planned, 🔄 In Progress, ✅ Complete, ⏸️ Blocked, 🚧 Manual Review Required; anything after the
status (a date, a note) is kept. \`orchestrator plan\` shows what \`start\` will do with this file.
Dependencies: a line \`**Depends on**: PRIORITY 1\` under a priority.

### PRIORITY 1: Describe the first thing to build
**Status**: 📝 Planned

What it should do, for whom, and how we will know it works.
`;

const GITIGNORE_ENTRIES = ['.orchestrator/'];

/** `orchestrator init`: lean agents, a roadmap template, a validated config and .gitignore entries. */
export async function initCommand(options: { cwd?: string; force?: boolean }): Promise<number> {
  const root = resolve(options.cwd ?? process.cwd());
  if (!existsSync(join(root, '.git'))) throw new NotAGitRepoError(root);
  const out = process.stdout;
  const paint = painter(out);
  const testCommand = await detectTestCommand(root);
  const config = { testCommand: testCommand ?? undefined, concurrency: { maxRuns: 4, perRole: { 'code-developer': 3 } }, review: { maxRounds: 3 } };
  configSchema.parse(config); // the file we write must be valid
  const files: Record<string, string> = {
    [CONFIG_FILE_NAME]: `${JSON.stringify(config, null, 2)}\n`,
    'docs/roadmap/ROADMAP.md': ROADMAP_TEMPLATE,
  };
  let skipped = 0;
  // An agent the user already has under that name (any file name, project or ~/.claude/agents) is kept: a
  // second file with the same name would be a duplicate, and the user's own agent is the one they want.
  const existing = await AgentRegistry.load({ projectDir: join(root, '.claude', 'agents'), userDir: userAgentsDir(process.env) });
  const shown = (file: string) => (relative(root, file).startsWith('..') ? file : relative(root, file));
  for (const name of AGENT_NAMES) {
    let ownFile: string | null;
    try {
      ownFile = existing.find(name)?.definition.file ?? null;
    } catch (error) {
      ownFile = (error as { file?: string }).file ?? null; // a broken agent of that name: `doctor` explains it
    }
    if (ownFile !== null && ownFile !== join(root, '.claude', 'agents', `${name}.md`)) {
      out.write(`${paint.yellow('keep')}    your ${name} agent: ${shown(ownFile)}\n`);
      skipped += 1;
      continue;
    }
    files[`.claude/agents/${name}.md`] = DEFAULT_AGENTS[name] ?? '';
  }
  for (const [path, content] of Object.entries(files)) {
    const target = join(root, path);
    const exists = existsSync(target);
    if (exists && !options.force) {
      out.write(`${paint.yellow('skip')}    ${path} (exists; --force to overwrite)\n`);
      skipped += 1;
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
    out.write(`${paint.green(exists ? 'replace' : 'create')}  ${path}\n`);
  }
  const gitignore = join(root, '.gitignore');
  const current = existsSync(gitignore) ? await readFile(gitignore, 'utf8') : '';
  const missing = GITIGNORE_ENTRIES.filter((entry) => !current.split(/\r?\n/).some((line) => line.trim() === entry));
  if (missing.length > 0) {
    await writeFile(gitignore, `${current}${current && !current.endsWith('\n') ? '\n' : ''}# orchestrator runtime data (database, worktrees, logs)\n${missing.join('\n')}\n`);
    out.write(`${paint.green('update')}  .gitignore (${missing.join(', ')})\n`);
  }
  out.write(`\nNext: edit ${relative(process.cwd(), join(root, 'docs/roadmap/ROADMAP.md')) || 'docs/roadmap/ROADMAP.md'}, commit, then run \`${commandForHints(process.argv, process.env, process.cwd())} start\`.\n`);
  if (skipped > 0) out.write(paint.dim(`${skipped} existing file(s) kept.\n`));
  return 0;
}

async function detectTestCommand(root: string): Promise<string | null> {
  try {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    if (pkg.scripts?.test) return 'npm test';
  } catch {
    // not a Node project
  }
  if (existsSync(join(root, 'pyproject.toml')) || existsSync(join(root, 'pytest.ini'))) return 'pytest';
  if (existsSync(join(root, 'go.mod'))) return 'go test ./...';
  if (existsSync(join(root, 'Cargo.toml'))) return 'cargo test';
  return null;
}
