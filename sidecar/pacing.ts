/**
 * At most `limit` grants in any window of `windowMs`: a sliding log of grant times. Waiters are
 * served in arrival order. Time comes from `now()` and global timers, so tests can fake both.
 *
 * done() says that the request of a grant was answered (or given up on): that grant then counts
 * from that moment. The request reached its destination before its answer came, so however long
 * a grant takes to become a request (a busy event loop, a burst of commands, a new connection),
 * the receiving end never sees more than `limit` of them in a window. With `holdUntilDone`, a
 * grant also stays in the window until done(), however old it is.
 */
export class RateLimiter {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly holdUntilDone: boolean;
  /** Grant times, oldest first; `done` once the request it was for was answered. */
  private grants: Array<{ at: number; done: boolean }> = [];
  private readonly waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(options: { limit: number; windowMs: number; now?: () => number; holdUntilDone?: boolean }) {
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.now = options.now ?? Date.now;
    this.holdUntilDone = options.holdUntilDone ?? false;
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

  /** The request of the oldest grant not yet done was answered: that grant counts from now. */
  done(): void {
    const grant = this.grants.find((g) => !g.done);
    if (!grant) return;
    grant.at = this.now();
    grant.done = true;
    this.grants.sort((a, b) => a.at - b.at);
    // The oldest grant may have moved: the waiters' timer must follow it.
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.schedule();
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

  /** Whether the grant leaves the window with age (a held grant waits for done()). */
  private ages(grant: { done: boolean }): boolean {
    return grant.done || !this.holdUntilDone;
  }

  private prune(): void {
    const horizon = this.now() - this.windowMs;
    if (this.grants.some((g) => this.ages(g) && g.at <= horizon)) {
      this.grants = this.grants.filter((g) => !(this.ages(g) && g.at <= horizon));
    }
  }

  private take(): boolean {
    this.prune();
    if (this.grants.length >= this.limit) return false;
    this.grants.push({ at: this.now(), done: false });
    return true;
  }

  private schedule(): void {
    if (this.timer || this.waiters.length === 0) return;
    this.prune();
    let wait = 0;
    if (this.grants.length >= this.limit) {
      const oldest = this.grants.find((g) => this.ages(g))?.at;
      // Every slot is held by a request still out: done() schedules again.
      if (oldest === undefined) return;
      wait = Math.max(0, oldest + this.windowMs - this.now() + 1);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      while (this.waiters.length > 0 && this.take()) this.waiters.shift()!.resolve();
      this.schedule();
    }, wait);
  }
}
