import { and, asc, eq, gt, gte, inArray, or, type SQL, sql } from 'drizzle-orm';
import { CAMPAIGN_COUNTERS, type CallStatus, type CampaignState } from '../../api/shared/contract/index.ts';
import { callEvents, campaignCounters, campaigns, liveStreams } from '../schema.ts';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

/** A call event with its call's owner, as the live stream filters and delivers it. */
export type LiveEventRow = typeof callEvents.$inferSelect;

export interface LiveQuery {
  afterId: number;
  limit: number;
  ownerId?: string | null;
  callIds?: string[];
  statuses?: CallStatus[];
}

/**
 * Call events after a cursor, in id order (which is commit order). One owner's events are an
 * index range (call_events_owner_id_idx); everyone's are the primary key's.
 */
export function eventsAfterQuery(db: Db, q: LiveQuery) {
  const where: SQL[] = [gt(callEvents.id, q.afterId)];
  if (q.ownerId) where.push(eq(callEvents.ownerId, q.ownerId));
  if (q.callIds?.length) where.push(inArray(callEvents.callId, q.callIds));
  if (q.statuses?.length) where.push(inArray(callEvents.status, q.statuses));
  return db
    .select()
    .from(callEvents)
    .where(and(...where))
    .orderBy(asc(callEvents.id))
    .limit(q.limit);
}

export async function eventsAfter(db: Db, q: LiveQuery): Promise<LiveEventRow[]> {
  return eventsAfterQuery(db, q);
}

/**
 * How many events of one owner (null: of everyone) came after a cursor, counted no further than
 * `max + 1`: the index range it reads is bounded however far behind the cursor is.
 */
export async function countEventsAfter(
  db: Db,
  q: { afterId: number; ownerId: string | null; max: number },
): Promise<number> {
  const owner = q.ownerId ? sql`and owner_id = ${q.ownerId}` : sql``;
  const rows = rowsOf<{ n: string | number }>(
    await db.execute(
      sql`select count(*) as n from (select 1 from call_events where id > ${q.afterId} ${owner} limit ${q.max + 1}) t`,
    ),
  );
  return Number(rows[0]?.n ?? 0);
}

export async function latestEventId(db: Db): Promise<number> {
  const rows = rowsOf<{ id: string | number | null }>(
    await db.execute(sql`select max(id) as id from call_events`),
  );
  return Number(rows[0]?.id ?? 0);
}

/**
 * Records an open stream of `userId` unless that user already has `max` open (in any instance).
 * The row is written first and counted after, each statement committed on its own: of streams
 * opened at the same moment, the last to count sees all the others, so the cap is never exceeded
 * (a race may refuse one that would have fitted; it is told to retry). Expired rows of the user
 * (an instance that died) go on the way. Returns whether the stream may open.
 */
export async function openLiveStream(
  db: Db,
  lease: { id: string; userId: string; ttlSeconds: number; max: number },
): Promise<boolean> {
  await db.execute(sql`with expired as (
      delete from live_streams where user_id = ${lease.userId} and expires_at < now()
    )
    insert into live_streams (id, user_id, expires_at)
    values (${lease.id}, ${lease.userId}, now() + make_interval(secs => ${lease.ttlSeconds}::int))`);
  const rows = rowsOf<{ n: string | number }>(
    await db.execute(
      sql`select count(*) as n from live_streams where user_id = ${lease.userId} and expires_at > now()`,
    ),
  );
  if (Number(rows[0]?.n ?? 0) <= lease.max) return true;
  await closeLiveStreams(db, [lease.id]);
  return false;
}

/** Keeps this instance's open streams counted for another `ttlSeconds`. */
export async function renewLiveStreams(db: Db, ids: string[], ttlSeconds: number): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(liveStreams)
    .set({ expiresAt: sql`now() + make_interval(secs => ${ttlSeconds}::int)` })
    .where(inArray(liveStreams.id, ids));
}

export async function closeLiveStreams(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.delete(liveStreams).where(inArray(liveStreams.id, ids));
}

/** A campaign as the live stream shows its progress: its owner, state and counters. */
export interface LiveCampaignRow {
  id: string;
  ownerId: string;
  state: CampaignState;
  counters: Record<string, number>;
}

export interface LiveCampaignsQuery {
  /** null: everyone's campaigns; otherwise only these owners'. */
  ownerIds: string[] | null;
  /** Campaigns to read whatever their state (those last seen running or paused: their end shows). */
  known: string[];
  /** And those that finished since. */
  finishedSince: Date;
}

/**
 * The progress of the campaigns whose counters can move (running, paused), of `known` ones and of
 * those finished since `finishedSince`, in one read: the live hub's, once a period per process,
 * whatever number of streams follow them. The counters are the rows the work keeps (no count over
 * contacts), so the read costs a few rows per campaign.
 */
export async function liveCampaigns(db: Db, q: LiveCampaignsQuery): Promise<LiveCampaignRow[]> {
  if (q.ownerIds?.length === 0) return [];
  const which = or(
    inArray(campaigns.state, ['running', 'paused']),
    gte(campaigns.finishedAt, q.finishedSince),
    ...(q.known.length > 0 ? [inArray(campaigns.id, q.known)] : []),
  )!;
  const rows = await db
    .select({
      id: campaigns.id,
      ownerId: campaigns.ownerId,
      state: campaigns.state,
      name: campaignCounters.name,
      value: campaignCounters.value,
    })
    .from(campaigns)
    .leftJoin(campaignCounters, eq(campaignCounters.campaignId, campaigns.id))
    .where(q.ownerIds ? and(which, inArray(campaigns.ownerId, q.ownerIds)) : which);
  const out = new Map<string, LiveCampaignRow>();
  for (const r of rows) {
    let c = out.get(r.id);
    if (!c) {
      c = {
        id: r.id,
        ownerId: r.ownerId,
        state: r.state,
        counters: Object.fromEntries(CAMPAIGN_COUNTERS.map((n) => [n, 0])),
      };
      out.set(r.id, c);
    }
    if (r.name !== null) c.counters[r.name] = Number(r.value);
  }
  return [...out.values()];
}
