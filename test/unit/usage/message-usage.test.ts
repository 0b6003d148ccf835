import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../src/events/index.js';
import { PRICES_AS_OF, UsageTally, apiMessageUsageOf, canonicalModelId, costOf, describeEstimate, priceOf, priceTable } from '../../../src/usage/index.js';
import { streamFixture } from '../../helpers/fixtures.js';

type Line = JsonObject & { type: string };
const linesOf = (name: string): Line[] => streamFixture(name).map((line) => JSON.parse(line) as Line);
const resultOf = (lines: Line[]) => {
  const result = lines.find((line) => line.type === 'result')!;
  return { usage: result.usage as Record<string, number>, totalCostUsd: result.total_cost_usd as number };
};
const tallyOf = (lines: Line[]) => {
  const tally = new UsageTally();
  for (const line of lines) tally.addMessage(line.type, line);
  return tally;
};
const opus48 = priceOf(priceTable(), 'claude-opus-4-8')!.price;

describe('tokens of a session from its recorded stream (real CLI 2.1.197 output)', () => {
  it('counts each API message once, so input and cache tokens equal the result message\'s own totals', () => {
    for (const name of ['multi-tool-success', 'permission-denied']) {
      const lines = linesOf(name);
      const { usage } = resultOf(lines);
      const tokens = tallyOf(lines).tokens();
      expect(tokens.inputTokens, name).toBe(usage.input_tokens);
      expect(tokens.cacheReadInputTokens, name).toBe(usage.cache_read_input_tokens);
      expect(tokens.cacheCreationInputTokens, name).toBe(usage.cache_creation_input_tokens);
    }
  });

  it('is a fixture where counting every line would be wrong: one message spans two lines', () => {
    const lines = linesOf('multi-tool-success');
    const assistant = lines.filter((line) => line.type === 'assistant');
    const ids = assistant.map((line) => (line.message as JsonObject).id);
    expect(new Set(ids).size).toBeLessThan(ids.length);
    const everyLine = assistant.reduce((sum, line) => sum + (((line.message as JsonObject).usage as Record<string, number>).input_tokens ?? 0), 0);
    expect(everyLine).toBeGreaterThan(resultOf(lines).usage.input_tokens!);
    expect(tallyOf(lines).apiMessageCount).toBe(new Set(ids).size);
  });

  it('estimates output tokens from the content, since the stream only carries the placeholder of message_start', () => {
    const lines = linesOf('multi-tool-success');
    const placeholders = lines
      .filter((line) => line.type === 'assistant')
      .map((line) => ((line.message as JsonObject).usage as Record<string, number>).output_tokens);
    expect(new Set(placeholders)).toEqual(new Set([1]));
    const tally = tallyOf(lines);
    expect(tally.tokens().outputTokens).toBeGreaterThan(tally.apiMessageCount);
  });

  it('prices like the CLI: the built-in price of the model gives the result message\'s total_cost_usd from its usage', () => {
    for (const name of ['multi-tool-success', 'permission-denied']) {
      const { usage, totalCostUsd } = resultOf(linesOf(name));
      expect(totalCostUsd, name).toBeGreaterThan(0);
      const cost = costOf(opus48, { inputTokens: usage.input_tokens!, outputTokens: usage.output_tokens!, cacheCreationInputTokens: usage.cache_creation_input_tokens!, cacheReadInputTokens: usage.cache_read_input_tokens! });
      expect(cost, name).toBeCloseTo(totalCostUsd, 12);
    }
  });

  it('estimates the cost of the input and cache exactly; only the unknown output count differs from the CLI\'s figure', () => {
    const lines = linesOf('multi-tool-success');
    const { usage, totalCostUsd } = resultOf(lines);
    const estimate = tallyOf(lines).estimate(priceTable());
    expect(estimate.costUsd).not.toBeNull();
    const outputDifference = ((estimate.outputTokens - usage.output_tokens!) * opus48.outputPerMTok) / 1_000_000;
    expect(estimate.costUsd! - totalCostUsd).toBeCloseTo(outputDifference, 12);
    expect(estimate).toMatchObject({ unpricedModels: [], priceSources: ['built-in'] });
  });

  it('counts nothing for the CLI\'s own <synthetic> message after an API error, as its result does', () => {
    for (const name of ['api-error-400', 'api-error-529']) {
      const lines = linesOf(name);
      expect(lines.some((line) => line.type === 'assistant' && (line.message as JsonObject).model === '<synthetic>')).toBe(true);
      const tally = tallyOf(lines);
      expect(tally.apiMessageCount).toBe(0);
      expect(tally.tokens().inputTokens).toBe(resultOf(lines).usage.input_tokens);
    }
  });

  it('counts the streamed message of an interrupted session, which the CLI\'s result leaves out', () => {
    const lines = linesOf('interrupted');
    const streamed = lines.find((line) => line.type === 'assistant')!;
    expect(resultOf(lines).usage.input_tokens).toBe(0);
    expect(tallyOf(lines).tokens().inputTokens).toBe(apiMessageUsageOf('assistant', streamed)!.inputTokens);
    expect(tallyOf(lines).tokens().inputTokens).toBeGreaterThan(0);
  });

  it('keeps the last usage seen for a message id', () => {
    const [first] = linesOf('multi-tool-success').filter((line) => line.type === 'assistant');
    const message = first!.message as JsonObject;
    const later = { ...first!, message: { ...message, content: [], usage: { ...(message.usage as JsonObject), input_tokens: 1234, output_tokens: 99 } } };
    const tally = new UsageTally();
    tally.addMessage('assistant', first!);
    tally.addMessage('assistant', later);
    expect(tally.apiMessageCount).toBe(1);
    expect(tally.tokens()).toMatchObject({ inputTokens: 1234 });
    expect(tally.tokens().outputTokens).toBeGreaterThanOrEqual(99);
  });
});

describe('the price table', () => {
  it('prices a model under its canonical id: the init line\'s [1m] tag, a snapshot date or a Bedrock id name the same model', () => {
    expect(canonicalModelId('claude-opus-4-8[1m]')).toBe('claude-opus-4-8');
    expect(canonicalModelId('claude-sonnet-4-5-20250929')).toBe('claude-sonnet-4-5');
    expect(canonicalModelId('us.anthropic.claude-haiku-4-5-20251001-v1:0')).toBe('claude-haiku-4-5');
    expect(canonicalModelId('claude-opus-4-1@20250805')).toBe('claude-opus-4-1');
    const table = priceTable();
    expect(priceOf(table, 'claude-opus-4-8[1m]')?.price).toEqual(opus48);
    expect(priceOf(table, 'claude-sonnet-4-5-20250929')).toMatchObject({ key: 'claude-sonnet-4-5', source: 'built-in', price: { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 } });
    expect(priceOf(table, 'claude-opus-4-20250514')?.price.inputPerMTok).toBe(15);
    expect(table.asOf).toBe(PRICES_AS_OF);
    expect(PRICES_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('never guesses: a model it does not know has no price, and its tokens are kept with a note saying how to add one', () => {
    const table = priceTable();
    expect(priceOf(table, 'claude-opus-4-9')).toBeNull();
    expect(priceOf(table, 'gpt-5')).toBeNull();
    const lines = linesOf('multi-tool-success').map((line) =>
      line.type === 'assistant' ? { ...line, message: { ...(line.message as JsonObject), model: 'claude-opus-4-9' } } : line,
    );
    const estimate = tallyOf(lines).estimate(table);
    expect(estimate).toMatchObject({ inputTokens: resultOf(lines).usage.input_tokens, costUsd: null, unpricedModels: ['claude-opus-4-9'] });
    expect(describeEstimate(estimate, table)).toContain('no price for claude-opus-4-9');
    expect(describeEstimate(estimate, table)).toContain('"pricing" in orchestrator.config.json');
  });

  it('takes configured prices over the built-in ones, exact ids before the longest matching prefix', () => {
    const custom = { inputPerMTok: 1, outputPerMTok: 2, cacheWritePerMTok: 3, cacheReadPerMTok: 4 };
    const wide = { ...custom, inputPerMTok: 100 };
    const table = priceTable({ 'claude-opus-4-8': custom, 'claude-*': wide, 'claude-opus-*': { ...custom, inputPerMTok: 50 } });
    expect(priceOf(table, 'claude-opus-4-8[1m]')).toMatchObject({ key: 'claude-opus-4-8', source: 'config', price: custom });
    expect(priceOf(table, 'claude-opus-4-9')).toMatchObject({ key: 'claude-opus-*', price: { inputPerMTok: 50 } });
    expect(priceOf(table, 'claude-next-1')).toMatchObject({ key: 'claude-*', price: { inputPerMTok: 100 } });
    expect(priceOf(table, 'claude-sonnet-4-5')).toMatchObject({ source: 'built-in' });
    const estimate = tallyOf(linesOf('permission-denied')).estimate(table);
    expect(estimate.costUsd).toBeCloseTo((estimate.inputTokens * 1 + estimate.outputTokens * 2) / 1_000_000, 12);
    expect(describeEstimate(estimate, table)).toContain('prices from orchestrator.config.json');
  });

  it('prices 1-hour cache writes at their own rate', () => {
    const tokens = { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 1_000_000, cacheReadInputTokens: 0 };
    expect(costOf(opus48, tokens)).toBe(opus48.cacheWritePerMTok);
    expect(costOf(opus48, { ...tokens, cacheCreation1hInputTokens: 1_000_000 })).toBe(opus48.cacheWrite1hPerMTok);
  });
});
