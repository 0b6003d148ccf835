import type { InvocationId } from '../events/index.js';
import type { FinishInvocation, Store } from '../store/index.js';
import { UsageTally, describeEstimate, type PriceTable } from '../usage/index.js';

/** The usage fields of an invocation row. */
export type InvocationUsage = Pick<FinishInvocation, 'inputTokens' | 'outputTokens' | 'cacheCreationInputTokens' | 'cacheReadInputTokens' | 'costUsd' | 'costEstimated' | 'costNote'>;

/** Messages read per query when estimating from the store (a long session has thousands). */
const PAGE_SIZE = 1_000;

/**
 * The usage of a session that ended without the CLI's result, estimated from its API messages (src/usage) and
 * marked estimated, with a note on how. A model without a price keeps its tokens and adds no cost.
 */
export function estimatedUsage(tally: UsageTally, prices: PriceTable): InvocationUsage {
  const estimate = tally.estimate(prices);
  return {
    inputTokens: estimate.inputTokens,
    outputTokens: estimate.outputTokens,
    cacheCreationInputTokens: estimate.cacheCreationInputTokens,
    cacheReadInputTokens: estimate.cacheReadInputTokens,
    costUsd: estimate.costUsd ?? 0,
    costEstimated: true,
    costNote: describeEstimate(estimate, prices),
  };
}

/** Estimates an invocation's usage from the messages the store recorded of it (crash recovery: the owner is gone). */
export async function estimateUsageFromStore(store: Store, invocationId: InvocationId, prices: PriceTable): Promise<InvocationUsage> {
  const tally = new UsageTally();
  let afterSeq = 0;
  for (;;) {
    const page = await store.listMessages({ invocationId, afterSeq, limit: PAGE_SIZE });
    for (const message of page) tally.addMessage(message.type, message.payload);
    if (page.length < PAGE_SIZE) break;
    afterSeq = page[page.length - 1]!.seq;
  }
  return estimatedUsage(tally, prices);
}
