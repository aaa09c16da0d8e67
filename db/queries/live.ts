import { and, asc, eq, gt, inArray, type SQL, sql } from 'drizzle-orm';
import { type CallStatus, callEvents, calls } from '../schema.ts';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

export type LiveEventRow = typeof callEvents.$inferSelect & { ownerId: string };

export interface LiveQuery {
  afterId: number;
  limit: number;
  ownerId?: string | null;
  callIds?: string[];
  statuses?: CallStatus[];
}

/** Call events after a cursor, in id order (which is commit order), with the owner of each call. */
export async function eventsAfter(db: Db, q: LiveQuery): Promise<LiveEventRow[]> {
  const where: SQL[] = [gt(callEvents.id, q.afterId)];
  if (q.ownerId) where.push(eq(calls.ownerId, q.ownerId));
  if (q.callIds?.length) where.push(inArray(callEvents.callId, q.callIds));
  if (q.statuses?.length) where.push(inArray(callEvents.status, q.statuses));
  const rows = await db
    .select({ e: callEvents, ownerId: calls.ownerId })
    .from(callEvents)
    .innerJoin(calls, eq(calls.id, callEvents.callId))
    .where(and(...where))
    .orderBy(asc(callEvents.id))
    .limit(q.limit);
  return rows.map((r) => ({ ...r.e, ownerId: r.ownerId }));
}

export async function latestEventId(db: Db): Promise<number> {
  const rows = rowsOf<{ id: string | number | null }>(
    await db.execute(sql`select max(id) as id from call_events`),
  );
  return Number(rows[0]?.id ?? 0);
}
