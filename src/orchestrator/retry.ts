import type { RunRecord } from '../store/index.js';

/**
 * Transient failures (the API overloaded or rate-limited, a network error, a dropped stream) are retried with
 * exponential backoff and do not use up the attempt budget; task failures (the agent did not deliver) do.
 */
export function isTransientFailure(run: Pick<RunRecord, 'status' | 'errorKind' | 'errorMessage'>): boolean {
  if (run.status !== 'failed') return false;
  if (run.errorKind !== 'api_error' && run.errorKind !== 'missing_result') return false;
  const message = run.errorMessage ?? '';
  if (run.errorKind === 'missing_result') return /ECONNRESET|socket|network/i.test(message);
  // 400-class errors other than 408/409/429 are the request's fault: retrying cannot help.
  const status = /HTTP (\d{3})/.exec(message)?.[1];
  if (status) return ['408', '409', '429', '500', '502', '503', '504', '529'].includes(status);
  return /overloaded|rate.?limit|timed out|timeout|connect|ECONN|socket|network|capacity/i.test(message);
}

/** Delay before retry number `attempt` (1-based): base × 2^(attempt-1), capped, with ±20 % jitter. */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}
