import type { ResultMessage, ResultUsage } from './stream-events.js';

/**
 * One view of a session that emitted several `result` lines (a steering message that arrived as its task ended ran
 * as a turn of its own). What the pinned CLI reports in each result (measured, docs/architecture.md "Steering a
 * running session"): `usage`, `num_turns`, `duration_ms` and `permission_denials` cover that result's own turns;
 * `total_cost_usd`, `duration_api_ms` and `modelUsage` are cumulative for the process. So the first are summed, the
 * second taken from the latest figure (the largest, should a line arrive out of order). The status fields (subtype,
 * is_error, errors, api_error_status, terminal_reason, stop_reason) are the first failed result's, so that an
 * answered steering message never turns a failed task into a success; every other field, `raw` included, is the
 * last result's as sent.
 */
export function combineResults(results: readonly ResultMessage[]): ResultMessage | null {
  const last = results.at(-1);
  if (last === undefined) return null;
  if (results.length === 1) return last;
  const usage: ResultUsage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  for (const result of results) {
    usage.input_tokens += result.usage.input_tokens;
    usage.output_tokens += result.usage.output_tokens;
    usage.cache_creation_input_tokens += result.usage.cache_creation_input_tokens;
    usage.cache_read_input_tokens += result.usage.cache_read_input_tokens;
  }
  const status = results.find((result) => result.isError || result.subtype !== 'success') ?? last;
  return {
    ...last,
    subtype: status.subtype,
    isError: status.isError,
    errors: status.errors,
    apiErrorStatus: status.apiErrorStatus,
    terminalReason: status.terminalReason,
    stopReason: status.stopReason,
    usage,
    numTurns: sumOrNull(results.map((result) => result.numTurns)),
    durationMs: sumOrNull(results.map((result) => result.durationMs)),
    durationApiMs: maxOrNull(results.map((result) => result.durationApiMs)),
    totalCostUsd: Math.max(...results.map((result) => result.totalCostUsd)),
    permissionDenials: results.flatMap((result) => result.permissionDenials),
  };
}

function sumOrNull(values: (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null);
  return present.length === 0 ? null : present.reduce((total, value) => total + value, 0);
}

function maxOrNull(values: (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null);
  return present.length === 0 ? null : Math.max(...present);
}
