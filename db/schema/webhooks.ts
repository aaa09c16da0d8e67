import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { callEvents, calls } from './calls.ts';
import { campaigns } from './campaigns.ts';
import { tz } from './columns.ts';

// The webhook outbox: a delivery per event (a call's or a campaign's) and every attempt at it.

/**
 * One webhook delivery per call event (or campaign change) that a status callback asked for, written in the same
 * transaction as the event (so none is lost) and worked off by the dispatcher with retries.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    // Whose delivery it is: a call's event (call_id and event_id), or a campaign's (campaign_id).
    callId: uuid('call_id').references(() => calls.id, { onDelete: 'cascade' }),
    eventId: bigint('event_id', { mode: 'number' }).references(() => callEvents.id, { onDelete: 'cascade' }),
    campaignId: uuid('campaign_id').references(() => campaigns.id, { onDelete: 'cascade' }),
    // A campaign.progress delivery's window (`<campaign id>:<window number>`, or `:final`): unique, so
    // that transactions racing in one window write one delivery between them.
    windowKey: text('window_key'),
    url: text('url').notNull(),
    // The exact JSON sent on every attempt; only the signature's timestamp changes between attempts.
    payload: text('payload').notNull(),
    state: text('state').$type<'pending' | 'delivered' | 'failed'>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tz('next_attempt_at').notNull().defaultNow(),
    lockedUntil: tz('locked_until'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    deliveredAt: tz('delivered_at'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_key').on(t.eventId),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.state} = 'pending'`),
    index('webhook_deliveries_call_idx').on(t.callId, t.id),
    index('webhook_deliveries_campaign_idx').on(t.campaignId, t.id).where(sql`${t.campaignId} is not null`),
    uniqueIndex('webhook_deliveries_window_key').on(t.windowKey),
    check(
      'webhook_deliveries_one_owner',
      sql`(${t.callId} is not null and ${t.eventId} is not null and ${t.campaignId} is null)
        or (${t.callId} is null and ${t.eventId} is null and ${t.campaignId} is not null)`,
    ),
  ],
);

/** Every attempt at a webhook delivery, kept for the call's owner to read. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    deliveryId: bigint('delivery_id', { mode: 'number' })
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    startedAt: tz('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
  },
  (t) => [uniqueIndex('webhook_attempts_delivery_attempt_key').on(t.deliveryId, t.attempt)],
);
