import { mkdtemp, mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createToolPolicy, isInside } from '../../../src/orchestrator/permissions.js';
import type { ToolPermissionRequest } from '../../../src/runtime/index.js';

const ask = (toolName: string, input: Record<string, string>): ToolPermissionRequest => ({ toolName, input, toolUseId: 't1', source: 'pre_tool_use' });

describe('tool policy', () => {
  it('keeps file tools inside the worktree, symlinks and .. included', async () => {
    const root = await mkdtemp(join(tmpdir(), 'policy-'));
    const outside = await mkdtemp(join(tmpdir(), 'outside-'));
    await mkdir(join(root, 'src'));
    await symlink(outside, join(root, 'escape'));
    const policy = createToolPolicy({ root, tools: null });
    expect(policy(ask('Write', { file_path: join(root, 'src/a.ts') }))).toEqual({ behavior: 'allow' });
    expect(policy(ask('Write', { file_path: 'src/new/deep.ts' }))).toEqual({ behavior: 'allow' });
    expect(policy(ask('Write', { file_path: join(root, '../x.txt') })).behavior).toBe('deny');
    expect(policy(ask('Edit', { file_path: join(root, 'escape/x.txt') })).behavior).toBe('deny');
    expect(policy(ask('Read', { file_path: '/etc/passwd' })).behavior).toBe('deny');
    expect(isInside(root, root)).toBe(true);
    expect(isInside(root, `${root}-sibling/file`)).toBe(false);
  });

  it('limits a role to its tools, its writable scope and its commands', async () => {
    const root = await mkdtemp(join(tmpdir(), 'policy-'));
    const architect = createToolPolicy({ root, tools: ['Read', 'Write'], canWrite: (rel) => rel.startsWith('docs/specs/'), writeScope: 'docs/specs/' });
    expect(architect(ask('Write', { file_path: join(root, 'docs/specs/SPEC-1-x.md') }))).toEqual({ behavior: 'allow' });
    const denied = architect(ask('Write', { file_path: join(root, 'src/index.ts') }));
    expect(denied).toEqual({ behavior: 'deny', message: 'Permission denied by the orchestrator: this role may write only docs/specs/, not src/index.ts' });
    expect(architect(ask('Bash', { command: 'ls' })).behavior).toBe('deny');
    const developer = createToolPolicy({ root, tools: ['Bash'] });
    expect(developer(ask('Bash', { command: 'npm test' }))).toEqual({ behavior: 'allow' });
    expect(developer(ask('Bash', { command: 'git push origin main' })).behavior).toBe('deny');
    const reviewer = createToolPolicy({ root, tools: ['Bash'], canRunBash: (command) => /^git (diff|log|show)\b/.test(command), bashScope: 'git diff/log/show' });
    expect(reviewer(ask('Bash', { command: 'git diff main...HEAD' }))).toEqual({ behavior: 'allow' });
    expect(reviewer(ask('Bash', { command: 'rm -rf src' })).behavior).toBe('deny');
  });
});
