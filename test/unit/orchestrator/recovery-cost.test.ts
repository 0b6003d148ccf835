import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InvocationId, JsonObject, MessageRecord, RunId } from '../../../src/events/index.js';
import { reconcileOrphanedRuns } from '../../../src/orchestrator/index.js';
import { isProcessAlive } from '../../../src/runtime/index.js';
import { SqliteStore } from '../../../src/store/index.js';
import { PRICES_AS_OF, priceTable } from '../../../src/usage/index.js';
import { streamFixture } from '../../helpers/fixtures.js';

/** The pid of a process that has exited: an orchestrator that is gone. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(child.stdout);
  expect(isProcessAlive(pid)).toBe(false);
  return pid;
}

describe('crash recovery: an orphaned session keeps its tokens and cost, marked estimated', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recovery-cost-'));
    store = SqliteStore.open(join(dir, 'o.db'));
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A run whose owner died after the store got `lines` (real CLI output) of its session, and no result. */
  async function orphanWith(lines: JsonObject[]): Promise<{ runId: RunId; invocationId: InvocationId }> {
    const runId = '01orphan0000000000000000000' as RunId;
    const invocationId = 'inv-orphan' as InvocationId;
    await store.createRun({ id: runId, agent: 'code-developer', taskKind: 'code-developer', prompt: 'p', cwd: dir, ownerPid: deadPid(), host: hostname(), createdAt: new Date().toISOString() });
    await store.createInvocation({ id: invocationId, runId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: new Date().toISOString() });
    const records: MessageRecord[] = lines.map((payload, index) => ({
      runId,
      invocationId,
      seq: index + 1,
      at: new Date().toISOString(),
      type: typeof payload.type === 'string' ? payload.type : '?',
      subtype: typeof payload.subtype === 'string' ? payload.subtype : null,
      toolName: null,
      payload,
    }));
    await store.appendMessages(records);
    return { runId, invocationId };
  }

  const recorded = (name: string) => streamFixture(name).map((line) => JSON.parse(line) as JsonObject);

  it('estimates an orphaned invocation from its stored messages: each API message once, priced from the built-in table', async () => {
    const lines = recorded('multi-tool-success');
    const result = lines.find((line) => line.type === 'result')!;
    const { runId } = await orphanWith(lines.filter((line) => line.type !== 'result' && line.type !== 'control_request' && line.type !== 'control_response'));
    const orphaned = await reconcileOrphanedRuns(store, { graceMs: 100 });
    expect(orphaned.map((run) => run.id)).toEqual([runId]);
    const [invocation] = await store.listInvocations(runId);
    const usage = result.usage as Record<string, number>;
    expect(invocation).toMatchObject({ status: 'orphaned', costEstimated: true, inputTokens: usage.input_tokens, cacheReadInputTokens: usage.cache_read_input_tokens });
    expect(invocation!.outputTokens).toBeGreaterThan(0);
    expect(invocation!.costUsd).toBeGreaterThan(0);
    expect(invocation!.costNote).toContain(`built-in prices of ${PRICES_AS_OF}`);
    const [summary] = await store.listRuns();
    expect(summary).toMatchObject({ status: 'orphaned', costEstimated: true, inputTokens: usage.input_tokens });
    expect((await store.usage({ by: 'agent' }))[0]).toMatchObject({ costEstimated: true, inputTokens: usage.input_tokens });
  });

  it('uses the configured prices it is given', async () => {
    const { runId } = await orphanWith(recorded('permission-denied').filter((line) => line.type !== 'result'));
    const price = { inputPerMTok: 1000, outputPerMTok: 0, cacheWritePerMTok: 0, cacheReadPerMTok: 0 };
    await reconcileOrphanedRuns(store, { graceMs: 100, prices: priceTable({ 'claude-opus-4-8': price }) });
    const [invocation] = await store.listInvocations(runId);
    expect(invocation!.costUsd).toBeCloseTo((invocation!.inputTokens * 1000) / 1_000_000, 12);
    expect(invocation!.costNote).toContain('prices from orchestrator.config.json');
  });
});
