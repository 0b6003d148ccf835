import { describe, expect, it } from 'vitest';
import { readCommittedDocument } from '../../../src/orchestrator/index.js';
import { tmpRepo } from '../../helpers/tmp-repo.js';

describe('readCommittedDocument', () => {
  it('reads a spec as committed on the item branch first, then on the integration branch, never the working tree', async () => {
    await using repo = await tmpRepo({ files: { 'README.md': '# x\n' } });
    repo.git('switch', '-q', '-c', 'orchestrator/1-slug');
    await repo.write('docs/specs/SPEC-1-slug.md', '# Spec on the branch\n');
    repo.commitAll('spec');
    repo.git('switch', '-q', 'main');
    await repo.write('docs/specs/SPEC-1-slug.md', '# uncommitted, in the working tree\n');
    expect(await readCommittedDocument(repo.path, ['orchestrator/1-slug', 'main'], 'docs/specs/SPEC-1-slug.md')).toEqual({
      path: 'docs/specs/SPEC-1-slug.md',
      ref: 'orchestrator/1-slug',
      text: '# Spec on the branch\n',
    });
    // After the merge the branch is gone: the integration branch has it.
    repo.git('clean', '-q', '-f', 'docs');
    repo.git('merge', '-q', '--ff-only', 'orchestrator/1-slug');
    repo.git('branch', '-q', '-d', 'orchestrator/1-slug');
    expect((await readCommittedDocument(repo.path, ['orchestrator/1-slug', 'main'], 'docs/specs/SPEC-1-slug.md'))?.ref).toBe('main');
    expect(await readCommittedDocument(repo.path, ['main'], 'docs/specs/SPEC-9-missing.md')).toBeNull();
  });

  it('refuses paths outside the repository and option-like refs', async () => {
    await using repo = await tmpRepo({ files: { 'README.md': '# x\n' } });
    expect(await readCommittedDocument(repo.path, ['main'], '../outside.md')).toBeNull();
    expect(await readCommittedDocument(repo.path, ['main'], '/etc/passwd')).toBeNull();
    expect(await readCommittedDocument(repo.path, ['--output=/tmp/x'], 'README.md')).toBeNull();
    expect(await readCommittedDocument(repo.path, [null, 'main'], 'README.md')).toMatchObject({ ref: 'main', text: '# x\n' });
  });
});
