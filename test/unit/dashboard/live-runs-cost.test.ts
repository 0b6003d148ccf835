import { describe, expect, it } from 'vitest';
import { LiveRuns } from '../../../src/dashboard/index.js';
import { EventBus, type InvocationId, type JsonObject, type RunId } from '../../../src/events/index.js';
import { streamFixture } from '../../helpers/fixtures.js';

/** The `result` lines of a steered session recorded from the real CLI: two results, cost cumulative for the process. */
const results = streamFixture('steered-new-turn')
  .map((line) => JSON.parse(line) as JsonObject)
  .filter((payload) => payload.type === 'result');

const resultRecord = (invocationId: string, seq: number, payload: JsonObject) => ({
  runId: 'run-1' as RunId,
  invocationId: invocationId as InvocationId,
  seq,
  at: '2026-11-26T10:00:00.000Z',
  type: 'result',
  subtype: 'success',
  toolName: null,
  payload,
});

describe('LiveRuns cost of a session with several results', () => {
  it('counts the CLI’s cumulative cost once per invocation, and sums the per-result usage', () => {
    expect(results).toHaveLength(2);
    const [first, second] = results as [JsonObject, JsonObject];
    const bus = new EventBus();
    const live = new LiveRuns();
    live.attach(bus);
    bus.emit('run.message', resultRecord('inv-1', 1, first));
    bus.emit('run.message', resultRecord('inv-1', 2, second));
    expect(live.get('run-1')?.reportedCostUsd).toBe(second.total_cost_usd);
    expect(live.get('run-1')?.inputTokens).toBe(3000);
    // Another invocation (another CLI process) of the same run adds its own cost.
    bus.emit('run.message', resultRecord('inv-2', 1, first));
    expect(live.get('run-1')?.reportedCostUsd).toBeCloseTo((second.total_cost_usd as number) + (first.total_cost_usd as number), 10);
  });
});
