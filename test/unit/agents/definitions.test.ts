import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGENTS, parseAgentDefinition, readAgentFile } from '../../../src/agents/index.js';
import { quoteLineValues, readFrontMatter } from '../../../src/agents/front-matter.js';
import { AgentDefinitionError } from '../../../src/lib/errors.js';

const file = '/repo/.claude/agents/x.md';
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'agents', 'claude-code-style');
const catchError = (fn: () => unknown): AgentDefinitionError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof AgentDefinitionError) return error;
    throw error;
  }
  throw new Error('expected an AgentDefinitionError');
};

describe('agent definitions', () => {
  it('parses front matter and body as Claude Code does (tools as comma string or list)', () => {
    const definition = parseAgentDefinition('---\nname: reviewer\ndescription: Reviews code\ntools: Read, Grep ,Bash\nmodel: claude-sonnet-4-5\n---\nYou review.\n', file);
    expect(definition).toMatchObject({ name: 'reviewer', description: 'Reviews code', tools: ['Read', 'Grep', 'Bash'], model: 'claude-sonnet-4-5', instructions: 'You review.' });
    const listed = parseAgentDefinition('---\nname: a\ndescription: b\ntools:\n  - Read\n  - Write\nmodel: inherit\n---\nBody', file);
    expect(listed.tools).toEqual(['Read', 'Write']);
    expect(listed.model).toBeNull();
    expect(parseAgentDefinition('---\nname: a\ndescription: b\n---\nBody', file).tools).toBeNull();
  });

  it('reads tools as Claude Code does: spaces or commas outside parentheses, "*" for all, empty for none', () => {
    const tools = (value: string) => parseAgentDefinition(`---\nname: a\ndescription: b\ntools: ${value}\n---\nBody`, file).tools;
    expect(tools('Read Grep,Bash(git add:*), Bash(npm test)')).toEqual(['Read', 'Grep', 'Bash(git add:*)', 'Bash(npm test)']);
    expect(tools('"*"')).toBeNull();
    expect(tools('Read, *')).toBeNull();
    expect(tools('[Read, Write]')).toEqual(['Read', 'Write']);
    expect(tools('[]')).toEqual([]);
    expect(tools('')).toEqual([]);
  });

  it('takes model aliases as written and inherit (any case) as "the configured model"', () => {
    const model = (value: string) => parseAgentDefinition(`---\nname: a\ndescription: b\nmodel: ${value}\n---\nBody`, file).model;
    expect(model('haiku')).toBe('haiku');
    expect(model('sonnet')).toBe('sonnet');
    expect(model('opus')).toBe('opus');
    expect(model('Inherit')).toBeNull();
    expect(parseAgentDefinition('---\nname: a\ndescription: b\n---\nBody', file).model).toBeNull();
    const odd = parseAgentDefinition('---\nname: a\ndescription: b\nmodel: 3\nmaxTurns: lots\n---\nBody', file);
    expect(odd.model).toBeNull();
    expect(odd.maxTurns).toBeNull();
    expect(odd.notes.map((note) => note.level)).toEqual(['warning', 'warning']);
    expect(odd.notes[0]?.message).toContain('field "model" (3)');
  });

  it('names the file and the field for every problem', () => {
    expect(catchError(() => parseAgentDefinition('name: a\n', file)).message).toBe(`${file}: line 1: missing YAML front matter (the file must start with a line "---")`);
    expect(catchError(() => parseAgentDefinition('---\nname: a\ndescription: b\n', file)).message).toContain('front matter is not closed');
    expect(catchError(() => parseAgentDefinition('---\ndescription: b\n---\nBody', file)).message).toMatch(new RegExp(`^${file}: field "name" is required`));
    expect(catchError(() => parseAgentDefinition('---\nname: a\n---\nBody', file)).message).toBe(`${file}: field "description" is required`);
    expect(catchError(() => parseAgentDefinition('---\nname: a\ndescription: b\ntools: 3\n---\nBody', file)).message).toContain('field "tools"');
    expect(catchError(() => parseAgentDefinition('---\nname: a\ndescription: b\n---\n\n', file)).message).toContain('has no instructions');
    expect(catchError(() => parseAgentDefinition('---\nname: -a\ndescription: b\n---\nBody', file)).message).toContain('must not start with "-"');
    const yaml = catchError(() => parseAgentDefinition('---\nname: a\ndescription: b\ntools:\n  - Read\n - [unclosed\n---\nBody', file));
    expect(yaml.message).toMatch(/line \d+: front matter cannot be read, even as Claude Code reads it/);
    expect(yaml.hint).toContain('quote a value');
    expect(yaml.code).toBe('ORCH_AGENT_DEFINITION');
  });

  it('ships default agents that all parse', () => {
    for (const [name, text] of Object.entries(DEFAULT_AGENTS)) expect(parseAgentDefinition(text, `${name}.md`).name).toBe(name);
  });
});

describe('front matter as Claude Code reads it', () => {
  const generated =
    'description: Use this agent when you need to review code changes. Examples: <example>Context: The user has just written a function. user: "Please review" assistant: "I\'ll use the code-reviewer agent" <commentary>Since…</commentary></example>';

  it('the /agents generator writes a description that is not valid YAML', () => {
    expect(parseDocument(`name: code-reviewer\n${generated}\n`).errors.length).toBeGreaterThan(0);
  });

  it('quotes such values line by line, as Claude Code\'s fallback does, and leaves other lines alone', () => {
    const { text, quotedKeys } = quoteLineValues(`name: code-reviewer\n${generated}\ntools: [Read, Grep]\ncolor: "red"\nmodel: sonnet`);
    expect(quotedKeys).toEqual(['description']);
    const fields = parseDocument(text).toJS() as Record<string, unknown>;
    expect(fields).toEqual({ name: 'code-reviewer', description: generated.slice('description: '.length), tools: ['Read', 'Grep'], color: 'red', model: 'sonnet' });
  });

  it('accepts the generator description with a note, keeping its text exactly', () => {
    const read = readAgentFile(`---\nname: code-reviewer\n${generated}\nmodel: sonnet\ncolor: red\n---\nYou review.\n`, file);
    expect(read.kind).toBe('agent');
    if (read.kind !== 'agent') return;
    expect(read.definition.description).toBe(generated.slice('description: '.length));
    expect(read.definition).toMatchObject({ model: 'sonnet', color: 'red', frontMatter: { color: 'red' } });
    expect(read.definition.notes).toHaveLength(1);
    expect(read.definition.notes[0]).toMatchObject({ level: 'info' });
    expect(read.definition.notes[0]?.message).toBe('line 3 is not valid YAML (Nested mappings are not allowed in compact mappings); read as Claude Code reads it, taking the value of description as text');
  });

  it('turns the two characters \\n of a description into line breaks, as Claude Code does', () => {
    const definition = parseAgentDefinition('---\nname: a\ndescription: First.\\n\\nExamples: <example>user: "x"</example>\n---\nBody', file);
    expect(definition.description).toBe('First.\n\nExamples: <example>user: "x"</example>');
  });

  it('tells files that are not agents from agents it cannot read', () => {
    expect(readFrontMatter('# Title\n\ntext')).toEqual({ kind: 'none' });
    expect(readAgentFile('# Our agents\n', file)).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('no front matter') });
    expect(readAgentFile('---\ntitle: Notes\n---\ntext', file)).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('no name: field') });
    expect(readAgentFile('---\n---\ntext', file)).toMatchObject({ kind: 'skipped' });
    // A thematic break at the top of a note is not an agent: no name: line.
    expect(readAgentFile('---\nsome: [text\n---\nmore', file)).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('no name: field') });
    expect(readAgentFile('---\n- a list\nthen: a map\n---\nmore', file)).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('not YAML (line 3: ') });
    const broken = readAgentFile('---\nname: reviewer\ntools:\n  - Read\n - [x\n---\nBody', file);
    expect(broken).toMatchObject({ kind: 'problem', name: 'reviewer' });
    expect(readAgentFile('---\nname: reviewer\ndescription: b\n', file)).toMatchObject({ kind: 'problem', name: 'reviewer' });
  });

  it('reads every fixture written the way /agents writes them', async () => {
    const read = async (name: string) => readAgentFile(await readFile(join(FIXTURES, name), 'utf8'), name);
    const architect = await read('architect.md');
    expect(architect).toMatchObject({ kind: 'agent', definition: { name: 'architect', model: 'opus', color: 'purple', tools: ['Read', 'Glob', 'Grep', 'Write', 'Edit'] } });
    const developer = await read('code_developer.md');
    expect(developer).toMatchObject({ kind: 'agent', definition: { name: 'code-developer', model: null, color: 'green', tools: ['Read', 'Glob', 'Grep', 'Write', 'Edit', 'Bash'] } });
    if (developer.kind === 'agent') expect(developer.definition.description).toContain('Examples:\n\n<example>\nContext: The spec for priority 2 was just written.');
    expect(await read('code_reviewer.md')).toMatchObject({ kind: 'agent', definition: { name: 'code-reviewer', model: 'haiku', tools: ['Read', 'Glob', 'Grep', 'Bash', 'Write'] } });
    // Claude Code 2.1's generator quotes the description and writes its line breaks as \\n: valid YAML, no note.
    const expert = await read('frontend_expert.md');
    expect(expert).toMatchObject({ kind: 'agent', definition: { name: 'frontend-expert', tools: null, notes: [], frontMatter: { permissionMode: 'acceptEdits', memory: 'project', effort: 'high' } } });
    if (expert.kind === 'agent') expect(expert.definition.description).toBe('Use this agent for React and CSS questions: layout, accessibility, state management.\n\n<example>\nContext: The user asks about a layout bug.\nuser: "The sidebar overlaps the footer"\nassistant: "I will use the frontend-expert agent"\n</example>');
    expect(await read('README.md')).toMatchObject({ kind: 'skipped' });
    expect(await read('notes.md')).toMatchObject({ kind: 'skipped' });
  });
});
