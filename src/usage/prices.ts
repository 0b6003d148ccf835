/**
 * List prices per model, for the cost we estimate ourselves: a session that ended without the CLI's `result`
 * line (SIGKILL, OOM killer, crash) and the live figure of a running one. A session that wrote its result keeps
 * the CLI's own `total_cost_usd` (itself the CLI's client-side estimate from a table like this one).
 */

/** When the built-in prices below were checked, and against what: Claude Code 2.1.197's bundled price table. */
export const PRICES_AS_OF = '2026-11-26';

/** USD per million tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  /** Writes to the 5-minute prompt cache (1.25 × input on the list). */
  cacheWritePerMTok: number;
  cacheReadPerMTok: number;
  /** Writes to the 1-hour prompt cache (2 × input on the list); the 5-minute price when absent. */
  cacheWrite1hPerMTok?: number | undefined;
}

const price = (input: number, output: number, cacheWrite: number, cacheRead: number, cacheWrite1h: number): ModelPrice => ({
  inputPerMTok: input,
  outputPerMTok: output,
  cacheWritePerMTok: cacheWrite,
  cacheReadPerMTok: cacheRead,
  cacheWrite1hPerMTok: cacheWrite1h,
});

const OPUS_4_5_AND_LATER = price(5, 25, 6.25, 0.5, 10);
const OPUS_4_AND_4_1 = price(15, 75, 18.75, 1.5, 30);
const SONNET = price(3, 15, 3.75, 0.3, 6);
const HAIKU_4_5 = price(1, 5, 1.25, 0.1, 2);
const HAIKU_3_5 = price(0.8, 4, 1, 0.08, 1.6);
const FABLE_MYTHOS_5 = price(10, 50, 12.5, 1, 20);

/**
 * The built-in table, keyed by canonical model id (see {@link canonicalModelId}): the same figures the CLI
 * 2.1.197 prices its own sessions with (standard speed). Overridden and extended by `pricing` in
 * orchestrator.config.json.
 */
export const BUILT_IN_PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-4-8': OPUS_4_5_AND_LATER,
  'claude-opus-4-7': OPUS_4_5_AND_LATER,
  'claude-opus-4-6': OPUS_4_5_AND_LATER,
  'claude-opus-4-5': OPUS_4_5_AND_LATER,
  'claude-opus-4-1': OPUS_4_AND_4_1,
  'claude-opus-4-0': OPUS_4_AND_4_1,
  'claude-opus-4': OPUS_4_AND_4_1,
  'claude-sonnet-5': SONNET,
  'claude-sonnet-4-6': SONNET,
  'claude-sonnet-4-5': SONNET,
  'claude-sonnet-4-0': SONNET,
  'claude-sonnet-4': SONNET,
  'claude-3-7-sonnet': SONNET,
  'claude-3-5-sonnet': SONNET,
  'claude-haiku-4-5': HAIKU_4_5,
  'claude-3-5-haiku': HAIKU_3_5,
  'claude-fable-5': FABLE_MYTHOS_5,
  'claude-mythos-5': FABLE_MYTHOS_5,
};

/**
 * The id a model is priced under: lower case, without the context-window tag the CLI adds in `system/init`
 * (`claude-opus-4-8[1m]`), a Bedrock region prefix and version (`us.anthropic.…-v1:0`), or a snapshot date
 * (`-20250929`, Vertex `@20250929`). `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`.
 */
export function canonicalModelId(model: string): string {
  return model
    .trim()
    .toLowerCase()
    .replace(/\[[^\]]*\]$/, '')
    .replace(/^(?:[a-z]{2,4}\.)?anthropic\./, '')
    .replace(/-v\d+(?::\d+)?$/, '')
    .replace(/[-@]\d{8}$/, '');
}

/** Where a price came from, for the note stored with an estimate. */
export type PriceSource = 'built-in' | 'config';

export interface PriceTable {
  /** Date of the built-in figures ({@link PRICES_AS_OF}). */
  readonly asOf: string;
  /** Exact canonical ids, and prefixes ending in `*`; configured entries replace built-in ones of the same key. */
  readonly entries: ReadonlyMap<string, { price: ModelPrice; source: PriceSource }>;
}

/** The built-in table with `overrides` (orchestrator.config.json `pricing`) merged over it. */
export function priceTable(overrides: Readonly<Record<string, ModelPrice>> = {}): PriceTable {
  const entries = new Map<string, { price: ModelPrice; source: PriceSource }>();
  for (const [key, value] of Object.entries(BUILT_IN_PRICES)) entries.set(key, { price: value, source: 'built-in' });
  for (const [key, value] of Object.entries(overrides)) entries.set(priceKey(key), { price: value, source: 'config' });
  return { asOf: PRICES_AS_OF, entries };
}

function priceKey(key: string): string {
  return key.endsWith('*') ? `${canonicalModelId(key.slice(0, -1))}*` : canonicalModelId(key);
}

export interface PriceMatch {
  /** The table key that matched (a canonical id, or a prefix ending in `*`). */
  key: string;
  price: ModelPrice;
  source: PriceSource;
}

/**
 * The price of `model`: its exact canonical id, else the longest configured prefix (`"claude-opus-*"`) it starts
 * with. Never a guess from another model: an unknown model has no price (null), and its cost is left unknown.
 */
export function priceOf(table: PriceTable, model: string | null): PriceMatch | null {
  if (!model) return null;
  const id = canonicalModelId(model);
  const exact = table.entries.get(id);
  if (exact) return { key: id, ...exact };
  let best: PriceMatch | null = null;
  for (const [key, entry] of table.entries) {
    if (!key.endsWith('*')) continue;
    const prefix = key.slice(0, -1);
    if (id.startsWith(prefix) && (best === null || prefix.length > best.key.length - 1)) best = { key, ...entry };
  }
  return best;
}

/** Token counts of one API message or a total of several. */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  /** All cache writes (5-minute and 1-hour), as the API's `cache_creation_input_tokens`. */
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

export const ZERO_TOKENS: Readonly<TokenCounts> = { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };

/** USD for `tokens` at `price`; `cacheCreation1hInputTokens` of the cache writes are priced at the 1-hour rate. */
export function costOf(price: ModelPrice, tokens: TokenCounts & { cacheCreation1hInputTokens?: number }): number {
  const oneHour = Math.min(tokens.cacheCreation1hInputTokens ?? 0, tokens.cacheCreationInputTokens);
  const cacheWrites = (tokens.cacheCreationInputTokens - oneHour) * price.cacheWritePerMTok + oneHour * (price.cacheWrite1hPerMTok ?? price.cacheWritePerMTok);
  return (tokens.inputTokens * price.inputPerMTok + tokens.outputTokens * price.outputPerMTok + tokens.cacheReadInputTokens * price.cacheReadPerMTok + cacheWrites) / 1_000_000;
}
