import { afterEach, beforeEach, describe, expect, jest, test } from 'bun:test';
import { RateLimiter } from './pacing.ts';

describe('RateLimiter (fake time)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('never grants more than the limit in any window, and serves waiters in order', async () => {
    const limiter = new RateLimiter({ limit: 10, windowMs: 1000 });
    const granted: Array<{ n: number; at: number }> = [];
    const start = Date.now();
    const all = Array.from({ length: 35 }, (_, n) =>
      limiter.acquire().then(() => granted.push({ n, at: Date.now() - start })),
    );
    for (let step = 0; step < 40; step++) {
      // Let the granted promises' callbacks run before time moves on.
      for (let tick = 0; tick < 5; tick++) await Promise.resolve();
      jest.advanceTimersByTime(100);
    }
    await Promise.all(all);
    expect(granted.map((g) => g.n)).toEqual(Array.from({ length: 35 }, (_, n) => n));
    for (const g of granted) {
      const inWindow = granted.filter((o) => o.at > g.at - 1000 && o.at <= g.at).length;
      expect(inWindow).toBeLessThanOrEqual(10);
    }
    // 35 grants at 10 per second need a bit over three seconds.
    expect(granted.at(-1)!.at).toBeGreaterThan(3000);
    expect(granted.at(-1)!.at).toBeLessThan(3200);
    limiter.close();
  });

  test('tryAcquire does not jump the queue of waiters', async () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 1000 });
    expect(limiter.tryAcquire()).toBe(true);
    const waiting = limiter.acquire();
    expect(limiter.tryAcquire()).toBe(false);
    jest.advanceTimersByTime(1001);
    await waiting;
    expect(limiter.inWindow()).toBe(1);
    limiter.close();
  });

  test('a grant counts from when its request was answered', async () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 1000 });
    const start = Date.now();
    expect(limiter.tryAcquire()).toBe(true);
    let grantedAt = -1;
    const waiting = limiter.acquire().then(() => {
      grantedAt = Date.now() - start;
    });
    // The first request is answered 300 ms after its grant (a busy process, a slow connection).
    jest.advanceTimersByTime(300);
    limiter.done();
    jest.advanceTimersByTime(800);
    for (let tick = 0; tick < 5; tick++) await Promise.resolve();
    expect(grantedAt).toBe(-1);
    jest.advanceTimersByTime(300);
    await waiting;
    expect(grantedAt).toBeGreaterThanOrEqual(1300);
    expect(grantedAt).toBeLessThan(1400);
    limiter.close();
  });

  test('holdUntilDone: a grant whose request is still out never leaves the window', async () => {
    const limiter = new RateLimiter({ limit: 2, windowMs: 1000, holdUntilDone: true });
    const start = Date.now();
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(true);
    let grantedAt = -1;
    const waiting = limiter.acquire().then(() => {
      grantedAt = Date.now() - start;
    });
    jest.advanceTimersByTime(5000);
    for (let tick = 0; tick < 5; tick++) await Promise.resolve();
    expect(grantedAt).toBe(-1);
    expect(limiter.inWindow()).toBe(2);
    // One answer comes; its slot is free a window later.
    limiter.done();
    jest.advanceTimersByTime(999);
    for (let tick = 0; tick < 5; tick++) await Promise.resolve();
    expect(grantedAt).toBe(-1);
    jest.advanceTimersByTime(10);
    await waiting;
    expect(grantedAt).toBeGreaterThanOrEqual(6000);
    expect(grantedAt).toBeLessThan(6100);
    limiter.close();
  });

  test('close rejects the waiters', async () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 1000 });
    limiter.tryAcquire();
    const waiting = limiter.acquire();
    limiter.close();
    await expect(waiting).rejects.toThrow('closed');
  });
});
