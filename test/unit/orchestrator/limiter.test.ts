import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter, PriorityMutex } from '../../../src/orchestrator/limiter.js';

describe('session slots', () => {
  it('says which limit holds a session back, and frees the slot once', () => {
    const limiter = new ConcurrencyLimiter(2, { 'code-developer': 1 });
    expect(limiter.fullFor('code-developer')).toBeNull();
    const release = limiter.acquire('code-developer');
    expect(limiter.fullFor('code-developer')).toBe('1 of 1 code-developer sessions running');
    expect(limiter.fullFor('architect')).toBeNull();
    const other = limiter.acquire('architect');
    expect(limiter.fullFor('architect')).toBe('2 of 2 sessions running');
    release();
    release();
    expect(limiter.running).toBe(1);
    other();
    expect(limiter.running).toBe(0);
  });

  it('lets one step per role claim ahead of a free slot, and any step that outranks a waiting claim', () => {
    const limiter = new ConcurrencyLimiter(2, {});
    limiter.claim('architect', 1);
    limiter.claim('architect', 2);
    expect(limiter.running).toBe(2);
    // No slot free: one architect may prepare ahead, then no more of rank 9...
    expect(limiter.blockedBy('architect', 5)).toBeNull();
    limiter.claim('architect', 5);
    expect(limiter.blockedBy('architect', 9)).toBe('2 of 2 sessions running');
    // ...but one that comes first in roadmap order may, and so may another role.
    expect(limiter.blockedBy('architect', 3)).toBeNull();
    expect(limiter.blockedBy('code-reviewer', 9)).toBeNull();
    limiter.claim('code-reviewer', 9);
    // Claims ahead are capped at the number of slots overall.
    expect(limiter.blockedBy('project-manager', 9)).toBe('2 of 2 sessions running');
  });

  it('gives a freed slot to the first claim in roadmap order, even one still preparing, and never to a claim past its role cap', async () => {
    const limiter = new ConcurrencyLimiter(2, { 'code-developer': 1 });
    const running = limiter.claim('code-developer', 1);
    const other = limiter.claim('architect', 2);
    const order: string[] = [];
    const late = limiter.claim('architect', 8);
    const lateSlot = late.acquire().then(() => order.push('architect-8'));
    const developer = limiter.claim('code-developer', 4);
    const developerSlot = developer.acquire().then(() => order.push('developer-4'));
    const preparing = limiter.claim('architect', 5);
    // The architect's session ends: the developer of rank 4 outranks both, but its role is at its cap.
    other.release();
    expect(preparing.assigned).toBe(true);
    expect(late.assigned).toBe(false);
    await preparing.acquire();
    // The developer's session ends: its cap frees, and rank 4 goes before rank 8.
    running.release();
    await developerSlot;
    expect(late.assigned).toBe(false);
    preparing.release();
    await lateSlot;
    expect(order).toEqual(['developer-4', 'architect-8']);
    expect(limiter.running).toBe(2);
  });

  it('stops waiting when aborted, and a released claim gives its slot on', async () => {
    const limiter = new ConcurrencyLimiter(1, {});
    const first = limiter.claim('architect', 1);
    const waiting = limiter.claim('architect', 2);
    const controller = new AbortController();
    const acquired = waiting.acquire(controller.signal);
    controller.abort(new Error('shutdown'));
    await expect(acquired).rejects.toThrow('shutdown');
    waiting.release();
    const next = limiter.claim('architect', 3);
    first.release();
    await expect(next.acquire()).resolves.toBeUndefined();
    await expect(first.acquire()).rejects.toThrow('released');
    expect(limiter.running).toBe(1);
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
