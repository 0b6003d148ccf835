import type { ToolPolicy } from './permissions.js';

export const Role = {
  architect: 'architect',
  codeDeveloper: 'code-developer',
  codeReviewer: 'code-reviewer',
  projectManager: 'project-manager',
  bugFixer: 'bug-fixer',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Read-only git subcommands a reviewer may run. */
const READ_ONLY_GIT = /^git\s+(--no-pager\s+)?(diff|log|show|status|blame|grep|ls-files|rev-parse|merge-base|shortlog|describe|cat-file)\b/;
/** Read-only shell tools a reviewer may run (no redirections; checked per segment of a compound command). */
const READ_ONLY_TOOLS = /^(ls|cat|head|tail|wc|grep|rg|find|tree|diff|echo|pwd|stat|file|sort|uniq|cut|jq)\b/;
const BRANCH_SWITCH = /\bgit\s+(switch\b|checkout\s+-[bB]\b|checkout\s+(?!--)[^-\s]\S*\s*$|branch\s+-[mM]\b|rebase\s+-i\b)/;

/** Splits `a && b | c; d` into its commands; a command with output redirection counts as writing. */
export function commandSegments(command: string): string[] {
  return command
    .split(/&&|\|\||;|\||\n/)
    .map((segment) => segment.trim())
    .filter((segment) => segment.length > 0);
}

function isReadOnlyOrTest(command: string, testCommand: string | null): boolean {
  if (/(^|[^0-9&])>{1,2}(?!&)\s*(?!\/dev\/null)/.test(command.replace(/2>&1/g, ''))) return false;
  return commandSegments(command).every((segment) => {
    if (testCommand && segment === testCommand.trim()) return true;
    if (/^(npm (run )?test|npx vitest run|node --test|pytest|go test|cargo test)\b/.test(segment)) return true;
    if (/^find\b/.test(segment) && /-(delete|exec|execdir|fprint)/.test(segment)) return false;
    return READ_ONLY_GIT.test(segment) || READ_ONLY_TOOLS.test(segment) || /^cd\s/.test(segment);
  });
}

export interface RolePolicyContext {
  root: string;
  tools: readonly string[] | null;
  specPath?: string | null;
  reviewPath?: string | null;
  roadmapPath?: string | null;
  testCommand?: string | null;
}

/**
 * What each role may do, enforced on every tool call (a PreToolUse hook): the architect writes only its spec,
 * the reviewer only its review file and runs only read-only commands and tests, the project manager edits only
 * the roadmap, developers edit anything inside their own worktree but never switch branches or publish.
 */
export function rolePolicy(role: string, context: RolePolicyContext): ToolPolicy {
  const base = { root: context.root, tools: context.tools };
  switch (role) {
    case Role.architect:
      return { ...base, canWrite: (rel) => rel === context.specPath, writeScope: context.specPath ?? 'its spec file', canRunBash: () => false, bashScope: 'no commands' };
    case Role.codeReviewer:
      return {
        ...base,
        canWrite: (rel) => rel === context.reviewPath,
        writeScope: context.reviewPath ?? 'its review file',
        canRunBash: (command) => isReadOnlyOrTest(command, context.testCommand ?? null),
        bashScope: 'read-only git and shell commands and the tests',
      };
    case Role.projectManager:
      return { ...base, canWrite: (rel) => rel === context.roadmapPath, writeScope: context.roadmapPath ?? 'the roadmap', canRunBash: () => false, bashScope: 'no commands' };
    case Role.codeDeveloper:
    case Role.bugFixer:
      return { ...base, canRunBash: (command) => !BRANCH_SWITCH.test(command), bashScope: 'commands that stay on its own branch' };
    default:
      return base;
  }
}
