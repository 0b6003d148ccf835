import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coordinatorLockKey, localRepositoryId, normalizeRemoteUrl } from '../../../src/orchestrator/index.js';

describe('repository identity', () => {
  it('spells every form of one remote the same, without credentials', () => {
    const forms = [
      'https://github.com/Team/app.git',
      'https://user:s3cret@GitHub.com/Team/app',
      'https://github.com:443/Team/app.git/',
      'ssh://git@github.com/Team/app.git',
      'ssh://git@github.com:22/Team/app',
      'git@github.com:Team/app.git',
      'github.com:Team/app',
    ];
    expect(new Set(forms.map((url) => normalizeRemoteUrl(url, '/repo')))).toEqual(new Set(['github.com/Team/app']));
    expect(normalizeRemoteUrl('ssh://git@git.internal:2222/team/app.git', '/repo')).toBe('git.internal:2222/team/app');
    expect(normalizeRemoteUrl('https://user:s3cret@example.com/app.git', '/repo')).not.toContain('s3cret');
  });

  it('keeps a local remote as its absolute path, however it is written', () => {
    expect(normalizeRemoteUrl('/srv/git/app.git/', '/repo')).toBe('/srv/git/app.git');
    expect(normalizeRemoteUrl('file:///srv/git/app.git', '/repo')).toBe('/srv/git/app.git');
    expect(normalizeRemoteUrl('../remote.git', '/work/clone')).toBe('/work/remote.git');
    expect(normalizeRemoteUrl('/srv/git/app', '/repo')).not.toBe(normalizeRemoteUrl('/srv/git/app.git', '/repo'));
  });

  it('keys the coordinator lock by a signed 64-bit hash of the repository id', () => {
    const key = coordinatorLockKey('01repo');
    expect(key).toBe(coordinatorLockKey('01repo'));
    expect(key).not.toBe(coordinatorLockKey('01repp'));
    const value = BigInt(key);
    expect(value >= -(2n ** 63n) && value < 2n ** 63n).toBe(true);
  });

  it('writes a clone without a remote one id, and reads it back ever after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repo-id-'));
    try {
      const [a, b] = await Promise.all([localRepositoryId(dir), localRepositoryId(dir)]);
      expect(a).toBe(b);
      expect(a).toMatch(/^[0-9a-z]{26}$/);
      expect((await readFile(join(dir, '.orchestrator', 'repository-id'), 'utf8')).trim()).toBe(a);
      await writeFile(join(dir, '.orchestrator', 'repository-id'), 'kept-id\n');
      expect(await localRepositoryId(dir)).toBe('kept-id');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
