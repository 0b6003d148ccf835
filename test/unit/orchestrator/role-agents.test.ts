import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../../src/agents/index.js';
import { resolveRoleAgents } from '../../../src/orchestrator/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function registryOf(files: Record<string, string>): Promise<AgentRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'role-agents-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return AgentRegistry.load({ projectDir: dir, userDir: null });
}

describe('one agent per role', () => {
  it("takes the user's agents, the default for the rest, and records a near name under the role's own name", async () => {
    const registry = await registryOf({
      'dev.md': '---\nname: Code_Developer\ndescription: Develops.\nmodel: haiku\n---\nMARKER-DEV\n',
      'arch.md': '---\nname: architect\ndescription: Designs.\n---\nMARKER-ARCH\n',
    });
    const { agents, defaulted } = resolveRoleAgents(registry);
    expect(agents.get('code-developer')).toMatchObject({ name: 'code-developer', model: 'haiku', instructions: 'MARKER-DEV' });
    expect(agents.get('architect')).toMatchObject({ name: 'architect', instructions: 'MARKER-ARCH' });
    expect(defaulted).toEqual(['code-reviewer', 'project-manager', 'bug-fixer']);
    expect(agents.get('bug-fixer')?.instructions).toContain('You are the bug fixer of this repository');
  });

  it('refuses a broken role agent instead of running the default in its place', async () => {
    const registry = await registryOf({ 'reviewer.md': '---\nname: code-reviewer\n---\nNo description.\n' });
    expect(() => resolveRoleAgents(registry)).toThrow(/reviewer\.md: field "description" is required/);
  });
});
