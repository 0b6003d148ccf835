import { relative } from 'node:path';
import { AgentScope, type AgentRegistry } from '../../agents/index.js';
import type { ResolvedConfig } from '../../config/index.js';
import { errorMessage } from '../../lib/errors.js';
import { Role, loadAgentRegistry } from '../../orchestrator/index.js';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** A warning is shown but does not fail doctor. */
  warning?: boolean;
  detail: string;
  fix?: string;
  /** Shown under the check whatever its outcome: what was skipped, read leniently or defaulted, or each error. */
  lines?: string[];
}

/**
 * The agents check: every agent file of the project and the user read as Claude Code reads it. Errors only for
 * what breaks an agent (two files with one name, front matter that cannot be read); skipped files, lenient
 * reads and roles that use the built-in default are notes.
 */
export async function agentsCheck(config: ResolvedConfig): Promise<DoctorCheck> {
  let registry: AgentRegistry;
  try {
    registry = await loadAgentRegistry(config);
  } catch (error) {
    return { name: 'agents', ok: false, detail: errorMessage(error), fix: 'Make the agents folder readable.' };
  }
  const show = (file: string): string => (file.startsWith(`${config.repoRoot}/`) ? relative(config.repoRoot, file) : file);
  const lines: string[] = [];
  for (const problem of registry.problems) {
    lines.push(`error: ${show(problem.error.file)}: ${problem.error.message.slice(problem.error.file.length + 2).replaceAll(`${config.repoRoot}/`, '')}`);
    if (problem.error.hint) lines.push(`  fix: ${problem.error.hint}`);
  }
  const roles: string[] = [];
  const defaulted: string[] = [];
  for (const role of Object.values(Role)) {
    try {
      const resolved = registry.resolve(role);
      if (resolved.scope === AgentScope.builtIn) defaulted.push(role);
      const named = resolved.definition.name === role ? '' : `, named "${resolved.definition.name}"`;
      roles.push(resolved.scope === AgentScope.builtIn ? `${role} (built-in)` : `${role} (${show(resolved.definition.file)}${named})`);
    } catch {
      roles.push(`${role} (broken, see below)`);
    }
  }
  for (const note of registry.notes) {
    lines.push(`${note.level === 'warning' ? 'warning' : 'note'}: ${show(note.file)}: ${note.message}`);
    if (note.level === 'warning' && note.fix) lines.push(`  fix: ${note.fix}`);
  }
  if (defaulted.length > 0) {
    lines.push(`note: no agent file for ${defaulted.join(', ')}: the built-in default is used (\`orchestrator init\` writes it to ${config.agentsDir}/ to edit)`);
  }
  const others = registry.agents().filter((agent) => !(Object.values(Role) as string[]).includes(agent.definition.name)).length;
  const problems = registry.problems.length;
  return {
    name: 'agents',
    ok: problems === 0,
    warning: registry.notes.some((note) => note.level === 'warning'),
    detail: `${problems > 0 ? `${problems} problem(s); ` : ''}${roles.join(', ')}${others > 0 ? `; ${others} other agent(s)` : ''}`,
    ...(problems > 0 ? { fix: 'Fix each file named above.' } : {}),
    lines,
  };
}
