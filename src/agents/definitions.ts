import { AgentDefinitionError } from '../lib/errors.js';
import { readFrontMatter } from './front-matter.js';

/**
 * A role agent as Claude Code itself reads it: a markdown file in `.claude/agents/` with YAML front matter
 * (name, description, tools, model, …) and a body that is the role's instructions (notes §2.4). The agent is
 * known by its `name` field, not by its file name.
 */
export interface AgentDefinition {
  name: string;
  description: string;
  /** Tool names the agent may use; null means "inherit all" (`tools` omitted, or `*`). */
  tools: string[] | null;
  disallowedTools: string[];
  /** A model id or alias (`sonnet`, `haiku`, …) for `--model`; null (`inherit` or none) means the configured default. */
  model: string | null;
  maxTurns: number | null;
  color: string | null;
  instructions: string;
  file: string;
  /** Every front matter field as read, the ones we do not use included (`permissionMode`, `skills`, …). */
  frontMatter: Record<string, unknown>;
  /** What was accepted leniently or ignored, for `doctor`. */
  notes: AgentNote[];
}

export interface AgentNote {
  level: 'info' | 'warning';
  message: string;
  fix?: string;
}

/** One markdown file of an agents folder, read as Claude Code reads it. */
export type AgentFileRead =
  | { kind: 'agent'; definition: AgentDefinition }
  /** Not an agent file (no front matter, or no `name`): Claude Code ignores it too. */
  | { kind: 'skipped'; file: string; reason: string }
  /** Meant as an agent (it has a name) but unusable; `name` is null when it could not be read. */
  | { kind: 'problem'; name: string | null; error: AgentDefinitionError };

const FIX_FRONT_MATTER = 'Start the file with ---, then name:, description:, tools:, model:, then --- and the instructions. `orchestrator init` writes examples.';

/** Reads one agent file; never throws for what the file says (the result says it). */
export function readAgentFile(text: string, file: string): AgentFileRead {
  const frontMatter = readFrontMatter(text);
  switch (frontMatter.kind) {
    case 'none':
      return { kind: 'skipped', file, reason: 'no front matter (the file does not start with a "---" line), so it is not an agent' };
    case 'unclosed': {
      const name = nameLine(text);
      if (name === null) return { kind: 'skipped', file, reason: 'starts with "---" but has no closing "---" and no name: line, so it is not an agent' };
      return problem(file, name, 'front matter is not closed (no second "---" line)', 'Add a line "---" after the last front matter field.');
    }
    case 'invalid': {
      const name = nameLine(frontMatter.yaml);
      if (name === null) return { kind: 'skipped', file, reason: `front matter is not YAML (line ${frontMatter.line}: ${frontMatter.message}) and has no name: line, so it is not an agent` };
      return problem(file, name, `line ${frontMatter.line}: front matter cannot be read, even as Claude Code reads it: ${frontMatter.message}`, 'Put each field on one line as `key: value`, and quote a value that contains ": " or "#", e.g. description: "Reviews: code".');
    }
    case 'parsed':
      break;
  }
  const fields = frontMatter.fields ?? {};
  const notes: AgentNote[] = [];
  if (frontMatter.lenient) {
    notes.push({
      level: 'info',
      message: `line ${frontMatter.lenient.line} is not valid YAML (${frontMatter.lenient.message}); read as Claude Code reads it, taking the value of ${frontMatter.lenient.quotedKeys.join(', ')} as text`,
      fix: `To make it plain YAML, quote the value: ${frontMatter.lenient.quotedKeys[0] ?? 'description'}: "…".`,
    });
  }
  const rawName = fields.name;
  if (rawName === undefined || rawName === null || rawName === '') {
    return { kind: 'skipped', file, reason: 'front matter has no name: field, so it is not an agent (add name: to make it one)' };
  }
  try {
    return { kind: 'agent', definition: interpretFields(fields, frontMatter.body, file, notes) };
  } catch (error) {
    if (error instanceof AgentDefinitionError) return { kind: 'problem', name: typeof rawName === 'string' ? rawName.trim() : JSON.stringify(rawName), error };
    throw error;
  }
}

/** Parses the text of one agent file; every problem, and a file that is not an agent, is an AgentDefinitionError. */
export function parseAgentDefinition(text: string, file: string): AgentDefinition {
  const read = readAgentFile(text, file);
  switch (read.kind) {
    case 'agent':
      return read.definition;
    case 'problem':
      throw read.error;
    case 'skipped':
      if (readFrontMatter(text).kind === 'none') {
        throw new AgentDefinitionError(file, 'line 1: missing YAML front matter (the file must start with a line "---")', { hint: FIX_FRONT_MATTER });
      }
      throw new AgentDefinitionError(file, `field "name" is required: ${read.reason}`, { hint: 'Add "name: …" to the front matter.' });
  }
}

function problem(file: string, name: string, message: string, hint: string): AgentFileRead {
  return { kind: 'problem', name, error: new AgentDefinitionError(file, message, { hint }) };
}

/** The name a broken file meant to have, from a `name:` line (to say which agent it breaks). */
function nameLine(text: string): string | null {
  const match = /^name:[ \t]*["']?([^"'\r\n]*?)["']?[ \t]*$/m.exec(text);
  return match?.[1] ? match[1] : null;
}

function interpretFields(fields: Record<string, unknown>, body: string, file: string, notes: AgentNote[]): AgentDefinition {
  const name = requiredString(fields, 'name', file);
  if (name.startsWith('-') || /[\u0000-\u001f]/.test(name)) {
    throw new AgentDefinitionError(file, `field "name": "${name}" must not start with "-" or contain control characters`, { hint: 'Use letters, digits and "-", e.g. name: code-reviewer.' });
  }
  // Claude Code turns the two characters "\n" in a description into a line break.
  const description = requiredString(fields, 'description', file).replaceAll('\\n', '\n');
  const instructions = body.trim();
  if (instructions.length === 0) {
    throw new AgentDefinitionError(file, 'has no instructions: the body after the front matter is empty', {
      hint: 'Write the role, its inputs, its deliverable and what it must not do below the closing ---.',
    });
  }
  return {
    name,
    description,
    tools: toolList(fields, 'tools', file),
    disallowedTools: toolList(fields, 'disallowedTools', file) ?? [],
    model: modelOf(fields, notes),
    maxTurns: maxTurnsOf(fields, notes),
    color: typeof fields.color === 'string' && fields.color.trim() ? fields.color.trim() : null,
    instructions,
    file,
    frontMatter: fields,
    notes,
  };
}

function requiredString(fields: Record<string, unknown>, field: string, file: string): string {
  const value = fields[field];
  if (value === undefined || value === null) {
    throw new AgentDefinitionError(file, `field "${field}" is required`, { hint: `Add "${field}: …" to the front matter.` });
  }
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new AgentDefinitionError(file, `field "${field}" must be a non-empty string`, { hint: `Write ${field}: followed by text.` });
  }
  return value.trim();
}

/** `inherit` (any case) or none → null (the configured model); anything else is passed to `--model` as written. */
function modelOf(fields: Record<string, unknown>, notes: AgentNote[]): string | null {
  const value = fields.model;
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.trim().length === 0) {
    notes.push({ level: 'warning', message: `field "model" (${JSON.stringify(value)}) is not a model name, so it is ignored and the configured model is used`, fix: 'Write model: sonnet, opus, haiku, inherit or a full model id.' });
    return null;
  }
  const model = value.trim();
  return model.toLowerCase() === 'inherit' ? null : model;
}

/** Claude Code ignores an invalid maxTurns with a warning; so do we. */
function maxTurnsOf(fields: Record<string, unknown>, notes: AgentNote[]): number | null {
  const value = fields.maxTurns;
  if (value === undefined || value === null) return null;
  const turns = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(turns) && turns > 0) return turns;
  notes.push({ level: 'warning', message: `field "maxTurns" (${JSON.stringify(value)}) is not a positive integer, so it is ignored`, fix: 'Write maxTurns: 50, or remove it.' });
  return null;
}

/**
 * `tools: Read, Grep` (commas or spaces, outside parentheses: `Bash(git add:*)` stays one rule), a YAML list,
 * or `*` / omitted for "inherit all" (null). An empty value means no tools, as in Claude Code.
 */
function toolList(fields: Record<string, unknown>, field: string, file: string): string[] | null {
  if (!(field in fields)) return null;
  const value = fields[field];
  if (value === null || value === '') return [];
  const items = typeof value === 'string' ? [value] : Array.isArray(value) && value.every((item): item is string => typeof item === 'string') ? value : null;
  if (items === null) {
    throw new AgentDefinitionError(file, `field "${field}" must be a comma-separated string or a list of tool names`, { hint: `e.g. ${field}: Read, Grep, Bash` });
  }
  const tools = items.flatMap(splitToolRules);
  return tools.includes('*') ? null : tools;
}

function splitToolRules(text: string): string[] {
  const rules: string[] = [];
  let current = '';
  let inParentheses = false;
  for (const char of text) {
    if (char === '(') inParentheses = true;
    if (char === ')') inParentheses = false;
    if ((char === ',' || /\s/.test(char)) && !inParentheses) {
      if (current.trim()) rules.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  if (current.trim()) rules.push(current.trim());
  return rules;
}
