import pg from 'pg';

/** A latency distribution in milliseconds: nearest-rank percentiles of the samples. */
export interface LatencyFigure {
  count: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** The nearest-rank percentile `p` (0..100) of ascending `sorted` (NaN when there is none). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

export function latencyFigure(values: readonly number[]): LatencyFigure {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50Ms: percentile(sorted, 50), p95Ms: percentile(sorted, 95), maxMs: sorted.at(-1) ?? Number.NaN };
}

/** One statement on its own connection (schema creation and removal around a benchmark). */
export async function adminStatement(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
