/**
 * Every dialplan wait, answer delay, playback and originate timeout goes through one Timers
 * instance, so that the time scale applies everywhere and a restart can freeze all calls at once.
 */
export class Timers {
  private readonly pending = new Set<ReturnType<typeof setTimeout>>();
  private readonly origin = performance.now();
  /** With a time scale of 0 no real time passes: the clock is where the last timer was due. */
  private virtual = 0;

  constructor(
    private readonly scale: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Simulated milliseconds since this instance was made (what audio and AMD are timed by). */
  now(): number {
    return this.scale > 0 ? (performance.now() - this.origin) / this.scale : this.virtual;
  }

  /** Runs `fn` after `ms` simulated milliseconds; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void {
    const due = this.now() + Math.max(0, ms);
    const handle = setTimeout(
      () => {
        this.pending.delete(handle);
        if (this.scale === 0) this.virtual = Math.max(this.virtual, due);
        try {
          fn();
        } catch (err) {
          this.onError(err);
        }
      },
      Math.max(0, ms * this.scale),
    );
    this.pending.add(handle);
    return () => {
      clearTimeout(handle);
      this.pending.delete(handle);
    };
  }

  get size(): number {
    return this.pending.size;
  }

  clear(): void {
    for (const handle of this.pending) clearTimeout(handle);
    this.pending.clear();
  }
}

/** mulberry32: a tiny seeded generator, so "sometimes" behaviour repeats run after run. */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};
