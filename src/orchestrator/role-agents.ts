import { join } from 'node:path';
import { AgentRegistry, AgentScope, userAgentsDir, type AgentDefinition } from '../agents/index.js';
import type { ResolvedConfig } from '../config/index.js';
import { Role } from './role-policies.js';

/** The project's agents folder (config `agentsDir`) and the user's (`~/.claude/agents`, as the sessions' Claude Code finds it). */
export function loadAgentRegistry(config: ResolvedConfig): Promise<AgentRegistry> {
  return AgentRegistry.load({ projectDir: join(config.repoRoot, config.agentsDir), userDir: userAgentsDir(config.sessionEnv) });
}

export interface RoleAgents {
  agents: Map<Role, AgentDefinition>;
  /** Roles no agent file provides: they run the built-in default agent. */
  defaulted: Role[];
}

/** One agent per role: the user's (project, then user level), else the built-in default. A broken role agent throws. */
export function resolveRoleAgents(registry: AgentRegistry): RoleAgents {
  const agents = new Map<Role, AgentDefinition>();
  const defaulted: Role[] = [];
  for (const role of Object.values(Role)) {
    const resolved = registry.resolve(role);
    // Found by a near name (`name: Code_Developer`): runs are still recorded under the role's own name.
    agents.set(role, resolved.definition.name === role ? resolved.definition : { ...resolved.definition, name: role });
    if (resolved.scope === AgentScope.builtIn) defaulted.push(role);
  }
  return { agents, defaulted };
}
