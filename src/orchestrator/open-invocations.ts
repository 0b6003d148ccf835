import { nowIso } from '../lib/time.js';
import type { RunRecord, Store } from '../store/index.js';
import type { PriceTable } from '../usage/index.js';
import { estimateUsageFromStore } from './usage-estimate.js';

/**
 * Invocations of a run whose owner is gone (a crashed orchestrator, a lost worker) that it never finished: mark them
 * orphaned, keeping the session id for a resume, with tokens and cost estimated from their recorded messages (there
 * is no result to take them from).
 */
export async function closeOpenInvocations(store: Store, run: RunRecord, prices: PriceTable): Promise<void> {
  for (const invocation of await store.listInvocations(run.id)) {
    if (invocation.endedAt !== null) continue;
    const [first] = await store.listMessages({ invocationId: invocation.id, limit: 1 });
    const usage = first ? await estimateUsageFromStore(store, invocation.id, prices) : null;
    const sessionId = typeof first?.payload.session_id === 'string' ? first.payload.session_id : null;
    await store.finishInvocation(invocation.id, {
      status: 'orphaned',
      endedAt: nowIso(),
      sessionId,
      // The model the CLI reported in its init line (as a finished invocation records it), else the one asked for.
      model: typeof first?.payload.model === 'string' ? first.payload.model : invocation.model,
      cliVersion: typeof first?.payload.claude_code_version === 'string' ? first.payload.claude_code_version : null,
      durationMs: null,
      durationApiMs: null,
      numTurns: null,
      inputTokens: usage?.inputTokens ?? 0,
      outputTokens: usage?.outputTokens ?? 0,
      cacheCreationInputTokens: usage?.cacheCreationInputTokens ?? 0,
      cacheReadInputTokens: usage?.cacheReadInputTokens ?? 0,
      costUsd: usage?.costUsd ?? 0,
      costEstimated: usage?.costEstimated ?? false,
      costNote: usage?.costNote ?? null,
      resultSubtype: null,
      resultText: null,
      isError: true,
      terminalReason: null,
      apiErrorStatus: null,
      permissionDenials: [],
      exitCode: null,
      signal: null,
      stderrTail: '',
    });
  }
}
