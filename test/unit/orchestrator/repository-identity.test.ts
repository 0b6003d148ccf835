import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coordinatorLockKey, localRepositoryId } from '../../../src/orchestrator/index.js';

describe('repository identity', () => {
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
