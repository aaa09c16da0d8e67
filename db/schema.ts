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
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import {
  ACTIVE_STATUSES,
  CALL_STATUSES,
  CAMPAIGN_STATES,
  type CallingWindow,
  type CallStatus,
  type CampaignCallbackEvent,
  type CampaignState,
  CONTACT_STATES,
  type ContactState,
  type RetryPolicy,
  type Scope,
} from '../api/shared/contract/index.ts';

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

// Millisecond precision, as JavaScript dates have: keyset cursors then compare exactly.
const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });
const inList = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // As it was given; shown, never compared.
    username: text('username').notNull(),
    // What uniqueness, login and throttling compare: canonicalUsername(username) (db/username.ts).
    usernameCanonical: text('username_canonical').notNull(),
    passwordHash: text('password_hash').notNull(),
    role: text('role').$type<Role>().notNull().default('operator'),
    isActive: boolean('is_active').notNull().default(true),
    // Bumped on password reset: every token minted before carries an older version and stops working.
    tokenVersion: integer('token_version').notNull().default(1),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    lastLoginAt: tz('last_login_at'),
    createdBy: uuid('created_by'),
    // False for a service user, which acts only through API keys: a login with any password fails.
    canLogin: boolean('can_login').notNull().default(true),
  },
  (t) => [
    uniqueIndex('users_username_canonical_key').on(t.usernameCanonical),
    check('users_username_length', sql`char_length(${t.username}) >= 3`),
    check('users_role_valid', sql`${t.role} in (${inList(ROLES)})`),
  ],
);

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

export const revokedTokens = pgTable(
  'revoked_tokens',
  {
    jti: text('jti').primaryKey(),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    revokedAt: tz('revoked_at').notNull().defaultNow(),
    // After this the token is expired anyway and the row can go.
    expiresAt: tz('expires_at').notNull(),
  },
  (t) => [index('revoked_tokens_expires_idx').on(t.expiresAt)],
);

/**
 * Refresh tokens for people (RFC 9700 §4.14): one row per token ever issued, kept by the SHA-256 of
 * its secret, never the secret. A login starts a family (its first row's id is the family id); each
 * refresh marks the presented row used and adds its child. A used row presented again is reuse: the
 * whole family is revoked, with the access tokens issued beside its rows (`access_jti`).
 */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey(),
    familyId: uuid('family_id').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    parentId: uuid('parent_id'),
    // The user's token version and role at login: "log out everywhere", a password reset or a role
    // change since ends the family, whatever the timing of the refresh that races it.
    tokenVersion: integer('token_version').notNull(),
    role: text('role').$type<Role>().notNull(),
    issuedAt: tz('issued_at').notNull().defaultNow(),
    // The family's absolute end, inherited by every child: refreshing never extends it.
    expiresAt: tz('expires_at').notNull(),
    usedAt: tz('used_at'),
    revokedAt: tz('revoked_at'),
    // The access token issued with this one, revoked with the family.
    accessJti: text('access_jti').notNull(),
    accessExpiresAt: tz('access_expires_at').notNull(),
    // Who asked for it, for the audit trail.
    userAgent: text('user_agent'),
    clientAddress: text('client_address'),
  },
  (t) => [
    uniqueIndex('refresh_tokens_hash_key').on(t.tokenHash),
    index('refresh_tokens_family_idx').on(t.familyId),
    index('refresh_tokens_user_idx').on(t.userId),
    index('refresh_tokens_access_jti_idx').on(t.accessJti),
    index('refresh_tokens_expires_idx').on(t.expiresAt),
  ],
);

/**
 * Open live event streams, one row each, shared by every API instance: the per-user cap counts the
 * rows that have not expired. A stream's instance renews its row while it runs and deletes it when it
 * ends; an instance that dies leaves rows that expire by themselves.
 */
export const liveStreams = pgTable(
  'live_streams',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    openedAt: tz('opened_at').notNull().defaultNow(),
    expiresAt: tz('expires_at').notNull(),
  },
  (t) => [index('live_streams_user_idx').on(t.userId, t.expiresAt)],
);

/** Single-use ids of signed channel messages (sidecar event batches), kept until they expire. */
export const usedJtis = pgTable(
  'used_jtis',
  {
    jti: text('jti').primaryKey(),
    expiresAt: tz('expires_at').notNull(),
  },
  (t) => [index('used_jtis_expires_idx').on(t.expiresAt)],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: tz('at').notNull().defaultNow(),
    actorId: uuid('actor_id'),
    // The API key the actor used, when the request came with one rather than a session.
    actorKeyId: text('actor_key_id'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    clientAddress: text('client_address'),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>(),
  },
  (t) => [index('audit_log_at_idx').on(t.at), index('audit_log_actor_idx').on(t.actorId, t.at)],
);

/**
 * API keys: `id` is the key id written in the key itself (API_KEY_PATTERN), `secret_hash` the SHA-256
 * of its 256-bit random secret (a fast hash suits a secret that cannot be guessed; the key is never
 * kept). `last_used_at`/`last_used_ip` are written at most once a minute per key.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    secretHash: text('secret_hash').notNull(),
    scopes: jsonb('scopes').$type<Scope[]>().notNull(),
    expiresAt: tz('expires_at'),
    revokedAt: tz('revoked_at'),
    lastUsedAt: tz('last_used_at'),
    lastUsedIp: text('last_used_ip'),
    createdAt: tz('created_at').notNull().defaultNow(),
    createdBy: uuid('created_by'),
  },
  (t) => [index('api_keys_user_idx').on(t.userId, t.createdAt.desc(), t.id.desc())],
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
 * Login attempts per key ("user:<canonical name>" or "addr:<ip>") in a fixed window (db/queries/throttle.ts):
 * `attempts` counts the password checks the window has granted and not given back (those in flight and
 * those that failed), `failures` the checks that failed. For a name, `locked_until` is the end of its
 * lockout; for an address, the time before which it may not try again (it is slowed, not locked).
 */
export const loginThrottle = pgTable('login_throttle', {
  key: text('key').primaryKey(),
  attempts: integer('attempts').notNull().default(0),
  failures: integer('failures').notNull().default(0),
  windowStartedAt: tz('window_started_at').notNull().defaultNow(),
  lockedUntil: tz('locked_until'),
});

/** Fixed-window request counters for rate-limited routes, shared by every API instance. */
export const rateLimits = pgTable('rate_limits', {
  key: text('key').primaryKey(),
  windowStartedAt: tz('window_started_at').notNull(),
  count: integer('count').notNull(),
});

/**
 * One webhook delivery per call event that a status callback asked for, written in the same
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

/**
 * Saved flows: a name and an owner; the steps live in versions. A version is immutable; once a call
 * used it (`used_at`), it cannot be deleted, and archiving the flow only stops new calls using it.
 */
export const flows = pgTable(
  'flows',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id),
    name: text('name').notNull(),
    description: text('description'),
    latestVersion: integer('latest_version').notNull().default(1),
    archivedAt: tz('archived_at'),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('flows_owner_created_idx').on(t.ownerId, t.createdAt.desc(), t.id.desc()),
    index('flows_created_idx').on(t.createdAt.desc(), t.id.desc()),
    check('flows_name_length', sql`char_length(${t.name}) between 1 and 100`),
  ],
);

export const flowVersions = pgTable(
  'flow_versions',
  {
    flowId: uuid('flow_id')
      .notNull()
      .references(() => flows.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    steps: jsonb('steps').$type<unknown[]>().notNull(),
    createdBy: uuid('created_by'),
    createdAt: tz('created_at').notNull().defaultNow(),
    // Set when the first call used this version: from then on it is kept as it is.
    usedAt: tz('used_at'),
  },
  (t) => [
    primaryKey({ columns: [t.flowId, t.version] }),
    check('flow_versions_version_positive', sql`${t.version} >= 1`),
  ],
);

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

export const schema = {
  users,
  calls,
  callEvents,
  idempotencyKeys,
  revokedTokens,
  refreshTokens,
  usedJtis,
  auditLog,
  apiKeys,
  sidecars,
  loginThrottle,
  rateLimits,
  webhookDeliveries,
  webhookAttempts,
  liveStreams,
  flows,
  flowVersions,
  callRecordings,
  campaigns,
  campaignContacts,
  campaignAttempts,
  campaignCounters,
  dncNumbers,
};
