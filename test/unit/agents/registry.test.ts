import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentRegistry, userAgentsDir, type AgentDefinition } from '../../../src/agents/index.js';
import { AgentDefinitionError } from '../../../src/lib/errors.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'agents');
const PROJECT = join(FIXTURES, 'claude-code-style');
const USER = join(FIXTURES, 'user-level');
const ROLES = ['architect', 'code-developer', 'code-reviewer', 'project-manager', 'bug-fixer'];

const temps: string[] = [];
async function tempDir(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agents-'));
  temps.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});

const agent = (name: string, body = `You are ${name}.`) => `---\nname: ${name}\ndescription: The ${name}.\n---\n${body}\n`;
const fileOf = (definition: AgentDefinition) => definition.file;

describe('the agent registry', () => {
  it('finds agents by their name field, skips README and notes with a note, and has no problem with /agents files', async () => {
    const registry = await AgentRegistry.load({ projectDir: PROJECT, userDir: null });
    expect(registry.problems).toEqual([]);
    expect(registry.agents().map((found) => found.definition.name)).toEqual(['architect', 'code-developer', 'code-reviewer', 'frontend-expert', 'project-manager']);
    expect(fileOf(registry.resolve('code-developer').definition)).toBe(join(PROJECT, 'code_developer.md'));
    expect(registry.resolve('code-reviewer')).toMatchObject({ scope: 'project', definition: { model: 'haiku', instructions: expect.stringContaining('FIXTURE-REVIEWER-BODY') } });
    const skipped = registry.notes.filter((note) => note.message.startsWith('skipped:')).map((note) => note.file);
    expect(skipped).toEqual([join(PROJECT, 'README.md'), join(PROJECT, 'notes.md')]);
    // The generator's descriptions were read leniently: an info note each, never a warning.
    const lenient = registry.notes.filter((note) => /^line 3 is not valid YAML/.test(note.message)).map((note) => note.file);
    expect(lenient.sort()).toEqual(['architect.md', 'code_developer.md', 'code_reviewer.md', 'project_manager.md'].map((name) => join(PROJECT, name)));
    expect(registry.notes.every((note) => note.level === 'info')).toBe(true);
  });

  it('gives a role no agent file names the built-in default, and says which roles use it', async () => {
    const registry = await AgentRegistry.load({ projectDir: PROJECT, userDir: null });
    expect(registry.resolve('bug-fixer')).toMatchObject({ scope: 'built-in', definition: { name: 'bug-fixer', file: 'built-in:bug-fixer' } });
    expect(registry.rolesUsingDefaults(ROLES)).toEqual(['bug-fixer']);
    const empty = await AgentRegistry.load({ projectDir: join(await tempDir(), 'missing'), userDir: null });
    expect(empty.rolesUsingDefaults(ROLES)).toEqual(ROLES);
  });

  it("looks in the user's agents after the project's: the project wins a name clash, the user fills a missing role", async () => {
    const registry = await AgentRegistry.load({ projectDir: PROJECT, userDir: USER });
    expect(registry.resolve('project-manager')).toMatchObject({ scope: 'project', definition: { file: join(PROJECT, 'project_manager.md') } });
    expect(registry.resolve('bug-fixer')).toMatchObject({ scope: 'user', definition: { file: join(USER, 'bug_fixer.md'), model: 'haiku' } });
    expect(registry.rolesUsingDefaults(ROLES)).toEqual([]);
    expect(registry.notes).toContainEqual(expect.objectContaining({ file: join(USER, 'pm_from_home.md'), message: expect.stringContaining(`not used: the project's ${join(PROJECT, 'project_manager.md')}`) }));

    const withoutProjectPm = await tempDir();
    await cp(PROJECT, withoutProjectPm, { recursive: true });
    await rm(join(withoutProjectPm, 'project_manager.md'));
    const fromHome = await AgentRegistry.load({ projectDir: withoutProjectPm, userDir: USER });
    expect(fromHome.resolve('project-manager')).toMatchObject({ scope: 'user', definition: { instructions: expect.stringContaining('FIXTURE-USER-PM-BODY') } });
  });

  it('finds the user-level folder as Claude Code does: CLAUDE_CONFIG_DIR, else HOME', () => {
    expect(userAgentsDir({ HOME: '/home/u' })).toBe('/home/u/.claude/agents');
    expect(userAgentsDir({ HOME: '/home/u', CLAUDE_CONFIG_DIR: '/etc/claude-x' })).toBe('/etc/claude-x/agents');
  });

  it('refuses two files with one name, naming both, and keeps the other agents usable', async () => {
    const dir = await tempDir({ 'code_reviewer.md': agent('code-reviewer'), 'reviewer.md': agent('code-reviewer', 'Other.'), 'architect.md': agent('architect') });
    const registry = await AgentRegistry.load({ projectDir: dir, userDir: null });
    expect(registry.problems).toHaveLength(1);
    const error = registry.problems[0]!.error;
    expect(error.message).toBe(`${join(dir, 'code_reviewer.md')}: agent name "code-reviewer" is also used by ${join(dir, 'reviewer.md')}`);
    expect(error.hint).toContain('Rename the name: field of one file');
    expect(() => registry.resolve('code-reviewer')).toThrow(error);
    expect(registry.resolve('architect').scope).toBe('project');
  });

  it('does not replace a broken role agent by the default: using it is the error', async () => {
    const dir = await tempDir({ 'dev.md': '---\nname: code-developer\ntools: Read\n---\nBody\n', 'odd.md': '---\nname: architect\ndescription: x\n' });
    const registry = await AgentRegistry.load({ projectDir: dir, userDir: null });
    expect(registry.problems.map((problem) => problem.name).sort()).toEqual(['architect', 'code-developer']);
    expect(() => registry.resolve('code-developer')).toThrow(/dev\.md: field "description" is required/);
    expect(() => registry.resolve('architect')).toThrow(/odd\.md: front matter is not closed/);
    expect(registry.resolve('bug-fixer').scope).toBe('built-in');
  });

  it('finds subfolders and near names as Claude Code does, and says when a near name is ambiguous', async () => {
    const dir = await tempDir({ 'team/dev.md': agent('Code_Developer'), 'a.md': agent('Code Reviewer'), 'b.md': agent('code_reviewer') });
    const registry = await AgentRegistry.load({ projectDir: dir, userDir: null });
    expect(registry.resolve('code-developer').definition.file).toBe(join(dir, 'team/dev.md'));
    const ambiguous = (() => {
      try {
        registry.resolve('code-reviewer');
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(ambiguous).toBeInstanceOf(AgentDefinitionError);
    expect((ambiguous as Error).message).toContain('agent "code-reviewer" is ambiguous: "Code Reviewer"');
  });

  it('explains an agent that exists nowhere, with what is present', async () => {
    const registry = await AgentRegistry.load({ projectDir: PROJECT, userDir: null });
    const missing = (() => {
      try {
        registry.resolve('nobody');
      } catch (error) {
        return error as AgentDefinitionError;
      }
      throw new Error('expected an error');
    })();
    expect(missing.message).toBe(`${join(PROJECT, 'nobody.md')}: agent "nobody" not found`);
    expect(missing.hint).toContain('Agents present: architect, code-developer, code-reviewer, frontend-expert, project-manager.');
  });
});
