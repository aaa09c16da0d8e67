import { asc, eq, inArray, sql } from 'drizzle-orm';
import { callEvents, webhookAttempts, webhookDeliveries } from '../schema.ts';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/**
 * The endpoint a delivery goes to: its URL's scheme and authority (host and port) as written, in lower
 * case. Deliveries to one endpoint share its concurrency limit. The same expression runs in SQL.
 */
const ENDPOINT_PATTERN = '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*';
const ENDPOINT = new RegExp(ENDPOINT_PATTERN);

export function deliveryEndpoint(url: string): string {
  return (ENDPOINT.exec(url)?.[0] ?? '').toLowerCase();
}

export interface ClaimOptions {
  /** Deliveries to take at most. */
  limit: number;
  /** Deliveries one endpoint may have in flight, those in `busy` included. */
  perEndpoint: number;
  /** Deliveries this instance has in flight now, by endpoint (`deliveryEndpoint`). */
  busy: ReadonlyMap<string, number>;
  /** How long the taken deliveries are leased to this instance. */
  leaseSeconds: number;
}

/**
 * Takes up to `limit` deliveries that are due, for `leaseSeconds`, leaving each endpoint no more than
 * `perEndpoint` in flight: an endpoint already at its limit is passed over, so its backlog cannot fill
 * the batch ahead of other endpoints' deliveries. Only the oldest pending delivery of each call (and
 * of each campaign) is taken, so a receiver sees a call's statuses, and a campaign's, in order;
 * SKIP LOCKED lets several API instances work the queue side by side without taking the same delivery.
 */
export async function claimDueDeliveries(db: Db, options: ClaimOptions): Promise<DeliveryRow[]> {
  const { limit, perEndpoint, leaseSeconds } = options;
  if (limit <= 0) return [];
  // Sent as text and cast: some drivers encode a parameter typed jsonb as a JSON string once more.
  const busy = JSON.stringify(Object.fromEntries(options.busy));
  const endpoint = sql`coalesce(lower(substring(d.url from ${ENDPOINT_PATTERN})), '')`;
  const ids = rowsOf<{ id: number | string }>(
    await db.execute(sql`
      update webhook_deliveries set locked_until = now() + make_interval(secs => ${leaseSeconds}::int)
      where id in (
        select r.id from (
          select c.id,
                 row_number() over (partition by c.endpoint order by c.id)
                   + coalesce((${busy}::text::jsonb ->> c.endpoint)::int, 0) as nth
          from (
            select d.id, ${endpoint} as endpoint from webhook_deliveries d
            where d.state = 'pending' and d.next_attempt_at <= now()
              and (d.locked_until is null or d.locked_until < now())
              and not exists (select 1 from webhook_deliveries e
                              where e.call_id = d.call_id and e.state = 'pending' and e.id < d.id)
              and not exists (select 1 from webhook_deliveries e
                              where e.campaign_id = d.campaign_id and e.state = 'pending' and e.id < d.id)
              and coalesce((${busy}::text::jsonb ->> ${endpoint})::int, 0) < ${perEndpoint}
            order by d.id
            limit ${limit * 4}
            for update skip locked) c
        ) r
        where r.nth <= ${perEndpoint}
        order by r.id
        limit ${limit})
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
