/**
 * At most `limit` grants in any window of `windowMs`: a sliding log of grant times. Waiters are
 * served in arrival order. Time comes from `now()` and global timers, so tests can fake both.
 */
export class RateLimiter {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly grants: number[] = [];
  private readonly waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(options: { limit: number; windowMs: number; now?: () => number }) {
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.now = options.now ?? Date.now;
  }

  /** Takes a slot now if one is free and nobody is waiting for one. */
  tryAcquire(): boolean {
    if (this.closed || this.waiters.length > 0) return false;
    return this.take();
  }

  /** Resolves when a slot is granted (in order of asking); rejects once the limiter is closed. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('rate limiter closed'));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Grants in the current window (for status and tests). */
  inWindow(): number {
    this.prune();
    return this.grants.length;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new Error('rate limiter closed'));
  }

  private prune(): void {
    const horizon = this.now() - this.windowMs;
    while (this.grants.length > 0 && this.grants[0]! <= horizon) this.grants.shift();
  }

  private take(): boolean {
    this.prune();
    if (this.grants.length >= this.limit) return false;
    this.grants.push(this.now());
    return true;
  }

  private schedule(): void {
    if (this.timer || this.waiters.length === 0) return;
    this.prune();
    const oldest = this.grants[0];
    const wait = oldest === undefined ? 0 : Math.max(0, oldest + this.windowMs - this.now() + 1);
    this.timer = setTimeout(() => {
      this.timer = null;
      while (this.waiters.length > 0 && this.take()) this.waiters.shift()!.resolve();
      this.schedule();
    }, wait);
  }
}
