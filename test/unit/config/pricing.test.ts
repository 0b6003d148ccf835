import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { priceOf, priceTable } from '../../../src/usage/index.js';

async function repoWithConfig(config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'config-pricing-'));
  await writeFile(join(dir, 'orchestrator.config.json'), JSON.stringify(config));
  return dir;
}

const price = { inputPerMTok: 2, outputPerMTok: 8, cacheWritePerMTok: 2.5, cacheReadPerMTok: 0.2 };

describe('config: pricing', () => {
  it('is empty by default, and configured prices reach the price table over the built-in ones', async () => {
    expect((await loadConfig({ repoRoot: await repoWithConfig({}), env: {} })).pricing).toEqual({});
    const config = await loadConfig({ repoRoot: await repoWithConfig({ pricing: { 'claude-opus-4-8': price, 'my-gateway-*': { ...price, cacheWrite1hPerMTok: 4 } } }), env: {} });
    const table = priceTable(config.pricing);
    expect(priceOf(table, 'claude-opus-4-8')).toMatchObject({ source: 'config', price });
    expect(priceOf(table, 'my-gateway-large')).toMatchObject({ key: 'my-gateway-*', price: { cacheWrite1hPerMTok: 4 } });
  });

  it('names a misspelt price field and the closest valid one', async () => {
    const error = await loadConfig({ repoRoot: await repoWithConfig({ pricing: { 'claude-opus-4-8': { ...price, inputPerMtok: 1 } } }), env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('unknown key "pricing.claude-opus-4-8.inputPerMtok" (did you mean "inputPerMTok"?)');
  });

  it('rejects a missing or negative price and a key that is not a model id or prefix, saying what it must be', async () => {
    const missing = await loadConfig({ repoRoot: await repoWithConfig({ pricing: { 'claude-x': { inputPerMTok: 1 } } }), env: {} }).catch((e: unknown) => e);
    expect((missing as ConfigError).message).toMatch(/pricing\.claude-x\.outputPerMTok/);
    const negative = await loadConfig({ repoRoot: await repoWithConfig({ pricing: { 'claude-x': { ...price, outputPerMTok: -1 } } }), env: {} }).catch((e: unknown) => e);
    expect((negative as ConfigError).message).toMatch(/pricing\.claude-x\.outputPerMTok/);
    const badKey = await loadConfig({ repoRoot: await repoWithConfig({ pricing: { 'claude-*-opus': price } }), env: {} }).catch((e: unknown) => e);
    expect((badKey as ConfigError).message).toContain('must be a model id (claude-opus-4-8) or a prefix ending in * (claude-opus-*)');
  });
});
