import type { Socket } from 'bun';
import type { Conn } from './state.ts';

export interface Shape {
  latencyMs: number;
  jitterMs: number;
  bytesPerSecond: number;
}

/** Queued bytes above which the sending side is paused, and below which it resumes. */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 1 << 18;

/**
 * One direction of a connection: bytes wait until their release time (latency, bandwidth), are
 * written in order, and a FIN follows the last of them.
 */
export class Pipe {
  dest: Socket<Conn> | null = null;
  source: Socket<Conn> | null = null;
  delivered = 0;
  private readonly queue: { data: Uint8Array; at: number }[] = [];
  private queued = 0;
  private partial: Uint8Array | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastAt = 0;
  private nextFree = 0;
  private ending = false;
  private ended = false;
  private paused = false;

  push(data: Uint8Array, shape: Shape | null): void {
    if (this.ended || this.ending) return;
    const now = performance.now();
    if (!shape && this.queue.length === 0 && !this.partial && this.dest) {
      this.write(data);
      return;
    }
    const base = now + (shape ? shape.latencyMs + Math.random() * shape.jitterMs : 0);
    const rate = shape?.bytesPerSecond ?? 0;
    // Slices of about 20 ms worth of bytes, so that a throttled stream flows rather than bursts.
    const slice = rate > 0 ? Math.max(1, Math.floor(rate / 50)) : data.length;
    for (let offset = 0; offset < data.length; offset += slice) {
      const piece = data.slice(offset, offset + slice);
      let at = base;
      if (rate > 0) {
        this.nextFree = Math.max(this.nextFree, base) + (piece.length / rate) * 1000;
        at = this.nextFree;
      }
      // Jitter must never reorder bytes.
      at = Math.max(at, this.lastAt);
      this.lastAt = at;
      this.queue.push({ data: piece, at });
      this.queued += piece.length;
    }
    this.flow();
  }

  /** FIN after everything queued. */
  end(): void {
    if (this.ended) return;
    this.ending = true;
    this.flow();
  }

  /** Drops whatever waits (the direction died or the connection is going away). */
  discard(): number {
    const dropped = this.queued + (this.partial?.length ?? 0);
    this.queue.length = 0;
    this.queued = 0;
    this.partial = null;
    this.ending = false;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.resumeSource();
    return dropped;
  }

  pending(): number {
    return this.queued + (this.partial?.length ?? 0);
  }

  flow(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.dest || this.ended) return;
    if (this.partial) {
      const rest = this.partial;
      this.partial = null;
      if (!this.write(rest)) return;
    }
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.at <= now) {
      const { data } = this.queue.shift()!;
      this.queued -= data.length;
      if (!this.write(data)) return;
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => this.flow(), Math.max(0, this.queue[0]!.at - now));
    } else if (this.ending) {
      this.ending = false;
      this.ended = true;
      this.dest.end();
    }
    if (this.pending() < LOW_WATER) this.resumeSource();
    else if (this.pending() > HIGH_WATER) this.pauseSource();
  }

  /** Writes what the socket takes; keeps the rest for `drain`. False when it had to stop. */
  private write(data: Uint8Array): boolean {
    const dest = this.dest!;
    const written = dest.write(data);
    if (written < 0) {
      this.discard();
      return false;
    }
    this.delivered += written;
    if (written < data.length) {
      this.partial = data.slice(written);
      this.pauseSource();
      return false;
    }
    return true;
  }

  private pauseSource(): void {
    if (this.paused || !this.source) return;
    this.paused = true;
    this.source.pause();
  }

  private resumeSource(): void {
    if (!this.paused || !this.source) return;
    this.paused = false;
    this.source.resume();
  }
}
