import { describe, expect, it } from 'vitest';
import { RoadmapParseError } from '../../../src/lib/errors.js';
import { RepoOps, readRoadmapSnapshot, uncommittedRoadmapEdits } from '../../../src/orchestrator/index.js';
import { tmpRepo } from '../../helpers/tmp-repo.js';

const PATH = 'docs/roadmap/ROADMAP.md';

describe('the roadmap as the pipeline reads it', () => {
  it('reads the committed file at the tip of the integration branch, never the working tree', async () => {
    await using repo = await tmpRepo({ files: { [PATH]: '### PRIORITY 1: A\n**Status**: 📝 Planned - soon\n' } });
    await repo.write(PATH, '### PRIORITY 1: A\n**Status**: ✅ Complete\n### PRIORITY 2: B\n');
    const snapshot = await readRoadmapSnapshot(new RepoOps(repo.path), 'main', PATH);
    expect(snapshot.tipSha).toBe(repo.git('rev-parse', 'main').trim());
    expect(snapshot.parsed.items.map((item) => [item.number, item.status, item.note])).toEqual([['1', 'planned', 'soon']]);
  });

  it('says when ROADMAP.md has edits not committed to the integration branch, and nothing when it has none', async () => {
    await using repo = await tmpRepo({ files: { [PATH]: '### PRIORITY 1: A\n' } });
    const ops = new RepoOps(repo.path);
    expect(await uncommittedRoadmapEdits(ops, 'main', PATH)).toBeNull();
    await repo.write(PATH, '### PRIORITY 1: A\n### PRIORITY 2: B\n');
    expect(await uncommittedRoadmapEdits(ops, 'main', PATH)).toBe(
      'docs/roadmap/ROADMAP.md has edits not committed to main: the pipeline reads main, so it does not see them. Commit them first (git commit docs/roadmap/ROADMAP.md).',
    );
    repo.git('switch', '-q', '-c', 'feature');
    repo.commitAll('roadmap on a feature branch');
    expect(await uncommittedRoadmapEdits(ops, 'main', PATH)).toContain('in your checkout (feature) differs from the one on main');
  });

  it('stops only when the roadmap cannot be read at all', async () => {
    await using repo = await tmpRepo({ files: { 'README.md': '# x\n' } });
    const ops = new RepoOps(repo.path);
    await expect(readRoadmapSnapshot(ops, 'main', PATH)).rejects.toThrow(RoadmapParseError);
    await expect(readRoadmapSnapshot(ops, 'main', PATH)).rejects.toThrow(`${PATH}:1: no roadmap on branch main`);
    await repo.write(PATH, '# Roadmap\n\nIdeas, no items yet.\n');
    repo.commitAll('empty roadmap');
    await expect(readRoadmapSnapshot(ops, 'main', PATH)).rejects.toThrow(`${PATH}:1: has no priorities or user stories`);
    await repo.write(PATH, '### PRIORITY 1: A\n**Status**: ???\n### PRIORITY 1: B\n');
    repo.commitAll('messy roadmap');
    expect((await readRoadmapSnapshot(ops, 'main', PATH)).parsed.problems.map((problem) => problem.line)).toEqual([2, 3]);
  });
});
