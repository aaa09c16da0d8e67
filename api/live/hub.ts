import { eventsAfter, type LiveEventRow, latestEventId } from '../../db/queries/live.ts';
import type { CallStatus } from '../../db/schema.ts';
import type { Db } from '../../db/types.ts';
import type { Logger } from '../lib/logger.ts';

/**
 * Fans call events out to live subscribers. One poller per process reads new events in id order
 * (ids commit in order, see db/queries/calls.ts) every `pollMs`, or at once when this process has
 * just recorded some; each subscriber gets the events it may see, after its own cursor, exactly once.
 * A subscriber that resumes from an older cursor is first caught up from the database.
 */

export interface LiveFilter {
  /** null: every call (admins); otherwise only this user's calls. */
  ownerId: string | null;
  callIds?: string[];
  statuses?: CallStatus[];
}

export interface Subscriber {
  /** Receives events in order; returns false when the subscriber cannot take more (it is then dropped). */
  deliver(events: LiveEventRow[]): boolean;
  /** Called when the hub drops the subscriber. */
  close(reason: string): void;
  /** Resolves once what was delivered has been passed on; catching up waits for it between pages. */
  drained(): Promise<void>;
}

interface Sub {
  filter: LiveFilter;
  cursor: number;
  catchingUp: boolean;
  held: LiveEventRow[];
  sink: Subscriber;
  maxHeld: number;
}

const PAGE = 500;

function matches(f: LiveFilter, e: LiveEventRow): boolean {
  if (f.ownerId && e.ownerId !== f.ownerId) return false;
  if (f.callIds?.length && !f.callIds.includes(e.callId)) return false;
  if (f.statuses?.length && !f.statuses.includes(e.status)) return false;
  return true;
}

export class EventHub {
  private readonly subs = new Set<Sub>();
  private cursor: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private polling: Promise<void> | null = null;
  private pollAgain = false;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly options: { pollMs: number; maxHeld: number; logger: Logger },
  ) {}

  get size(): number {
    return this.subs.size;
  }

  /** Starts a subscription after `afterId` (null: from now on). Resolves when it is live. */
  async subscribe(filter: LiveFilter, afterId: number | null, sink: Subscriber): Promise<() => void> {
    const start = afterId ?? (await latestEventId(this.db));
    const sub: Sub = {
      filter,
      cursor: start,
      catchingUp: true,
      held: [],
      sink,
      maxHeld: this.options.maxHeld,
    };
    this.subs.add(sub);
    this.ensurePolling();
    try {
      // Catch up page by page, never handing over more than the subscriber may hold at once.
      const pageSize = Math.max(1, Math.min(PAGE, sub.maxHeld));
      for (;;) {
        const page = await eventsAfter(this.db, { afterId: sub.cursor, limit: pageSize, ...filter });
        if (!this.subs.has(sub)) break;
        if (page.length > 0) {
          if (!sub.sink.deliver(page)) {
            this.drop(sub, 'slow');
            break;
          }
          sub.cursor = page.at(-1)!.id;
        }
        if (page.length < pageSize) break;
        await sub.sink.drained();
        if (!this.subs.has(sub)) break;
      }
      if (this.subs.has(sub)) {
        sub.catchingUp = false;
        const held = sub.held.filter((e) => e.id > sub.cursor);
        sub.held = [];
        if (held.length > 0) {
          if (sub.sink.deliver(held)) sub.cursor = held.at(-1)!.id;
          else this.drop(sub, 'slow');
        }
      }
    } catch (error) {
      this.drop(sub, 'error');
      throw error;
    }
    return () => {
      this.subs.delete(sub);
    };
  }

  /** Wakes the poller now (this process just recorded events). */
  notify(): void {
    if (this.stopped || this.subs.size === 0) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poll(), 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    for (const sub of [...this.subs]) this.drop(sub, 'shutdown');
  }

  private drop(sub: Sub, reason: string) {
    if (!this.subs.delete(sub)) return;
    sub.sink.close(reason);
  }

  private ensurePolling() {
    if (this.timer || this.polling || this.stopped) return;
    this.timer = setTimeout(() => this.poll(), this.options.pollMs);
  }

  private poll() {
    this.timer = null;
    if (this.stopped) return;
    if (this.subs.size === 0) {
      this.cursor = null;
      return;
    }
    this.polling = (async () => {
      try {
        if (this.cursor === null) {
          const low = Math.min(...[...this.subs].map((s) => s.cursor));
          this.cursor = low;
        }
        for (;;) {
          const page = await eventsAfter(this.db, { afterId: this.cursor, limit: PAGE });
          if (page.length === 0) break;
          this.cursor = page.at(-1)!.id;
          this.dispatch(page);
          if (page.length < PAGE) break;
        }
      } catch (error) {
        this.options.logger.warn('live event poll failed', { error });
      } finally {
        this.polling = null;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.timer = setTimeout(() => this.poll(), 0);
        } else {
          this.ensurePolling();
        }
      }
    })();
  }

  private dispatch(events: LiveEventRow[]) {
    for (const sub of [...this.subs]) {
      const mine = events.filter((e) => e.id > sub.cursor && matches(sub.filter, e));
      if (mine.length === 0) continue;
      if (sub.catchingUp) {
        sub.held.push(...mine);
        if (sub.held.length > sub.maxHeld) this.drop(sub, 'slow');
        continue;
      }
      if (sub.sink.deliver(mine)) sub.cursor = mine.at(-1)!.id;
      else this.drop(sub, 'slow');
    }
  }
}
