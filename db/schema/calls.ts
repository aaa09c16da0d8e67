import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
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
import { ACTIVE_STATUSES, CALL_STATUSES, type CallStatus } from '../../api/shared/contract/index.ts';
import { inList, tz } from './columns.ts';
import { users } from './users.ts';

// Calls, their events (the ordered log every status comes from), idempotency keys, the sidecars that
// place them and the recordings they make.

export const calls = pgTable(
  'calls',
  {
    // The call id is also the ARI channel id of the originated leg.
    id: uuid('id').primaryKey(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id),
    phoneNumber: text('phone_number').notNull(),
    context: text('context').notNull(),
    extension: text('extension').notNull(),
    priority: integer('priority').notNull(),
    timeoutMs: integer('timeout_ms').notNull(),
    callerId: text('caller_id'),
    variables: jsonb('variables').$type<Record<string, string>>().notNull().default({}),
    status: text('status').$type<CallStatus>().notNull().default('pending'),
    reason: text('reason'),
    hangupCause: integer('hangup_cause'),
    hangupCauseTxt: text('hangup_cause_txt'),
    dialStatus: text('dial_status'),
    channel: text('channel'),
    sidecarId: text('sidecar_id'),
    attemptNumber: integer('attempt_number').notNull().default(1),
    statusCallback: text('status_callback'),
    statusCallbackEvents: jsonb('status_callback_events').$type<string[]>(),
    traceparent: text('traceparent'),
    lastEventSeq: integer('last_event_seq').notNull().default(0),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    dialedAt: tz('dialed_at'),
    answeredAt: tz('answered_at'),
    endedAt: tz('ended_at'),
    hangupRequestedAt: tz('hangup_requested_at'),
    // The flow the call runs once answered (its steps as sent to the sidecar), and the saved flow
    // and version it came from, if any.
    flow: jsonb('flow').$type<unknown[]>(),
    flowId: uuid('flow_id'),
    flowVersion: integer('flow_version'),
    // What the flow gave: answers by name, who answered (amd), how it ended and at which step.
    answers: jsonb('answers').$type<Record<string, unknown>>().notNull().default({}),
    answeredBy: text('answered_by'),
    flowOutcome: text('flow_outcome'),
    flowEndedStep: integer('flow_ended_step'),
    flowEndedStepId: text('flow_ended_step_id'),
    flowDetail: text('flow_detail'),
    // A campaign's attempt: the campaign and contact it dialled (its id is the attempt's call id).
    campaignId: uuid('campaign_id'),
    contactId: bigint('contact_id', { mode: 'number' }),
  },
  (t) => [
    index('calls_owner_created_idx').on(t.ownerId, t.createdAt.desc(), t.id.desc()),
    index('calls_created_idx').on(t.createdAt.desc(), t.id.desc()),
    index('calls_campaign_contact_idx').on(t.campaignId, t.contactId).where(sql`${t.campaignId} is not null`),
    index('calls_active_idx')
      .on(t.status)
      .where(sql`${t.status} in (${inList(ACTIVE_STATUSES)})`),
    check('calls_phone_number_length', sql`char_length(${t.phoneNumber}) between 7 and 20`),
    check('calls_attempt_number_positive', sql`${t.attemptNumber} >= 1`),
    check('calls_timeout_positive', sql`${t.timeoutMs} > 0`),
    check('calls_status_valid', sql`${t.status} in (${inList(CALL_STATUSES)})`),
  ],
);

export const callEvents = pgTable(
  'call_events',
  {
    // Global, ever-increasing: the cursor of the live event stream.
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    callId: uuid('call_id')
      .notNull()
      .references(() => calls.id, { onDelete: 'cascade' }),
    // The call's owner, copied (it never changes) so that one user's live stream reads an index range.
    ownerId: uuid('owner_id').notNull(),
    seq: integer('seq').notNull(),
    // Identity given by the producer (API or sidecar); applying an event twice is a no-op.
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    status: text('status').$type<CallStatus>().notNull(),
    reason: text('reason'),
    hangupCause: integer('hangup_cause'),
    hangupCauseTxt: text('hangup_cause_txt'),
    dialStatus: text('dial_status'),
    source: text('source').notNull(),
    // Flow events only: the step and what it gave (FlowEventDetail).
    flow: jsonb('flow').$type<Record<string, unknown>>(),
    occurredAt: tz('occurred_at').notNull(),
    recordedAt: tz('recorded_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('call_events_call_seq_key').on(t.callId, t.seq),
    uniqueIndex('call_events_event_id_key').on(t.eventId),
    index('call_events_owner_id_idx').on(t.ownerId, t.id),
  ],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    state: text('state').$type<'in_flight' | 'done'>().notNull().default('in_flight'),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    callId: uuid('call_id'),
    createdAt: tz('created_at').notNull().defaultNow(),
    expiresAt: tz('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.key] }), index('idempotency_keys_expires_idx').on(t.expiresAt)],
);

export const sidecars = pgTable('sidecars', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  // The sidecar's Ed25519 public key (JWK): event batches must be signed by it.
  publicKey: jsonb('public_key').$type<JsonWebKey>().notNull(),
  maxConcurrentCalls: integer('max_concurrent_calls'),
  originateCps: integer('originate_cps'),
  isActive: boolean('is_active').notNull().default(true),
  lastSeenAt: tz('last_seen_at'),
  createdAt: tz('created_at').notNull().defaultNow(),
  updatedAt: tz('updated_at').notNull().defaultNow(),
});

/**
 * Recordings a call's flow made on the PBX, by their ARI stored-recording name. The audio stays on
 * the PBX; the API streams it through the sidecar that holds it. Deleted (on the PBX first) with the
 * call's retention.
 */
export const callRecordings = pgTable(
  'call_recordings',
  {
    callId: uuid('call_id')
      .notNull()
      .references(() => calls.id, { onDelete: 'cascade' }),
    // The answer's name the recording is stored under (answers[name]).
    name: text('name').notNull(),
    // ARI's stored-recording name.
    recording: text('recording').notNull(),
    durationMs: integer('duration_ms').notNull(),
    sidecarId: text('sidecar_id'),
    format: text('format').notNull().default('wav'),
    recordedAt: tz('recorded_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.callId, t.name] }),
    uniqueIndex('call_recordings_recording_key').on(t.recording),
  ],
);
