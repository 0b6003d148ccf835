import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RepoOps } from '../../../src/orchestrator/repo-ops.js';
import { tmpRepo } from '../../helpers/tmp-repo.js';

describe('item worktrees', () => {
  it('are made one at a time: many items preparing at once (40 here) all get theirs (a prune never removes a half-made one)', async () => {
    await using repo = await tmpRepo({ files: { 'README.md': '# x\n' } });
    const ops = new RepoOps(repo.path);
    const names = Array.from({ length: 40 }, (_, i) => `${i + 1}-feature`);
    // A scratch worktree and the item worktrees, all asked for at once, as the scheduler's steps do.
    const made = await Promise.all([ops.scratchWorktree('_roadmap', 'main'), ...names.map((name) => ops.worktreeFor(name, `orchestrator/${name}`, 'main'))]);
    expect(made.every((path) => existsSync(path))).toBe(true);
    const listed = await ops.listWorktrees();
    for (const name of names) expect(listed.some((entry) => entry.branch === `refs/heads/orchestrator/${name}`)).toBe(true);
    // Asked again (a restart), each is found, not made twice.
    expect(await Promise.all(names.map((name) => ops.worktreeFor(name, `orchestrator/${name}`, 'main')))).toEqual(made.slice(1));
    // Forty-one `git worktree add` one after another: seconds on a quiet machine, far more on a busy 2-core one.
  }, 180_000);
});
