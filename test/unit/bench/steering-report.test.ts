import { describe, expect, it } from 'vitest';
import { steeringSection } from '../../../src/bench/steering-report.js';
import type { SteeringFigures } from '../../../src/bench/steering.js';

const latency = (p50Ms: number, p95Ms: number, maxMs: number) => ({ count: 40, p50Ms, p95Ms, maxMs });

function figures(database: SteeringFigures['database'], p95Ms: number): SteeringFigures {
  return {
    database,
    samples: 40,
    turnDelayMs: 1500,
    afterTurnEnd: latency(130, p95Ms, p95Ms + 50),
    fromPost: latency(1100, 1450, 1540),
    baseline: latency(140, 258.1, 443.9),
    inNextRequest: 39,
    loadBefore: 9.8,
    loadAfter: 9.9,
    wallMs: 140_000,
  };
}

describe('steering section of docs/benchmarks.md', () => {
  it('is section 10, with the target, and three rows per database measured, the turn-end p95 in bold', () => {
    const text = steeringSection([figures('sqlite', 247.5), figures('postgres', 312.25)]);
    expect(text.split('\n')[0]).toBe('## 10. Steering a live session (target: p95 ≤ 500 ms after the turn ends)');
    expect(text).toContain('after 1500 ms with a Read');
    expect(text).toContain("| SQLite, dashboard in the session's process: **the turn ends → the next request carrying the message** | 40 | 130.0 ms | **247.5 ms** | 297.5 ms |");
    expect(text).toContain('| PostgreSQL, dashboard in another process (NOTIFY): **the turn ends → the next request carrying the message** | 40 | 130.0 ms | **312.3 ms** | 362.3 ms |');
    expect(text).toContain('| PostgreSQL, dashboard in another process (NOTIFY): the POST → that request | 40 | 1100.0 ms | 1450.0 ms | 1540.0 ms |');
    expect(text).toContain('| SQLite, dashboard in the session\'s process: baseline, the turn ends → the next request, no message | 40 | 140.0 ms | 258.1 ms | 443.9 ms |');
    expect(text).toContain('39 of 40 messages were in the very next request');
    expect(text).toContain('load average 9.8 before, 9.9 after');
  });
});
