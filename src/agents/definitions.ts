import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { AgentDefinitionError } from '../lib/errors.js';

/**
 * A role agent as Claude Code itself reads it: `.claude/agents/<name>.md` with YAML front matter
 * (name, description, tools, model, …) and a body that is the role's instructions (notes §2.4).
 */
export interface AgentDefinition {
  name: string;
  description: string;
  /** Tool names the agent may use; null means "inherit all" (front matter `tools` omitted). */
  tools: string[] | null;
  disallowedTools: string[];
  /** null or 'inherit' means the configured default model. */
  model: string | null;
  maxTurns: number | null;
  instructions: string;
  file: string;
}

const FRONT_MATTER_FENCE = '---';

/** Parses the text of an agent file; every problem names the file, and the field or line. */
export function parseAgentDefinition(text: string, file: string): AgentDefinition {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0]?.trim() !== FRONT_MATTER_FENCE) {
    throw new AgentDefinitionError(file, 'line 1: missing YAML front matter (the file must start with a line "---")', {
      hint: 'Start the file with ---, then name:, description:, tools:, model:, then --- and the instructions. `orchestrator init` writes examples.',
    });
  }
  const end = lines.findIndex((line, index) => index > 0 && line.trim() === FRONT_MATTER_FENCE);
  if (end === -1) {
    throw new AgentDefinitionError(file, 'front matter is not closed (no second "---" line)', { hint: 'Add a line "---" after the last front matter field.' });
  }
  const document = parseDocument(lines.slice(1, end).join('\n'));
  if (document.errors.length > 0) {
    const first = document.errors[0]!;
    const line = (first.linePos?.[0]?.line ?? 0) + 1;
    throw new AgentDefinitionError(file, `line ${line}: invalid YAML in front matter: ${first.message.split('\n')[0] ?? ''}`, {
      hint: 'Quote values that contain ":" or "#", e.g. description: "Reviews: code".',
    });
  }
  const data: unknown = document.toJS();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new AgentDefinitionError(file, 'front matter must be a YAML mapping (key: value lines)');
  }
  const fields = data as Record<string, unknown>;
  const name = requiredString(fields, 'name', file);
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) {
    throw new AgentDefinitionError(file, `field "name": "${name}" must be letters, digits, "-" or "_" and not start with "-"`);
  }
  const description = requiredString(fields, 'description', file);
  const instructions = lines.slice(end + 1).join('\n').trim();
  if (instructions.length === 0) {
    throw new AgentDefinitionError(file, 'has no instructions: the body after the front matter is empty', {
      hint: 'Write the role, its inputs, its deliverable and what it must not do below the closing ---.',
    });
  }
  const model = optionalString(fields, 'model', file);
  const maxTurns = fields.maxTurns;
  if (maxTurns !== undefined && (typeof maxTurns !== 'number' || !Number.isInteger(maxTurns) || maxTurns <= 0)) {
    throw new AgentDefinitionError(file, 'field "maxTurns" must be a positive integer');
  }
  return {
    name,
    description,
    tools: toolList(fields, 'tools', file),
    disallowedTools: toolList(fields, 'disallowedTools', file) ?? [],
    model: model === null || model === 'inherit' ? null : model,
    maxTurns: typeof maxTurns === 'number' ? maxTurns : null,
    instructions,
    file,
  };
}

function requiredString(fields: Record<string, unknown>, field: string, file: string): string {
  const value = fields[field];
  if (value === undefined || value === null) {
    throw new AgentDefinitionError(file, `field "${field}" is required`, { hint: `Add "${field}: …" to the front matter.` });
  }
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new AgentDefinitionError(file, `field "${field}" must be a non-empty string`);
  }
  return value.trim();
}

function optionalString(fields: Record<string, unknown>, field: string, file: string): string | null {
  const value = fields[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.trim().length === 0) throw new AgentDefinitionError(file, `field "${field}" must be a string`);
  return value.trim();
}

/** `tools: Read, Write, Bash` or a YAML list; omitted → null ("inherit all"). */
function toolList(fields: Record<string, unknown>, field: string, file: string): string[] | null {
  const value = fields[field];
  if (value === undefined || value === null) return null;
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : null;
  if (!items || !items.every((item) => typeof item === 'string')) {
    throw new AgentDefinitionError(file, `field "${field}" must be a comma-separated string or a list of tool names`);
  }
  return (items).map((item) => item.trim()).filter((item) => item.length > 0);
}

/**
 * Loads the agent named `name` from `agentsDir`: `<name>.md` first, else any file whose front matter names it
 * (Claude Code matches on the `name` field, not the file name). Missing → AgentDefinitionError with the fix.
 */
export async function loadAgentDefinition(agentsDir: string, name: string): Promise<AgentDefinition> {
  const direct = join(agentsDir, `${name}.md`);
  const text = await readFile(direct, 'utf8').catch(() => null);
  if (text !== null) {
    const definition = parseAgentDefinition(text, direct);
    if (definition.name !== name) {
      throw new AgentDefinitionError(direct, `field "name" is "${definition.name}" but the file is named ${name}.md`, {
        hint: `Set name: ${name}, or rename the file.`,
      });
    }
    return definition;
  }
  const files = await readdir(agentsDir).catch(() => [] as string[]);
  for (const entry of files.filter((file) => file.endsWith('.md')).sort()) {
    const path = join(agentsDir, entry);
    const content = await readFile(path, 'utf8');
    if (new RegExp(`^name:\\s*["']?${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']?\\s*$`, 'm').test(content)) {
      return parseAgentDefinition(content, path);
    }
  }
  throw new AgentDefinitionError(direct, `agent "${name}" not found`, {
    hint: `Create ${direct} (front matter name/description/tools/model, then instructions), or run \`orchestrator init\` to write the default agents.${files.length > 0 ? ` Agents present: ${files.filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3)).join(', ')}.` : ''}`,
  });
}
