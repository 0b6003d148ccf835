import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { ClaudeCliNotFoundError } from '../lib/errors.js';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the Claude Code CLI: `CLAUDE_BIN` if set, else the native binary of the @anthropic-ai/claude-code
 * dependency (the platform package, which works even when the wrapper's postinstall did not run: notes §5),
 * else its `bin/claude.exe`, else `claude` on PATH. Throws ClaudeCliNotFoundError listing what was tried.
 */
export function locateClaudeCli(options: { claudeBin?: string | undefined; pathEnv?: string | undefined } = {}): string {
  const searched: string[] = [];
  if (options.claudeBin) {
    if (isExecutable(options.claudeBin)) return options.claudeBin;
    throw new ClaudeCliNotFoundError([`CLAUDE_BIN=${options.claudeBin} (not an executable file)`]);
  }
  const require = createRequire(import.meta.url);
  const platformPackage = `@anthropic-ai/claude-code-${process.platform}-${process.arch}`;
  try {
    const packageJson = require.resolve(`${platformPackage}/package.json`);
    const binary = join(dirname(packageJson), process.platform === 'win32' ? 'claude.exe' : 'claude');
    searched.push(binary);
    if (isExecutable(binary)) return binary;
  } catch {
    searched.push(platformPackage);
  }
  try {
    const packageJson = require.resolve('@anthropic-ai/claude-code/package.json');
    const wrapper = join(dirname(packageJson), 'bin', 'claude.exe');
    searched.push(wrapper);
    // Without postinstall this is a 500-byte stub that only prints an error (notes §5): skip it then.
    if (isExecutable(wrapper) && statSync(wrapper).size > 1_000_000) return wrapper;
  } catch {
    searched.push('@anthropic-ai/claude-code');
  }
  for (const dir of (options.pathEnv ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'claude');
    if (isExecutable(candidate)) return candidate;
  }
  searched.push('claude on PATH');
  throw new ClaudeCliNotFoundError(searched);
}
