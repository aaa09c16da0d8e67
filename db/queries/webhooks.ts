import { asc, eq, inArray, sql } from 'drizzle-orm';
import { callEvents, webhookAttempts, webhookDeliveries } from '../schema.ts';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;

/**
 * Takes up to `limit` deliveries that are due, for `leaseSeconds`. Only the oldest pending delivery of
 * each call is taken, so a receiver sees a call's statuses in order; SKIP LOCKED lets several API
 * instances work the queue side by side without taking the same delivery.
 */
export async function claimDueDeliveries(db: Db, limit: number, leaseSeconds = 60): Promise<DeliveryRow[]> {
  const ids = rowsOf<{ id: number | string }>(
    await db.execute(sql`
      update webhook_deliveries set locked_until = now() + make_interval(secs => ${leaseSeconds}::int)
      where id in (
        select d.id from webhook_deliveries d
        where d.state = 'pending' and d.next_attempt_at <= now()
          and (d.locked_until is null or d.locked_until < now())
          and not exists (select 1 from webhook_deliveries e
                          where e.call_id = d.call_id and e.state = 'pending' and e.id < d.id)
        order by d.id
        limit ${limit}
        for update skip locked)
      returning id`),
  ).map((r) => Number(r.id));
  if (ids.length === 0) return [];
  return db
    .select()
    .from(webhookDeliveries)
    .where(inArray(webhookDeliveries.id, ids))
    .orderBy(asc(webhookDeliveries.id));
}

export interface AttemptOutcome {
  deliveryId: number;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  next: { state: 'delivered' } | { state: 'failed' } | { state: 'pending'; at: Date };
}

export async function recordAttempt(db: Db, o: AttemptOutcome): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .insert(webhookAttempts)
      .values({
        deliveryId: o.deliveryId,
        attempt: o.attempt,
        startedAt: o.startedAt,
        durationMs: o.durationMs,
        statusCode: o.statusCode,
        error: o.error,
      })
      .onConflictDoNothing();
    await tx
      .update(webhookDeliveries)
      .set({
        attempts: o.attempt,
        state: o.next.state,
        lastStatusCode: o.statusCode,
        lastError: o.error,
        lockedUntil: null,
        updatedAt: new Date(),
        ...(o.next.state === 'pending' ? { nextAttemptAt: o.next.at } : {}),
        ...(o.next.state === 'delivered' ? { deliveredAt: new Date() } : {}),
      })
      .where(eq(webhookDeliveries.id, o.deliveryId));
  });
}

export async function listDeliveriesForCall(db: Db, callId: string) {
  const deliveries = await db
    .select({ d: webhookDeliveries, seq: callEvents.seq, status: callEvents.status, type: callEvents.type })
    .from(webhookDeliveries)
    .innerJoin(callEvents, eq(callEvents.id, webhookDeliveries.eventId))
    .where(eq(webhookDeliveries.callId, callId))
    .orderBy(asc(webhookDeliveries.id));
  const attempts = deliveries.length
    ? await db
        .select()
        .from(webhookAttempts)
        .where(
          inArray(
            webhookAttempts.deliveryId,
            deliveries.map((x) => x.d.id),
          ),
        )
        .orderBy(asc(webhookAttempts.deliveryId), asc(webhookAttempts.attempt))
    : [];
  return deliveries.map((x) => ({ ...x, attempts: attempts.filter((a) => a.deliveryId === x.d.id) }));
}

/** When the next pending delivery falls due (a leased one included), or null when none is pending. */
export async function nextDeliveryDueAt(db: Db): Promise<Date | null> {
  const [row] = await db
    .select({ at: webhookDeliveries.nextAttemptAt, lockedUntil: webhookDeliveries.lockedUntil })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.state, 'pending'))
    .orderBy(asc(webhookDeliveries.nextAttemptAt))
    .limit(1);
  if (!row) return null;
  const at = new Date(row.at);
  const lockedUntil = row.lockedUntil ? new Date(row.lockedUntil) : null;
  return lockedUntil && lockedUntil > at ? lockedUntil : at;
}
