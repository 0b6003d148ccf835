import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter, PriorityMutex } from '../../../src/orchestrator/limiter.js';

describe('session slots', () => {
  it('says which limit holds a session back, and frees the slot once', () => {
    const limiter = new ConcurrencyLimiter(2, { 'code-developer': 1 });
    expect(limiter.blockedBy('code-developer')).toBeNull();
    const release = limiter.acquire('code-developer');
    expect(limiter.blockedBy('code-developer')).toBe('1 of 1 code-developer sessions running');
    expect(limiter.blockedBy('architect')).toBeNull();
    const other = limiter.acquire('architect');
    expect(limiter.blockedBy('architect')).toBe('2 of 2 sessions running');
    release();
    release();
    expect(limiter.running).toBe(1);
    other();
    expect(limiter.running).toBe(0);
  });
});

describe('PriorityMutex', () => {
  it('hands the lock to waiters in rank order, FIFO among equal ranks, one at a time', async () => {
    const mutex = new PriorityMutex();
    const order: string[] = [];
    let inside = 0;
    let release: () => void = () => {};
    const first = mutex.run(5, async () => {
      order.push('first');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    const task = (name: string) => async () => {
      inside += 1;
      expect(inside).toBe(1);
      order.push(name);
      await Promise.resolve();
      inside -= 1;
    };
    const waiting = [mutex.run(9, task('late-9')), mutex.run(3, task('rank-3')), mutex.run(3, task('rank-3-second')), mutex.run(1, task('rank-1'))];
    expect(mutex.locked).toBe(true);
    while (!order.includes('first')) await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([first, ...waiting]);
    expect(order).toEqual(['first', 'rank-1', 'rank-3', 'rank-3-second', 'late-9']);
    expect(mutex.locked).toBe(false);
  });

  it('releases the lock when the task throws', async () => {
    const mutex = new PriorityMutex();
    await expect(mutex.run(1, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(mutex.locked).toBe(false);
    await expect(mutex.run(1, async (waitedMs) => waitedMs >= 0)).resolves.toBe(true);
  });
});
