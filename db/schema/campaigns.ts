import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import {
  CAMPAIGN_STATES,
  type CallingWindow,
  type CampaignCallbackEvent,
  type CampaignState,
  CONTACT_STATES,
  type ContactState,
  type RetryPolicy,
} from '../../api/shared/contract/index.ts';
import { inList, tz } from './columns.ts';
import { users } from './users.ts';

// Campaigns, their contacts, attempts and counters, and the do-not-call list.

/**
 * Campaigns: a list of contacts called inside each contact's hours (windows in the contact's time
 * zone, else the campaign's), retried by outcome, at a pace. What answered calls do: a saved flow's
 * version, or the dialplan target (context/extension/priority).
 */
export const campaigns = pgTable(
  'campaigns',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id),
    name: text('name').notNull(),
    state: text('state').$type<CampaignState>().notNull().default('draft'),
    flowId: uuid('flow_id'),
    flowVersion: integer('flow_version'),
    context: text('context'),
    extension: text('extension'),
    priority: integer('priority'),
    callerId: text('caller_id'),
    timezone: text('timezone').notNull(),
    windows: jsonb('windows').$type<CallingWindow[]>().notNull(),
    startsAt: tz('starts_at'),
    endsAt: tz('ends_at'),
    retry: jsonb('retry').$type<RetryPolicy>().notNull().default({}),
    maxAttemptsPerDay: integer('max_attempts_per_day').notNull().default(1),
    cps: integer('cps').notNull().default(1),
    maxConcurrent: integer('max_concurrent').notNull().default(10),
    ringTimeoutMs: integer('ring_timeout_ms').notNull().default(30_000),
    variables: jsonb('variables').$type<Record<string, string>>().notNull().default({}),
    // Where campaign webhooks go, and which (CAMPAIGN_CALLBACK_EVENTS; null: all of them).
    statusCallback: text('status_callback'),
    statusCallbackEvents: jsonb('status_callback_events').$type<CampaignCallbackEvent[]>(),
    // Pacing: the earliest time the next attempt may be leased (cps), moved forward by each lease.
    nextLeaseAt: tz('next_lease_at').notNull().defaultNow(),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    startedAt: tz('started_at'),
    finishedAt: tz('finished_at'),
  },
  (t) => [
    index('campaigns_owner_created_idx').on(t.ownerId, t.createdAt.desc(), t.id.desc()),
    index('campaigns_created_idx').on(t.createdAt.desc(), t.id.desc()),
    index('campaigns_running_idx').on(t.nextLeaseAt).where(sql`${t.state} = 'running'`),
    check('campaigns_state_valid', sql`${t.state} in (${inList(CAMPAIGN_STATES)})`),
    check('campaigns_name_length', sql`char_length(${t.name}) between 1 and 100`),
    check('campaigns_pacing_positive', sql`${t.cps} >= 1 and ${t.maxConcurrent} >= 1`),
  ],
);

/**
 * A campaign's contacts, one per number (E.164, merged on import). `next_attempt_at` is when its next
 * attempt is due (null: none is); the engine leases due pending contacts with FOR UPDATE SKIP LOCKED.
 */
export const campaignContacts = pgTable(
  'campaign_contacts',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    phoneNumber: text('phone_number').notNull(),
    timezone: text('timezone'),
    variables: jsonb('variables').$type<Record<string, string>>().notNull().default({}),
    state: text('state').$type<ContactState>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    // Attempts on the contact's local day `attempts_day` (max_attempts_per_day).
    attemptsToday: integer('attempts_today').notNull().default(0),
    attemptsDay: text('attempts_day'),
    nextAttemptAt: tz('next_attempt_at'),
    lastCallId: uuid('last_call_id'),
    lastOutcome: text('last_outcome'),
    finalOutcome: text('final_outcome'),
    answeredBy: text('answered_by'),
    // The row of the import it came from (1-based, the header not counted), for reports.
    sourceRow: integer('source_row'),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('campaign_contacts_number_key').on(t.campaignId, t.phoneNumber),
    // In the lease's order (next_attempt_at, id): the first due contacts are read, never sorted.
    index('campaign_contacts_due_order_idx')
      .on(t.campaignId, t.nextAttemptAt, t.id)
      .where(sql`${t.state} = 'pending'`),
    index('campaign_contacts_state_idx').on(t.campaignId, t.state, t.id),
    // A campaign's contacts in import order: its pages never walk the rows of the campaigns before it.
    index('campaign_contacts_campaign_idx').on(t.campaignId, t.id),
    check('campaign_contacts_state_valid', sql`${t.state} in (${inList(CONTACT_STATES)})`),
  ],
);

/**
 * Every attempt at a contact: its call id is given when it is leased, before anything is dialled, so
 * a crash anywhere never rings the contact twice for one attempt.
 */
export const campaignAttempts = pgTable(
  'campaign_attempts',
  {
    callId: uuid('call_id').primaryKey(),
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    contactId: bigint('contact_id', { mode: 'number' })
      .notNull()
      .references(() => campaignContacts.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    sidecarId: text('sidecar_id'),
    leasedAt: tz('leased_at').notNull().defaultNow(),
    // Until then the sidecar that took it must have reported the call; after, it ends `lost`.
    leaseExpiresAt: tz('lease_expires_at').notNull(),
    outcome: text('outcome'),
    endedAt: tz('ended_at'),
  },
  (t) => [
    uniqueIndex('campaign_attempts_contact_attempt_key').on(t.contactId, t.attempt),
    index('campaign_attempts_open_idx').on(t.leaseExpiresAt).where(sql`${t.outcome} is null`),
    index('campaign_attempts_campaign_idx').on(t.campaignId, t.leasedAt),
    // The timeline of outcomes per minute reads a campaign's recently ended attempts, whenever leased.
    index('campaign_attempts_ended_idx').on(t.campaignId, t.endedAt).where(sql`${t.endedAt} is not null`),
  ],
);

/** A campaign's counters (CAMPAIGN_COUNTERS), kept in the same transactions as the work they count. */
export const campaignCounters = pgTable(
  'campaign_counters',
  {
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    value: bigint('value', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.name] })],
);

/** The do-not-call list: checked when an attempt is leased; a flow may add its callee. */
export const dncNumbers = pgTable(
  'dnc_numbers',
  {
    phoneNumber: text('phone_number').primaryKey(),
    source: text('source').$type<'api' | 'flow' | 'import'>().notNull().default('api'),
    note: text('note'),
    addedBy: uuid('added_by'),
    addedAt: tz('added_at').notNull().defaultNow(),
  },
  // The list's pages, newest first.
  (t) => [index('dnc_numbers_added_idx').on(t.addedAt.desc(), t.phoneNumber.desc())],
);
