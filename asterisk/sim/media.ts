/**
 * One media queue per channel: ARI playbacks and recordings on a channel run one at a time, in
 * the order they were asked for. The next one starts in the same millisecond as the previous
 * one's PlaybackFinished or RecordingFinished (IVR.md, 44-ivr-playback-queue-and-control, 59).
 */

export interface MediaItem {
  /** Its turn has come. */
  begin(): void;
  /** The channel left Stasis while it ran (`hangup` or `continue`). */
  interrupt(why: 'hangup' | 'continue'): void;
  /** The channel left Stasis before its turn: it never runs and says nothing. */
  discard(): void;
}

export class MediaQueue {
  private running: MediaItem | null = null;
  private readonly waiting: MediaItem[] = [];

  get current(): MediaItem | null {
    return this.running;
  }

  /** Queues an item; it begins at once when nothing runs. */
  add(item: MediaItem): void {
    this.waiting.push(item);
    if (!this.running) this.next();
  }

  /** The running item is over: the next one begins. */
  finished(item: MediaItem): void {
    if (this.running !== item) return;
    this.running = null;
    this.next();
  }

  private next(): void {
    while (!this.running) {
      const item = this.waiting.shift();
      if (!item) return;
      this.running = item;
      item.begin();
    }
  }

  /** The channel leaves Stasis: the running item is interrupted, the waiting ones dropped. */
  clear(why: 'hangup' | 'continue'): void {
    const running = this.running;
    const waiting = this.waiting.splice(0);
    this.running = null;
    running?.interrupt(why);
    for (const item of waiting) item.discard();
  }
}
