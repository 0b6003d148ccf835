import { readFile, readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { AgentDefinitionError } from '../lib/errors.js';
import { parseAgentDefinition, readAgentFile, type AgentDefinition, type AgentNote } from './definitions.js';
import { DEFAULT_AGENTS } from './templates.js';

/** Where an agent came from, in Claude Code's order of precedence (the project's wins over the user's). */
export const AgentScope = { project: 'project', user: 'user', builtIn: 'built-in' } as const;
export type AgentScope = (typeof AgentScope)[keyof typeof AgentScope];

export interface ResolvedAgent {
  definition: AgentDefinition;
  scope: AgentScope;
}

/** Something `doctor` reports about one file: skipped, read leniently, overridden, or a field ignored. */
export interface RegistryNote extends AgentNote {
  file: string;
}

export interface AgentRegistryProblem {
  /** The agent the problem breaks, when its name could be read. */
  name: string | null;
  error: AgentDefinitionError;
}

export interface LoadAgentRegistryOptions {
  /** The project's agents folder (`<repo>/.claude/agents`, or the config's `agentsDir`). */
  projectDir: string;
  /** The user's agents folder (`~/.claude/agents`); null to look only in the project. */
  userDir: string | null;
}

type AgentsByScope = Record<'project' | 'user', Map<string, AgentDefinition>>;

/** Claude Code skips agent files over 1 MiB. */
const MAX_AGENT_FILE_BYTES = 1024 * 1024;

/**
 * The user-level agents folder as Claude Code finds it: `$CLAUDE_CONFIG_DIR/agents`, else `~/.claude/agents`
 * (HOME, as `os.homedir()` reads it). `env` is the environment sessions get, so both agree.
 */
export function userAgentsDir(env: Readonly<Record<string, string | undefined>>): string {
  if (env.CLAUDE_CONFIG_DIR) return join(env.CLAUDE_CONFIG_DIR, 'agents');
  return join(env.HOME || homedir(), '.claude', 'agents');
}

/**
 * Claude Code's comparison for an agent name that matches no agent exactly: case, white space, "-" and "_"
 * ignored (`Code_Developer` finds `code-developer` when only one agent normalizes that way).
 */
export function normalizeAgentName(name: string): string {
  return name.normalize('NFKC').toLowerCase().replace(/[\p{White_Space}\p{Pd}_]+/gu, '');
}

/**
 * Every agent of a project and of its user, read once. Lookup is Claude Code's: by the `name` field, the
 * project's agents before the user's, then by normalized name; the five roles fall back to the built-in
 * default agents (src/agents/templates.ts) when neither has them.
 */
export class AgentRegistry {
  readonly #byScope: AgentsByScope;
  readonly notes: readonly RegistryNote[];
  readonly problems: readonly AgentRegistryProblem[];
  readonly dirs: Readonly<LoadAgentRegistryOptions>;

  private constructor(dirs: LoadAgentRegistryOptions, byScope: AgentsByScope, notes: RegistryNote[], problems: AgentRegistryProblem[]) {
    this.dirs = dirs;
    this.#byScope = byScope;
    this.notes = notes;
    this.problems = problems;
  }

  static async load(options: LoadAgentRegistryOptions): Promise<AgentRegistry> {
    const notes: RegistryNote[] = [];
    const problems: AgentRegistryProblem[] = [];
    const project = await loadDir(options.projectDir, notes, problems);
    const sameDir = options.userDir !== null && resolve(options.userDir) === resolve(options.projectDir);
    const user = options.userDir === null || sameDir ? new Map<string, AgentDefinition>() : await loadDir(options.userDir, notes, problems);
    for (const [name, definition] of user) {
      const shadow = project.get(name);
      if (shadow) notes.push({ file: definition.file, level: 'info', message: `not used: the project's ${shadow.file} is also named "${name}" and wins, as in Claude Code` });
    }
    return new AgentRegistry(options, { project, user }, notes, problems);
  }

  /** The agents that lookups can return, project's first, each name once. */
  agents(): ResolvedAgent[] {
    const out: ResolvedAgent[] = [...this.#byScope.project.values()].map((definition) => ({ definition, scope: AgentScope.project }));
    for (const [name, definition] of this.#byScope.user) if (!this.#byScope.project.has(name)) out.push({ definition, scope: AgentScope.user });
    return out.sort((a, b) => a.definition.name.localeCompare(b.definition.name));
  }

  /** The user's agent named `name` (exact, then normalized), or null; a problem with that agent is thrown. */
  find(name: string): ResolvedAgent | null {
    for (const scope of [AgentScope.project, AgentScope.user] as const) {
      this.#throwProblemOf(name, scope);
      const definition = this.#byScope[scope].get(name);
      if (definition) return { definition, scope };
    }
    const wanted = normalizeAgentName(name);
    const similar = this.agents().filter((agent) => normalizeAgentName(agent.definition.name) === wanted);
    if (similar.length > 1) {
      throw new AgentDefinitionError(similar[0]!.definition.file, `agent "${name}" is ambiguous: ${similar.map((agent) => `"${agent.definition.name}" (${agent.definition.file})`).join(' and ')} both match it`, {
        hint: `Name one of them exactly ${name}.`,
      });
    }
    return similar[0] ?? null;
  }

  /** The agent for `name`: the user's, else the built-in default for a role; otherwise an error listing what exists. */
  resolve(name: string): ResolvedAgent {
    const found = this.find(name);
    if (found) return found;
    const template = DEFAULT_AGENTS[name];
    if (template !== undefined) return { definition: parseAgentDefinition(template, `built-in:${name}`), scope: AgentScope.builtIn };
    const present = this.agents().map((agent) => agent.definition.name);
    throw new AgentDefinitionError(join(this.dirs.projectDir, `${name}.md`), `agent "${name}" not found`, {
      hint: `Create an agent file with name: ${name} in ${this.dirs.projectDir} (front matter name/description/tools/model, then instructions), or run \`orchestrator init\` to write the default agents.${present.length > 0 ? ` Agents present: ${present.join(', ')}.` : ''}`,
    });
  }

  /** The roles of `roles` that no agent file provides (they use the built-in default). */
  rolesUsingDefaults(roles: readonly string[]): string[] {
    return roles.filter((role) => this.resolve(role).scope === AgentScope.builtIn);
  }

  #throwProblemOf(name: string, scope: 'project' | 'user'): void {
    const dir = scope === AgentScope.project ? this.dirs.projectDir : this.dirs.userDir;
    if (dir === null) return;
    const wanted = normalizeAgentName(name);
    const found = this.problems.find((problem) => problem.name !== null && normalizeAgentName(problem.name) === wanted && isInside(problem.error.file, dir));
    if (found) throw found.error;
  }
}

async function loadDir(dir: string, notes: RegistryNote[], problems: AgentRegistryProblem[]): Promise<Map<string, AgentDefinition>> {
  const agents = new Map<string, AgentDefinition>();
  for (const file of await markdownFiles(dir)) {
    const size = (await stat(file)).size;
    if (size > MAX_AGENT_FILE_BYTES) {
      notes.push({ file, level: 'warning', message: `skipped: ${size} bytes is over Claude Code's 1 MiB limit for an agent file` });
      continue;
    }
    const read = readAgentFile(await readFile(file, 'utf8'), file);
    switch (read.kind) {
      case 'skipped':
        notes.push({ file, level: 'info', message: `skipped: ${read.reason}` });
        break;
      case 'problem':
        problems.push({ name: read.name, error: read.error });
        break;
      case 'agent': {
        const { definition } = read;
        const earlier = agents.get(definition.name);
        if (earlier) {
          problems.push({
            name: definition.name,
            error: new AgentDefinitionError(earlier.file, `agent name "${definition.name}" is also used by ${definition.file}`, {
              hint: 'Claude Code would pick one of them arbitrarily. Rename the name: field of one file, or delete it.',
            }),
          });
          break;
        }
        agents.set(definition.name, definition);
        for (const note of definition.notes) notes.push({ file, ...note });
        break;
      }
    }
  }
  return agents;
}

/** Every `*.md` under `dir`, subfolders included (Claude Code searches them too), in a stable order. */
async function markdownFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [] as string[];
    throw error;
  });
  const files: string[] = [];
  for (const entry of entries.filter((name) => name.endsWith('.md')).sort()) {
    const path = join(dir, entry);
    if ((await stat(path).catch(() => null))?.isFile()) files.push(path);
  }
  return files;
}

function isInside(file: string, dir: string): boolean {
  const path = relative(resolve(dir), resolve(file));
  return path !== '' && !path.startsWith('..');
}
