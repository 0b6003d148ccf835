import type { JsonObject, JsonValue } from '../events/index.js';
import { ZERO_TOKENS, costOf, priceOf, type PriceSource, type PriceTable, type TokenCounts } from './prices.js';

/**
 * Tokens of a session from its stream messages, for when the CLI's `result` (the only final figure) never came.
 *
 * What the CLI 2.1.197 writes (test/fixtures/streams/): one `assistant` line per content block, each carrying the
 * API message's `id` and the usage of its `message_start` event. So the same usage appears on several lines (count
 * each message id once, keeping the last usage seen), input and cache figures are final, and `output_tokens` is a
 * placeholder (1) that the `message_delta` at the end of the message would have replaced. The output count is
 * therefore estimated from the content the lines carry (text, tool input, thinking: about 4 characters a token)
 * when that is more than the reported figure.
 */

/** About 4 characters of English or code per token (Anthropic's rule of thumb). */
export const CHARS_PER_TOKEN = 4;

/** What one `assistant` line says of its API message. */
export interface ApiMessageUsage extends TokenCounts {
  /** The API message id (`msg_…`): the same on every line of one message. */
  messageId: string;
  model: string | null;
  /** Of `cacheCreationInputTokens`, those written to the 1-hour cache. */
  cacheCreation1hInputTokens: number;
  /** Characters of content on this line (text, tool input JSON, thinking). */
  contentChars: number;
}

function asObject(value: JsonValue | undefined): JsonObject | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
}

function asCount(value: JsonValue | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** Characters of content of an API message's blocks: text, tool input (as JSON) and thinking. */
export function contentCharsOf(content: readonly JsonValue[]): number {
  let chars = 0;
  for (const block of content) {
    const item = asObject(block);
    if (item?.type === 'text' && typeof item.text === 'string') chars += item.text.length;
    else if (item?.type === 'tool_use') chars += JSON.stringify(item.input ?? {}).length;
    else if (item?.type === 'thinking' && typeof item.thinking === 'string') chars += item.thinking.length;
  }
  return chars;
}

/**
 * The usage an `assistant` stream line carries, or null for any other line. The CLI's own `<synthetic>` messages
 * (its text for an API error it gave up on) were never sent to the API and count nothing.
 */
export function apiMessageUsageOf(type: string, payload: JsonObject): ApiMessageUsage | null {
  if (type !== 'assistant') return null;
  const message = asObject(payload.message);
  const usage = asObject(message?.usage);
  if (!message || !usage || typeof message.id !== 'string' || message.model === '<synthetic>') return null;
  return {
    messageId: message.id,
    model: typeof message.model === 'string' ? message.model : null,
    inputTokens: asCount(usage.input_tokens),
    outputTokens: asCount(usage.output_tokens),
    cacheCreationInputTokens: asCount(usage.cache_creation_input_tokens),
    cacheCreation1hInputTokens: asCount(asObject(usage.cache_creation)?.ephemeral_1h_input_tokens),
    cacheReadInputTokens: asCount(usage.cache_read_input_tokens),
    contentChars: Array.isArray(message.content) ? contentCharsOf(message.content) : 0,
  };
}

/** An estimate of a session's usage and cost from its messages. */
export interface UsageEstimate extends TokenCounts {
  /** Distinct API messages counted. */
  apiMessageCount: number;
  /** USD of the messages whose model has a price; null when none has one. */
  costUsd: number | null;
  /** Models seen without a price (their tokens are counted, their cost is not). */
  unpricedModels: string[];
  /** Where the prices came from. */
  priceSources: PriceSource[];
}

/**
 * Adds up the API messages of one session: each message id once, with the last usage seen for it and the content
 * of all its lines. Feed it every line in order (`add`), then read `tokens()` or `estimate(prices)`.
 */
export class UsageTally {
  readonly #byMessage = new Map<string, ApiMessageUsage>();

  /** Counts one stream line (anything but an `assistant` line with usage is ignored). */
  addMessage(type: string, payload: JsonObject): void {
    const usage = apiMessageUsageOf(type, payload);
    if (usage) this.add(usage);
  }

  add(usage: ApiMessageUsage): void {
    const previous = this.#byMessage.get(usage.messageId);
    this.#byMessage.set(usage.messageId, { ...usage, model: usage.model ?? previous?.model ?? null, contentChars: (previous?.contentChars ?? 0) + usage.contentChars });
  }

  get apiMessageCount(): number {
    return this.#byMessage.size;
  }

  clear(): void {
    this.#byMessage.clear();
  }

  /** Each API message's tokens, its output count estimated from its content when the reported one is lower. */
  *messages(): IterableIterator<ApiMessageUsage> {
    for (const usage of this.#byMessage.values()) yield { ...usage, outputTokens: Math.max(usage.outputTokens, Math.ceil(usage.contentChars / CHARS_PER_TOKEN)) };
  }

  tokens(): TokenCounts {
    const total = { ...ZERO_TOKENS };
    for (const usage of this.messages()) addTokens(total, usage);
    return total;
  }

  estimate(prices: PriceTable): UsageEstimate {
    const total = { ...ZERO_TOKENS };
    let costUsd: number | null = null;
    const unpriced = new Set<string>();
    const sources = new Set<PriceSource>();
    for (const usage of this.messages()) {
      addTokens(total, usage);
      const match = priceOf(prices, usage.model);
      if (!match) {
        unpriced.add(usage.model ?? '(no model)');
        continue;
      }
      sources.add(match.source);
      costUsd = (costUsd ?? 0) + costOf(match.price, usage);
    }
    return { ...total, apiMessageCount: this.#byMessage.size, costUsd, unpricedModels: [...unpriced], priceSources: [...sources] };
  }
}

function addTokens(total: TokenCounts, usage: TokenCounts): void {
  total.inputTokens += usage.inputTokens;
  total.outputTokens += usage.outputTokens;
  total.cacheCreationInputTokens += usage.cacheCreationInputTokens;
  total.cacheReadInputTokens += usage.cacheReadInputTokens;
}

/** One line for the invocation row and `show`: how the estimate was made, and what it could not price. */
export function describeEstimate(estimate: UsageEstimate, prices: PriceTable): string {
  if (estimate.apiMessageCount === 0) return 'no result from the CLI and no API message recorded: a request in flight when it ended is not counted';
  const from = `estimated from ${estimate.apiMessageCount} API message(s) recorded before the session ended without a result (output tokens from content length)`;
  const sources = estimate.priceSources.map((source) => (source === 'built-in' ? `built-in prices of ${prices.asOf}` : 'prices from orchestrator.config.json')).join(' and ');
  const unpriced =
    estimate.unpricedModels.length > 0
      ? `; no price for ${estimate.unpricedModels.join(', ')}: its tokens are counted, its cost is not (add it under "pricing" in orchestrator.config.json)`
      : '';
  return `${from}${sources ? `; ${sources}` : ''}${unpriced}`;
}
