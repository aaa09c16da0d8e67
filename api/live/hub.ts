import { lapsedApiKeys } from '../../db/queries/api-keys.ts';
import {
  countEventsAfter,
  eventsAfter,
  type LiveCampaignRow,
  type LiveEventRow,
  latestEventId,
  liveCampaigns,
} from '../../db/queries/live.ts';
import { getAuthSubjects } from '../../db/queries/users.ts';
import type { Db } from '../../db/types.ts';
import { type Grant, grantLost } from '../auth/authority.ts';
import type { Logger } from '../shared/base/log.ts';
import type { CallStatus, CampaignProgress } from '../shared/contract/index.ts';
import { StreamLeases } from './leases.ts';

/**
 * Fans call events out to live subscribers. One poller per process reads new events in id order
 * (ids commit in order, see db/queries/calls.ts) every `pollMs`, or at once when this process has
 * just recorded some; each subscriber gets the events it may see, after its own cursor, exactly once.
 * A subscriber that resumes from an older cursor is first caught up from the database, within a
 * bounded window, a bounded number of catch-up reads at a time.
 *
 * Every subscriber holds a grant (its token and the role it was let in with). Before any delivery
 * the grants of the subscribers about to receive events are checked against the database, read
 * after the events were, and every `revalidateMs` all of them are: a revoked token, a user logged
 * out everywhere, reset, deactivated or given another role, or an expired token drops the
 * subscriber, and nothing recorded after the change reaches it. A subscriber let in with an API key
 * is dropped likewise when the key is revoked or expires.
 *
 * Subscribers that follow campaigns also get their progress: snapshots (state and counters), not
 * events, so they have no place in the event order and no cursor. At most every
 * `campaignProgressMs` the poller reads the campaigns that can move in one query for the whole
 * process (live.ts, liveCampaigns), and each such subscriber gets the snapshot of every campaign it
 * may see whose state or counters differ from the last it was given: at most one per campaign per
 * period, the last one showing where the campaign ended. The counters are read, not signalled, so
 * the engine's transactions write nothing more for the stream.
 */

export interface LiveFilter {
  /** null: every call (admins); otherwise only this user's calls. */
  ownerId: string | null;
  callIds?: string[];
  statuses?: CallStatus[];
  /** Call events (default true). */
  calls?: boolean;
  /** Campaigns' progress (default false). */
  campaigns?: boolean;
  /** Only these campaigns' progress. */
  campaignIds?: string[];
}

export interface Subscriber {
  /** Receives events in order; returns false when the subscriber cannot take more (it is then dropped). */
  deliver(events: LiveEventRow[]): boolean;
  /** Receives campaigns' progress (filter.campaigns); returns false when it cannot take more. */
  progress?(snapshots: CampaignProgress[]): boolean;
  /** Called when the hub drops the subscriber. */
  close(reason: string): void;
  /** Resolves once what was delivered has been passed on; catching up waits for it between pages. */
  drained(): Promise<void>;
}

export interface HubOptions {
  pollMs: number;
  maxHeld: number;
  logger: Logger;
  /** How often every subscriber's grant is checked, besides before each delivery. */
  revalidateMs: number;
  /** Further behind than this many events (of its owner; of everyone for admins), a stream starts afresh. */
  maxCatchUp: number;
  /** Catch-up reads at once, so that a burst of resuming streams cannot take the database pool. */
  catchUpConcurrency: number;
  /** Open streams per user, across instances (StreamLeases). */
  maxStreamsPerUser: number;
  /** Campaigns' progress is read (and goes out) at most this often (CAMPAIGN_PROGRESS_STREAM_MS). */
  campaignProgressMs: number;
}

interface Sub {
  filter: LiveFilter;
  grant: Grant;
  cursor: number;
  /** The newest event when the subscription began: catching up covers everything up to it. */
  liveFrom: number;
  catchingUp: boolean;
  held: LiveEventRow[];
  sink: Subscriber;
  maxHeld: number;
  /** Per campaign, what the subscriber was last given (state and counters). */
  shown: Map<string, string>;
}

const PAGE = 500;
/** A lease on a stream's place lives this long unless its instance renews it. */
const LEASE_TTL_SECONDS = 60;
/**
 * Campaigns that finished this recently are read too: one that started and ended between two reads,
 * or whose last attempts end after a cancel, still shows where it ended.
 */
const FINISHED_GRACE_MS = 60_000;

function matches(f: LiveFilter, e: LiveEventRow): boolean {
  if (f.calls === false) return false;
  if (f.ownerId && e.ownerId !== f.ownerId) return false;
  if (f.callIds?.length && !f.callIds.includes(e.callId)) return false;
  if (f.statuses?.length && !f.statuses.includes(e.status)) return false;
  return true;
}

function showsCampaign(f: LiveFilter, c: LiveCampaignRow): boolean {
  if (f.ownerId && c.ownerId !== f.ownerId) return false;
  if (f.campaignIds?.length && !f.campaignIds.includes(c.id)) return false;
  return true;
}

export class EventHub {
  private readonly subs = new Set<Sub>();
  private readonly leases: StreamLeases;
  private cursor: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private revalidateTimer: ReturnType<typeof setTimeout> | null = null;
  private polling: Promise<void> | null = null;
  private pollAgain = false;
  private stopped = false;
  /** Grants to check in the next round trip: callers in the same tick share one. */
  private batch: { subs: Set<Sub>; done: Promise<void> } | null = null;
  private catchUpsRunning = 0;
  private readonly catchUpsWaiting: Array<() => void> = [];
  private campaignsReadAt = 0;
  /** Campaigns last read running or paused: read again whatever their state, so their end shows. */
  private movingCampaigns = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly options: HubOptions,
  ) {
    this.leases = new StreamLeases(db, {
      max: options.maxStreamsPerUser,
      ttlSeconds: LEASE_TTL_SECONDS,
      logger: options.logger,
    });
  }

  get size(): number {
    return this.subs.size;
  }

  /**
   * Takes one of `userId`'s stream places: resolves to the function that gives it back, or to null
   * when the user already has `maxStreamsPerUser` streams open.
   */
  async admit(userId: string): Promise<(() => Promise<void>) | null> {
    const lease = await this.leases.acquire(userId);
    return lease === null ? null : () => this.leases.release(lease);
  }

  /**
   * Where a stream resuming after `afterId` (null: not resuming) starts. More than `maxCatchUp`
   * events of `ownerId` (null: of everyone) behind, it starts at the newest event instead, `missed`.
   */
  resumePoint(ownerId: string | null, afterId: number | null): Promise<{ start: number; missed: boolean }> {
    return this.catchUpSlot(async () => {
      if (afterId !== null) {
        const max = this.options.maxCatchUp;
        if ((await countEventsAfter(this.db, { afterId, ownerId, max })) <= max) {
          return { start: afterId, missed: false };
        }
      }
      return { start: await latestEventId(this.db), missed: afterId !== null };
    });
  }

  /** Starts a subscription after `start` (see resumePoint). Resolves when it is live. */
  async subscribe(filter: LiveFilter, start: number, sink: Subscriber, grant: Grant): Promise<() => void> {
    const liveFrom = Math.max(start, await latestEventId(this.db));
    const sub: Sub = {
      filter,
      grant,
      cursor: start,
      liveFrom,
      catchingUp: true,
      held: [],
      sink,
      maxHeld: this.options.maxHeld,
      shown: new Map(),
    };
    this.subs.add(sub);
    this.ensurePolling();
    this.ensureRevalidating();
    try {
      // Catch up page by page, never handing over more than the subscriber may hold at once.
      const pageSize = Math.max(1, Math.min(PAGE, sub.maxHeld));
      while (filter.calls !== false) {
        const page = await this.catchUpSlot(() =>
          eventsAfter(this.db, { afterId: sub.cursor, limit: pageSize, ...filter }),
        );
        if (!this.subs.has(sub)) break;
        if (page.length > 0) {
          await this.verify([sub]);
          if (!this.subs.has(sub)) break;
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
        // What the poller held meanwhile was checked before it was held.
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
    if (this.revalidateTimer) clearTimeout(this.revalidateTimer);
    await this.polling;
    for (const sub of [...this.subs]) this.drop(sub, 'shutdown');
    await this.leases.stop();
  }

  private drop(sub: Sub, reason: string) {
    if (!this.subs.delete(sub)) return;
    sub.sink.close(reason);
  }

  /** Runs a catch-up read when one of `catchUpConcurrency` places is free. */
  private async catchUpSlot<T>(read: () => Promise<T>): Promise<T> {
    if (this.catchUpsRunning >= this.options.catchUpConcurrency) {
      await new Promise<void>((resolve) => this.catchUpsWaiting.push(resolve));
    } else {
      this.catchUpsRunning++;
    }
    try {
      return await read();
    } finally {
      const next = this.catchUpsWaiting.shift();
      if (next) next();
      else this.catchUpsRunning--;
    }
  }

  /**
   * Checks the grants of `subs` in one round trip shared with every other caller in this tick, and
   * drops those that no longer hold. Rejects when the check could not be made.
   */
  private verify(subs: Iterable<Sub>): Promise<void> {
    let batch = this.batch;
    if (!batch) {
      const created = { subs: new Set<Sub>(), done: Promise.resolve() };
      created.done = Promise.resolve().then(() => {
        if (this.batch === created) this.batch = null;
        return this.check([...created.subs]);
      });
      this.batch = batch = created;
    }
    for (const sub of subs) batch.subs.add(sub);
    return batch.done;
  }

  private async check(subs: Sub[]): Promise<void> {
    const open = subs.filter((s) => this.subs.has(s));
    if (open.length === 0) return;
    const keyIds = [...new Set(open.flatMap((s) => (s.grant.keyId ? [s.grant.keyId] : [])))];
    const [now, lapsedKeys] = await Promise.all([
      getAuthSubjects(
        this.db,
        [...new Set(open.map((s) => s.grant.userId))],
        [...new Set(open.map((s) => s.grant.jti))],
      ),
      lapsedApiKeys(this.db, keyIds),
    ]);
    const at = Date.now();
    for (const sub of open) {
      const user = now.users.get(sub.grant.userId);
      const revoked = sub.grant.keyId ? lapsedKeys.has(sub.grant.keyId) : now.revoked.has(sub.grant.jti);
      const reason = grantLost(sub.grant, user ? { ...user, revoked } : null, at);
      if (reason) this.drop(sub, reason);
    }
  }

  private ensureRevalidating() {
    if (this.revalidateTimer || this.stopped) return;
    this.revalidateTimer = setTimeout(async () => {
      if (this.subs.size > 0) {
        try {
          await this.verify([...this.subs]);
        } catch (error) {
          // Nothing is delivered unchecked meanwhile: each delivery checks again, and fails closed.
          this.options.logger.warn('live stream revalidation failed', { error });
        }
      }
      this.revalidateTimer = null;
      if (this.subs.size > 0) this.ensureRevalidating();
    }, this.options.revalidateMs);
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
        // The poller fans out what is new; the backlog of a subscriber catching up is read by its
        // own catch-up, page by page as it drains, never all at once into what it holds.
        if (this.cursor === null) {
          this.cursor = Math.min(...[...this.subs].map((s) => Math.max(s.cursor, s.liveFrom)));
        }
        for (;;) {
          const page = await eventsAfter(this.db, { afterId: this.cursor, limit: PAGE });
          if (page.length === 0) break;
          this.cursor = page.at(-1)!.id;
          await this.dispatch(page);
          if (page.length < PAGE) break;
        }
      } catch (error) {
        this.options.logger.warn('live event poll failed', { error });
      }
      try {
        await this.pollCampaigns();
      } catch (error) {
        this.options.logger.warn('live campaign poll failed', { error });
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

  /** Reads the campaigns' progress (at most every campaignProgressMs) and hands out what changed. */
  private async pollCampaigns() {
    const now = Date.now();
    if (now - this.campaignsReadAt < this.options.campaignProgressMs) return;
    const followers = [...this.subs].filter((s) => s.filter.campaigns && !s.catchingUp);
    if (followers.length === 0) return;
    this.campaignsReadAt = now;
    const owners = followers.map((s) => s.filter.ownerId);
    const rows = await liveCampaigns(this.db, {
      ownerIds: owners.includes(null) ? null : [...new Set(owners as string[])],
      known: [...this.movingCampaigns],
      finishedSince: new Date(now - FINISHED_GRACE_MS),
    });
    this.movingCampaigns = new Set(
      rows.filter((r) => r.state === 'running' || r.state === 'paused').map((r) => r.id),
    );
    const at = new Date(now).toISOString();
    const seen = new Map(rows.map((r) => [r.id, `${r.state} ${JSON.stringify(r.counters)}`]));
    const changed = (sub: Sub) =>
      rows.filter((r) => showsCampaign(sub.filter, r) && sub.shown.get(r.id) !== seen.get(r.id));
    const recipients = followers.filter((sub) => changed(sub).length > 0);
    if (recipients.length > 0) {
      try {
        await this.verify(recipients);
      } catch (error) {
        this.options.logger.warn('live stream grant check failed', { error });
        for (const sub of recipients) this.drop(sub, 'error');
        return;
      }
    }
    for (const sub of followers) {
      if (!this.subs.has(sub)) continue;
      const mine = changed(sub);
      // Campaigns no longer read are forgotten: they have ended and will not be read again.
      for (const id of sub.shown.keys()) if (!seen.has(id)) sub.shown.delete(id);
      if (mine.length === 0) continue;
      const snapshots = mine.map((r) => ({ campaign_id: r.id, state: r.state, counters: r.counters, at }));
      if (!sub.sink.progress?.(snapshots)) {
        this.drop(sub, 'slow');
        continue;
      }
      for (const r of mine) sub.shown.set(r.id, seen.get(r.id)!);
    }
  }

  private async dispatch(events: LiveEventRow[]) {
    const wanted = (sub: Sub) => events.filter((e) => e.id > sub.cursor && matches(sub.filter, e));
    const recipients = [...this.subs].filter((sub) => wanted(sub).length > 0);
    if (recipients.length === 0) return;
    try {
      await this.verify(recipients);
    } catch (error) {
      // Unchecked, nothing goes out: the streams end, and their clients resume with Last-Event-ID.
      this.options.logger.warn('live stream grant check failed', { error });
      for (const sub of recipients) this.drop(sub, 'error');
      return;
    }
    for (const sub of recipients) {
      if (!this.subs.has(sub)) continue;
      const mine = wanted(sub);
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
