import { basename, delimiter, dirname, relative, resolve } from 'node:path';

/** The npm package name; `npx roadmap-orchestrator …` works wherever the package is installed or published. */
export const PACKAGE_NAME = 'roadmap-orchestrator';
const BIN_NAMES = new Set(['orchestrator', PACKAGE_NAME]);

/**
 * How the user can run this CLI again from `cwd`, for hints printed to the terminal: the bin name when it was
 * started through a bin on PATH, `npx <package>` under npx, else `node <path to main.js>` (from a clone).
 */
export function commandForHints(argv: readonly string[], env: Record<string, string | undefined>, cwd: string): string {
  const script = argv[1];
  if (!script) return 'orchestrator';
  const name = basename(script);
  if (BIN_NAMES.has(name)) {
    if (env.npm_command === 'exec') return `npx ${PACKAGE_NAME}`;
    const onPath = (env.PATH ?? '').split(delimiter).some((dir) => dir.length > 0 && resolve(dir) === dirname(resolve(script)));
    if (onPath) return name;
  }
  const path = relative(cwd, resolve(script));
  return `node ${path.startsWith('..') || path === '' ? resolve(script) : path}`;
}
