import { writeAudit } from '../../db/queries/misc.ts';
import {
  findFamily,
  insertRefreshToken,
  type NewRefreshToken,
  type RefreshSubject,
  revokeFamily,
  revokeUserRefreshTokens,
  rotateRefreshToken,
} from '../../db/queries/refresh-tokens.ts';
import { ApiError } from '../errors.ts';
import { encodeBase64Url } from '../lib/base64url.ts';
import type { Services } from '../services.ts';
import type { Logger } from '../shared/base/log.ts';
import { type IssuedToken, issueAccessToken } from './tokens.ts';

/**
 * A person's session: a short access token and a refresh token that gets the next one (RFC 9700
 * §4.14). Refresh tokens are rotated on every use within a family that a login starts and that
 * ends REFRESH_TOKEN_TTL seconds later however often it is refreshed. A token presented a second
 * time is reuse (a copy is in someone else's hands, or two clients raced with one token): the family
 * and the access tokens issued in it are revoked, and the person logs in again. There is no grace
 * for a concurrent second use; the winner's new token is revoked too, so a stolen token never
 * outlives the first sign of theft.
 */

/** The refresh token's recognisable prefix, so that secret scanners can find a leaked one. */
const REFRESH_TOKEN_PREFIX = 'odrt_';
/** 32 random bytes in base64url after the prefix: anything else is refused before a lookup. */
const REFRESH_TOKEN_SHAPE = /^odrt_[A-Za-z0-9_-]{43}$/;
const MAX_USER_AGENT = 512;

export interface Session {
  access: IssuedToken;
  refreshToken: string;
  /** Seconds until the family ends: the refresh token (and any it is rotated into) is refused after. */
  refreshExpiresIn: number;
  familyId: string;
}

export interface SessionMeta {
  clientAddress: string | null;
  userAgent: string | null;
  requestId: string;
  logger: Logger;
}

/** The SHA-256 of a refresh token, hex: what the database keeps (the secret is high-entropy, so no salt or slow hash). */
async function hashRefreshToken(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

function newRefreshToken(): string {
  return REFRESH_TOKEN_PREFIX + encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Issues an access token and the refresh row beside it; the row is the caller's to store. */
async function issuePair(
  services: Services,
  user: { id: string } & RefreshSubject,
  family: { familyId?: string; parentId: string | null; expiresAt: Date },
  meta: SessionMeta,
  now: Date,
): Promise<{ session: Session; row: NewRefreshToken }> {
  const { config } = services;
  const access = await issueAccessToken({
    key: services.keys.signing,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    userId: user.id,
    tokenVersion: user.tokenVersion,
    ttlSeconds: config.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
    now,
  });
  const id = crypto.randomUUID();
  const familyId = family.familyId ?? id;
  const refreshToken = newRefreshToken();
  const row: NewRefreshToken = {
    id,
    familyId,
    userId: user.id,
    tokenHash: await hashRefreshToken(refreshToken),
    parentId: family.parentId,
    tokenVersion: user.tokenVersion,
    role: user.role,
    issuedAt: now,
    expiresAt: family.expiresAt,
    accessJti: access.jti,
    accessExpiresAt: access.expiresAt,
    userAgent: meta.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
    clientAddress: meta.clientAddress,
  };
  const refreshExpiresIn = Math.max(0, Math.floor((family.expiresAt.getTime() - now.getTime()) / 1000));
  return { session: { access, refreshToken, refreshExpiresIn, familyId }, row };
}

/** After a password login: a new family, ending REFRESH_TOKEN_TTL seconds from now. */
export async function startSession(
  services: Services,
  user: { id: string } & RefreshSubject,
  meta: SessionMeta,
): Promise<Session> {
  const now = new Date();
  const expiresAt = new Date(now.getTime() + services.config.REFRESH_TOKEN_TTL * 1000);
  const { session, row } = await issuePair(services, user, { parentId: null, expiresAt }, meta, now);
  await insertRefreshToken(services.db, row);
  return session;
}

const notValid = () => new ApiError('invalid_token', 'The refresh token is not valid; log in again');

/**
 * The refresh_token grant: rotates `presented` into a new refresh token and access token of the same
 * family, or refuses with 401. Reuse revokes the family and is written to the audit log.
 */
export async function refreshSession(
  services: Services,
  presented: string,
  meta: SessionMeta,
): Promise<Session> {
  if (!REFRESH_TOKEN_SHAPE.test(presented)) throw notValid();
  const now = new Date();
  const issued: { session?: Session } = {};
  const outcome = await rotateRefreshToken(services.db, {
    tokenHash: await hashRefreshToken(presented),
    now,
    child: async (parent, user) => {
      const pair = await issuePair(
        services,
        { id: parent.userId, ...user },
        { familyId: parent.familyId, parentId: parent.id, expiresAt: parent.expiresAt },
        meta,
        now,
      );
      issued.session = pair.session;
      return pair.row;
    },
  });
  if (outcome.kind === 'rotated' && issued.session) return issued.session;
  if (outcome.kind === 'reuse') {
    meta.logger.warn('refresh token reused; its family is revoked', {
      userId: outcome.row.userId,
      familyId: outcome.row.familyId,
    });
    await writeAudit(services.db, {
      actorId: null,
      action: 'auth.refresh_reuse',
      targetType: 'user',
      targetId: outcome.row.userId,
      clientAddress: meta.clientAddress,
      requestId: meta.requestId,
      details: {
        family_id: outcome.row.familyId,
        token_id: outcome.row.id,
        revoked_access_tokens: outcome.revokedAccessTokens,
        user_agent: meta.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
      },
    });
  }
  throw notValid();
}

/** Whether `token` is shaped like a refresh token (it may still be unknown). */
export function looksLikeRefreshToken(token: string): boolean {
  return REFRESH_TOKEN_SHAPE.test(token);
}

/**
 * Ends the session of `userId` that an access token (by its id) or a refresh token belongs to: every
 * refresh token of its family, and the access tokens issued in it. Returns the family id, or null when
 * the token belongs to no session of this user.
 */
export async function endSession(
  services: Services,
  userId: string,
  by: { accessJti: string } | { refreshToken: string },
): Promise<string | null> {
  const family = await findFamily(
    services.db,
    'accessJti' in by ? by : { tokenHash: await hashRefreshToken(by.refreshToken) },
  );
  if (!family || family.userId !== userId) return null;
  await revokeFamily(services.db, family.familyId, new Date());
  return family.familyId;
}

/** Ends every session of a user: log out everywhere, a password reset, a role change, a deactivation. */
export async function endAllSessions(services: Services, userId: string): Promise<void> {
  await revokeUserRefreshTokens(services.db, userId, new Date());
}
