import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { Scope } from '../../api/shared/contract/index.ts';
import { inList, tz } from './columns.ts';

// People and what they hold: users, their tokens, sessions, API keys, streams, login throttling and
// rate limits, the audit log.

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

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
