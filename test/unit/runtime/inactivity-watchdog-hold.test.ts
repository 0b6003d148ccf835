import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InactivityWatchdog } from '../../../src/runtime/index.js';

describe('InactivityWatchdog.hold (a session waiting for one of our tools is not idle)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does not fire while held, and counts the idle time again from the release', () => {
    const fired: number[] = [];
    const watchdog = new InactivityWatchdog(1_000, (idleFor) => fired.push(idleFor));
    watchdog.start();
    const release = watchdog.hold();
    vi.advanceTimersByTime(10_000);
    expect(fired).toEqual([]);
    release();
    release(); // idempotent: one release per hold
    vi.advanceTimersByTime(900);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(400);
    expect(fired).toHaveLength(1);
    watchdog.stop();
  });

  it('holds nest: it waits until the last one is released', () => {
    const fired: number[] = [];
    const watchdog = new InactivityWatchdog(1_000, (idleFor) => fired.push(idleFor));
    watchdog.start();
    const first = watchdog.hold();
    const second = watchdog.hold();
    first();
    vi.advanceTimersByTime(5_000);
    expect(fired).toEqual([]);
    second();
    vi.advanceTimersByTime(1_500);
    expect(fired).toHaveLength(1);
    watchdog.stop();
  });
});
