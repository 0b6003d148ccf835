import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closestKey, loadConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/lib/errors.js';

async function repoWithConfig(config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(join(dir, 'orchestrator.config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

describe('config', () => {
  it('applies defaults < file < env < flags, and freezes the result', async () => {
    const dir = await repoWithConfig({ runtime: { timeoutSeconds: 100, idleTimeoutSeconds: 50 }, concurrency: { maxRuns: 2 } });
    const config = await loadConfig({ repoRoot: dir, env: { CLAUDE_BIN: '/opt/claude' }, overrides: { idleTimeoutSeconds: 7, model: undefined } });
    expect(config.runtime.timeoutSeconds).toBe(100);
    expect(config.runtime.idleTimeoutSeconds).toBe(7);
    expect(config.runtime.claudeBin).toBe('/opt/claude');
    expect(config.runtime.stopGraceSeconds).toBe(5);
    expect(config.concurrency.maxRuns).toBe(2);
    expect(config.databasePath).toBe(join(dir, '.orchestrator/orchestrator.db'));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('rejects an unknown key naming the closest valid key', async () => {
    const dir = await repoWithConfig({ runtime: { timeoutSecnds: 5 } });
    const error = await loadConfig({ repoRoot: dir, env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('unknown key "runtime.timeoutSecnds" (did you mean "timeoutSeconds"?)');
    const top = await loadConfig({ repoRoot: await repoWithConfig({ integrationBrnch: 'x' }), env: {} }).catch((e: unknown) => e);
    expect((top as ConfigError).message).toContain('did you mean "integrationBranch"');
  });

  it('takes a postgres:// database URL and refuses any other kind, saying what it must be', async () => {
    const ok = await loadConfig({ repoRoot: await repoWithConfig({ database: { url: 'postgres://u@db.internal/orch' } }), env: {}, overrides: {} });
    expect(ok.database.url).toBe('postgres://u@db.internal/orch');
    const bad = await loadConfig({ repoRoot: await repoWithConfig({ database: { url: 'mysql://u@db/orch' } }), env: {}, overrides: {} }).catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as ConfigError).message).toMatch(/database\.url: must be a postgres:\/\/ .*connection URL/);
  });

  it('rejects bad values and bad JSON with the file name', async () => {
    const bad = await loadConfig({ repoRoot: await repoWithConfig({ runtime: { timeoutSeconds: -1 } }), env: {} }).catch((e: unknown) => e);
    expect((bad as ConfigError).message).toMatch(/orchestrator\.config\.json: runtime\.timeoutSeconds: /);
    const json = await loadConfig({ repoRoot: await repoWithConfig('{ "a": 1, }'), env: {} }).catch((e: unknown) => e);
    expect((json as ConfigError).message).toContain('is not valid JSON');
    expect((json as ConfigError).exitCode).toBe(2);
  });

  it('defaults the workers section (lease ≤ 60 s), and refuses a heartbeat that leaves no room within the lease or an unknown key', async () => {
    const defaults = await loadConfig({ repoRoot: await repoWithConfig({}), env: {} });
    expect(defaults.workers).toEqual({ enabled: false, localSlots: 0, queueSchema: 'orchestrator_queue', maxRestarts: 3, leaseSeconds: 30, heartbeatSeconds: 5, slots: 2 });
    expect(defaults.git).toEqual({ remote: 'origin' });
    const set = await loadConfig({ repoRoot: await repoWithConfig({ workers: { leaseSeconds: 60, slots: 4 } }), env: {} });
    expect(set.workers).toMatchObject({ enabled: false, leaseSeconds: 60, heartbeatSeconds: 5, slots: 4 });
    const tight = await loadConfig({ repoRoot: await repoWithConfig({ workers: { leaseSeconds: 6, heartbeatSeconds: 5 } }), env: {} }).catch((e: unknown) => e);
    expect(tight).toBeInstanceOf(ConfigError);
    expect((tight as ConfigError).message).toMatch(/workers\.heartbeatSeconds: heartbeatSeconds must be at most half of leaseSeconds/);
    const typo = await loadConfig({ repoRoot: await repoWithConfig({ workers: { leaseSecond: 5 } }), env: {} }).catch((e: unknown) => e);
    expect((typo as ConfigError).message).toContain('unknown key "workers.leaseSecond" (did you mean "leaseSeconds"?)');
  });

  it('finds plausible typos only', () => {
    expect(closestKey('maxRun', ['maxRuns', 'perRole'])).toBe('maxRuns');
    expect(closestKey('zzzzzz', ['maxRuns', 'perRole'])).toBeNull();
  });
});
