import { describe, expect, it } from 'vitest';
import { branchWork } from '../../../src/orchestrator/branch-work.js';
import { landedReview } from '../../../src/orchestrator/landed.js';
import { RepoOps } from '../../../src/orchestrator/repo-ops.js';
import { tmpRepo, type TmpRepo } from '../../helpers/tmp-repo.js';

const PATHS = { specPath: 'docs/specs/SPEC-1-slug.md', reviewGlob: 'docs/reviews/REVIEW-1-*.md' };

async function itemBranch(): Promise<TmpRepo> {
  const repo = await tmpRepo({ files: { 'README.md': '# x\n' } });
  repo.git('switch', '-q', '-c', 'orchestrator/1-slug');
  return repo;
}

async function commit(repo: TmpRepo, file: string, message: string): Promise<string> {
  await repo.write(file, `${message}\n`);
  repo.git('add', file);
  repo.git('commit', '-q', '-m', message);
  return repo.git('rev-parse', 'HEAD').trim();
}

describe('branchWork: what the item branch holds of the developer’s work, from git alone', () => {
  it('does not count the orchestrator’s spec commit as the developer’s work', async () => {
    await using repo = await itemBranch();
    const spec = await commit(repo, PATHS.specPath, 'Spec for PRIORITY 1');
    const repoOps = new RepoOps(repo.path);
    expect(await branchWork(repoOps, repo.path, 'main', PATHS)).toEqual({ base: spec, baseKind: 'spec', commits: [] });
    await commit(repo, 'src/a.js', 'Add a');
    const work = await branchWork(repoOps, repo.path, 'main', PATHS);
    expect(work.baseKind).toBe('spec');
    expect(work.commits).toEqual([expect.stringMatching(/^[0-9a-f]{7,} Add a$/)]);
  });

  it('counts from the fork with the integration branch when the spec came from there', async () => {
    await using repo = await tmpRepo({ files: { 'README.md': '# x\n', 'docs/specs/SPEC-1-slug.md': '# spec on main\n' } });
    const fork = repo.git('rev-parse', 'HEAD').trim();
    repo.git('switch', '-q', '-c', 'orchestrator/1-slug');
    await commit(repo, 'src/a.js', 'Add a');
    await commit(repo, 'src/b.js', 'Add b');
    const work = await branchWork(new RepoOps(repo.path), repo.path, 'main', PATHS);
    expect(work.base).toBe(fork);
    expect(work.baseKind).toBe('merge-base');
    expect(work.commits.map((line) => line.replace(/^\S+ /, ''))).toEqual(['Add b', 'Add a']);
  });

  it('after changes requested, counts only commits after the commit that added the review', async () => {
    await using repo = await itemBranch();
    await commit(repo, PATHS.specPath, 'Spec');
    const reviewed = await commit(repo, 'src/a.js', 'Add a');
    const review = await commit(repo, `docs/reviews/REVIEW-1-${reviewed.slice(0, 7)}.md`, 'Review of PRIORITY 1: changes requested');
    // Another item's review (REVIEW-10-…) is not this item's.
    await commit(repo, 'docs/reviews/REVIEW-10-abcdef0.md', 'Review of PRIORITY 10');
    const repoOps = new RepoOps(repo.path);
    const before = await branchWork(repoOps, repo.path, 'main', PATHS);
    expect(before.base).toBe(review);
    expect(before.baseKind).toBe('review');
    expect(before.commits).toHaveLength(1);
    await commit(repo, 'src/a.js', 'Address the review');
    expect((await branchWork(repoOps, repo.path, 'main', PATHS)).commits).toHaveLength(2);
  });

  it('counts a merge of the integration branch into the item branch as one commit', async () => {
    await using repo = await itemBranch();
    const review = await commit(repo, 'docs/reviews/REVIEW-1-0000000.md', 'Review: approved');
    repo.git('switch', '-q', 'main');
    await commit(repo, 'src/other.js', 'Other work on main');
    await commit(repo, 'src/more.js', 'More work on main');
    repo.git('switch', '-q', 'orchestrator/1-slug');
    repo.git('merge', '-q', '--no-edit', 'main');
    const work = await branchWork(new RepoOps(repo.path), repo.path, 'main', PATHS);
    expect(work).toMatchObject({ base: review, baseKind: 'review' });
    expect(work.commits).toEqual([expect.stringMatching(/Merge branch 'main'/)]);
  });
});

describe('landedReview: a review of the current work already there after a restart', () => {
  const pathFor = (sha: string) => `docs/reviews/REVIEW-1-${sha.slice(0, 7)}.md`;

  it('finds a review written for HEAD and not committed, only with a verdict', async () => {
    await using repo = await itemBranch();
    const head = await commit(repo, 'src/a.js', 'Add a');
    const repoOps = new RepoOps(repo.path);
    expect(await landedReview(repoOps, repo.path, pathFor)).toBeNull();
    await repo.write(pathFor(head), 'Looks fine so far\n');
    expect(await landedReview(repoOps, repo.path, pathFor)).toBeNull();
    await repo.write(pathFor(head), 'Verdict: CHANGES REQUESTED\n\n1. Test it.\n');
    expect(await landedReview(repoOps, repo.path, pathFor)).toEqual({ reviewPath: pathFor(head), text: 'Verdict: CHANGES REQUESTED\n\n1. Test it.\n', committed: false });
  });

  it('finds a review committed on top of the commit it reviewed, and not once the developer committed after it', async () => {
    await using repo = await itemBranch();
    const reviewed = await commit(repo, 'src/a.js', 'Add a');
    await repo.write(pathFor(reviewed), 'Verdict: APPROVED\n');
    repo.git('add', pathFor(reviewed));
    repo.git('commit', '-q', '-m', 'Review of PRIORITY 1: approved');
    const repoOps = new RepoOps(repo.path);
    expect(await landedReview(repoOps, repo.path, pathFor)).toEqual({ reviewPath: pathFor(reviewed), text: 'Verdict: APPROVED\n', committed: true });
    await commit(repo, 'src/a.js', 'More work');
    expect(await landedReview(repoOps, repo.path, pathFor)).toBeNull();
  });
});
