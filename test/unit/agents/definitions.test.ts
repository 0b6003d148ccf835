import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGENTS, loadAgentDefinition, parseAgentDefinition } from '../../../src/agents/index.js';
import { AgentDefinitionError } from '../../../src/lib/errors.js';

const file = '/repo/.claude/agents/x.md';
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

  it('names the file and the field for every problem', () => {
    expect(catchError(() => parseAgentDefinition('name: a\n', file)).message).toBe(`${file}: line 1: missing YAML front matter (the file must start with a line "---")`);
    expect(catchError(() => parseAgentDefinition('---\nname: a\ndescription: b\n', file)).message).toContain('front matter is not closed');
    expect(catchError(() => parseAgentDefinition('---\ndescription: b\n---\nBody', file)).message).toBe(`${file}: field "name" is required`);
    expect(catchError(() => parseAgentDefinition('---\nname: a\n---\nBody', file)).message).toBe(`${file}: field "description" is required`);
    expect(catchError(() => parseAgentDefinition('---\nname: a\ndescription: b\ntools: 3\n---\nBody', file)).message).toContain('field "tools"');
    expect(catchError(() => parseAgentDefinition('---\nname: a\ndescription: b\n---\n\n', file)).message).toContain('has no instructions');
    const yaml = catchError(() => parseAgentDefinition('---\nname: a\ndescription: [unclosed\n---\nBody', file));
    expect(yaml.message).toMatch(/line \d+: invalid YAML/);
    expect(yaml.code).toBe('ORCH_AGENT_DEFINITION');
  });

  it('loads by file name or by the name field, and explains a missing agent with the fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agents-'));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'architect.md'), DEFAULT_AGENTS.architect!);
    await writeFile(join(dir, 'other-file.md'), '---\nname: helper\ndescription: Helps\n---\nHelp.');
    expect((await loadAgentDefinition(dir, 'architect')).tools).toEqual(['Read', 'Glob', 'Grep', 'Write', 'Edit']);
    expect((await loadAgentDefinition(dir, 'helper')).file).toBe(join(dir, 'other-file.md'));
    const missing = await loadAgentDefinition(dir, 'nobody').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(AgentDefinitionError);
    expect((missing as AgentDefinitionError).message).toBe(`${join(dir, 'nobody.md')}: agent "nobody" not found`);
    expect((missing as AgentDefinitionError).hint).toContain('orchestrator init');
  });

  it('ships default agents that all parse', () => {
    for (const [name, text] of Object.entries(DEFAULT_AGENTS)) expect(parseAgentDefinition(text, `${name}.md`).name).toBe(name);
  });
});
