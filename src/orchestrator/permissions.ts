import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { JsonObject } from '../events/index.js';
import type { ToolPermissionDecision, ToolPermissionRequest } from '../runtime/index.js';
import { SESSION_TOOL_PREFIX } from './session-tools/index.js';

/** Tools that write files, and the input field holding the path. */
const WRITE_TOOLS: Record<string, string> = { Write: 'file_path', Edit: 'file_path', MultiEdit: 'file_path', NotebookEdit: 'notebook_path' };
/** Tools that read files or list them, and their path field (optional for Glob/Grep: default is the cwd). */
const READ_TOOLS: Record<string, string> = { Read: 'file_path', Glob: 'path', Grep: 'path', LS: 'path' };

export interface ToolPolicy {
  /** Root every file path must stay inside (the run's worktree). */
  root: string;
  /** Tool names the role may call at all. null: any tool the CLI offers. */
  tools: readonly string[] | null;
  /** Given a path relative to root, may the role write it? Default: anything inside root. */
  canWrite?: (relativePath: string) => boolean;
  /** Describes what canWrite allows, for denial messages ("only docs/specs/"). */
  writeScope?: string;
  /** May the role run this Bash command? Default: yes, except the globally forbidden ones. */
  canRunBash?: (command: string) => boolean;
  bashScope?: string;
}

/** Commands no agent runs: publishing work or escalating privileges is the orchestrator's (or the user's) job. */
const FORBIDDEN_BASH: readonly RegExp[] = [/\bgit\s+push\b/, /\bgit\s+remote\s+(add|set-url)\b/, /\bsudo\b/, /\bgit\s+worktree\s+remove\b/, /\bgit\s+branch\s+-D\b/];

/** Resolves a path the way the OS will (symlinks of existing ancestors included) and tells if it is inside root. */
export function isInside(root: string, path: string): boolean {
  return isInsideReal(realpathOrSelf(root), isAbsolute(path) ? path : resolve(root, path));
}

function isInsideReal(realRoot: string, absolutePath: string): boolean {
  const rel = relative(realRoot, realpathOfExistingAncestor(absolutePath));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function realpathOfExistingAncestor(path: string): string {
  let current = resolve(path);
  const rest: string[] = [];
  for (;;) {
    try {
      return resolve(realpathSync(current), ...rest.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return resolve(path);
      rest.push(current.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
      current = parent;
    }
  }
}

/**
 * Builds the per-tool-call permission decision for a role: the tool must be one of the role's, every file
 * path must stay inside the worktree (and inside the role's writable scope for writes), and Bash commands
 * must pass the role's filter. Denials carry a message the model sees and the run records.
 * Note: Bash is checked by its text, not sandboxed; the worktree and process group are the real boundary.
 */
export function createToolPolicy(policy: ToolPolicy): (request: ToolPermissionRequest) => ToolPermissionDecision {
  // Resolved once: the root does not move during a session, and realpath costs a syscall per path segment.
  const realRoot = realpathOrSelf(policy.root);
  const inside = (path: string) => isInsideReal(realRoot, isAbsolute(path) ? path : resolve(policy.root, path));
  return (request) => {
    const { toolName, input } = request;
    // The orchestrator's own tools are every session's, whatever its agent file lists; each acts only as the session.
    if (policy.tools !== null && !policy.tools.includes(toolName) && !toolName.startsWith(SESSION_TOOL_PREFIX)) {
      return deny(`${toolName} is not among this role's tools (${policy.tools.join(', ')})`);
    }
    const writeField = WRITE_TOOLS[toolName];
    if (writeField) {
      const path = stringField(input, writeField);
      if (!path) return deny(`${toolName} without a ${writeField}`);
      if (!inside(path)) return deny(`${path} is outside the run's worktree ${policy.root}`);
      const rel = relative(realRoot, realpathOfExistingAncestor(isAbsolute(path) ? path : resolve(policy.root, path)));
      if (policy.canWrite && !policy.canWrite(rel)) return deny(`this role may write only ${policy.writeScope ?? 'its deliverable'}, not ${rel}`);
      return { behavior: 'allow' };
    }
    const readField = READ_TOOLS[toolName];
    if (readField) {
      const path = stringField(input, readField);
      if (path && !inside(path)) return deny(`${path} is outside the run's worktree ${policy.root}`);
      return { behavior: 'allow' };
    }
    if (toolName === 'Bash') {
      const command = stringField(input, 'command') ?? '';
      const forbidden = FORBIDDEN_BASH.find((pattern) => pattern.test(command));
      if (forbidden) return deny(`the command is not allowed for agents (${forbidden.source}); the orchestrator merges and publishes`);
      if (policy.canRunBash && !policy.canRunBash(command)) return deny(`this role may run only ${policy.bashScope ?? 'some commands'}`);
      return { behavior: 'allow' };
    }
    return { behavior: 'allow' };
  };
}

function stringField(input: JsonObject, field: string): string | null {
  const value = input[field];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function deny(message: string): ToolPermissionDecision {
  return { behavior: 'deny', message: `Permission denied by the orchestrator: ${message}` };
}
