import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WallClockLimit } from '../../../src/runtime/index.js';

describe('WallClockLimit (a session\'s wall-clock limit does not count the time it waits for our tools)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once when the counted time reaches the limit', () => {
    let fired = 0;
    const limit = new WallClockLimit(1_000, () => (fired += 1));
    limit.start();
    vi.advanceTimersByTime(999);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(fired).toBe(1);
  });

  it('stops while held and runs on from where it stood; holds nest', () => {
    let fired = 0;
    const limit = new WallClockLimit(1_000, () => (fired += 1));
    limit.start();
    vi.advanceTimersByTime(600);
    const first = limit.hold();
    const second = limit.hold();
    vi.advanceTimersByTime(60_000);
    expect(limit.remainingMs()).toBe(400);
    first();
    first(); // idempotent
    vi.advanceTimersByTime(60_000);
    expect(fired).toBe(0);
    second();
    vi.advanceTimersByTime(399);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
  });

  it('never fires once stopped', () => {
    let fired = 0;
    const limit = new WallClockLimit(1_000, () => (fired += 1));
    limit.start();
    limit.hold()();
    limit.stop();
    vi.advanceTimersByTime(5_000);
    expect(fired).toBe(0);
  });
});
