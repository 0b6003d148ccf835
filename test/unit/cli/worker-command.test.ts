import { describe, expect, it } from 'vitest';
import { workerCacheDir } from '../../../src/cli/commands/worker.js';
import { loadConfig } from '../../../src/config/index.js';

describe('orchestrator worker: where its clones live and which queue it reads', () => {
  it('takes --cache-dir, else git.cacheDir, else ~/.cache/orchestrator/clones of HOME', () => {
    expect(workerCacheDir({ flag: '/srv/clones', configured: '/etc/clones', home: '/home/w' })).toBe('/srv/clones');
    expect(workerCacheDir({ configured: '/etc/clones', home: '/home/w' })).toBe('/etc/clones');
    expect(workerCacheDir({ home: '/home/w' })).toBe('/home/w/.cache/orchestrator/clones');
  });

  it('--queue-schema overrides workers.queueSchema; a bad name is a config error', async () => {
    const repoRoot = '/nonexistent-worker-dir';
    expect((await loadConfig({ repoRoot, env: {} })).workers.queueSchema).toBe('orchestrator_queue');
    expect((await loadConfig({ repoRoot, env: {}, overrides: { queueSchema: 'q_test' } })).workers.queueSchema).toBe('q_test');
    await expect(loadConfig({ repoRoot, env: {}, overrides: { queueSchema: 'Bad-Name' } })).rejects.toThrow('workers.queueSchema');
  });
});
