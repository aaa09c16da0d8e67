import type { Context, MiddlewareHandler } from 'hono';
import { getKeySubject, touchApiKey } from '../../db/queries/api-keys.ts';
import { type AuthSubject, getAuthSubject, getAuthSubjectAndCall } from '../../db/queries/users.ts';
import type { Role } from '../../db/schema.ts';
import { hashKeySecret, looksLikeApiKey, parseApiKey, sameHash } from '../auth/api-keys.ts';
import { tokenHonoured } from '../auth/authority.ts';
import { effectiveScopes } from '../auth/scopes.ts';
import { InvalidTokenError, verifyAccessTokenCached } from '../auth/tokens.ts';
import { ApiError } from '../errors.ts';
import type { AppEnv, AuthUser } from '../services.ts';
import { bearerToken } from '../shared/base/signing.ts';
import { CallIdSchema, type Scope } from '../shared/contract/index.ts';

/**
 * What a route needs of its caller, declared where the route is: a scope (an API key must carry it;
 * a session has every right of its role), `self` (acts only on the caller's own identity or keys:
 * any session or key), or `session` (a login's token, never a key).
 */
export type Access = Scope | 'self' | 'session';

/** A key that never expires still needs a date for the code that ends streams at a credential's expiry. */
const NEVER = new Date(8.64e15);
/** Last use is recorded at most this often per key. */
const TOUCH_EVERY_MS = 60_000;

const BEARER = /^Bearer +(\S+)$/i;
/**
 * The value without what HTTP calls whitespace around it (spaces and tabs, not every space Unicode has),
 * by a scan rather than an end-anchored regex, which would backtrack quadratically over a run of spaces.
 */
function trimHttpSpace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === ' ' || value[start] === '\t')) start++;
  while (end > start && (value[end - 1] === ' ' || value[end - 1] === '\t')) end--;
  return value.slice(start, end);
}

/**
 * Requires a valid access token of an active user, or a valid API key (told apart by its prefix,
 * before any JWT parsing). The user, and the key, are read from the database on every request, so a
 * revoked token or key, an expired key, a deactivated user or a changed role takes effect at once.
 * `access` is what the route needs (see Access); with roles given, any other role gets 403.
 */
export function requireAuth(access: Access, ...roles: Role[]): MiddlewareHandler<AppEnv> {
  return authenticate(access, roles, null);
}

/**
 * requireAuth for a route that reads the call named by its path parameter `param`: with a session
 * token, the call is read in the same statement as the caller (one round trip for the request) and
 * left in `callRead` for findVisibleCall, which still decides whether the caller may see it.
 */
export function requireAuthReadingCall(access: Access, param: string): MiddlewareHandler<AppEnv> {
  return authenticate(access, [], param);
}

function authenticate(access: Access, roles: Role[], callParam: string | null): MiddlewareHandler<AppEnv> {
  const allowed = new Set<Role>(roles);
  return async function requireAuthMiddleware(c, next) {
    const header = c.req.header('authorization');
    // Told apart by the prefix alone; the key's own parse then refuses anything but its exact form.
    const bearer = header ? BEARER.exec(trimHttpSpace(header))?.[1] : undefined;
    // An id that is no UUID is left to the route's validation (422) after the caller is known.
    const callId = callParam ? c.req.param(callParam) : undefined;
    const alongside = callId && CallIdSchema.safeParse(callId).success ? callId : null;
    const user =
      bearer && looksLikeApiKey(bearer) ? await keyUser(c, bearer) : await tokenUser(c, header, alongside);
    c.set('user', user);
    if (user.scopes) {
      if (access === 'session')
        throw new ApiError('forbidden', 'This needs a session token from POST /api/v2/token, not an API key');
      if (access !== 'self' && !user.scopes.has(access))
        throw new ApiError(
          'forbidden',
          `This API key lacks the scope ${access} (or its user's role no longer grants it)`,
        );
    }
    if (allowed.size > 0 && !allowed.has(user.role)) {
      throw new ApiError('forbidden', `This needs one of the roles: ${[...allowed].join(', ')}`);
    }
    await next();
  };
}

async function tokenUser(
  c: Context<AppEnv>,
  header: string | undefined,
  callId: string | null,
): Promise<AuthUser> {
  const services = c.get('services');
  const token = bearerToken(header);
  if (!token) throw new ApiError('invalid_token', 'A bearer token is required');
  let claims: Awaited<ReturnType<typeof verifyAccessTokenCached>>;
  try {
    // The signature is verified once per token text; who the token speaks for is read below, every time.
    claims = await verifyAccessTokenCached(token, {
      keys: services.keys.verify,
      issuer: services.config.JWT_ISSUER,
      audience: services.config.JWT_AUDIENCE,
    });
  } catch (error) {
    if (error instanceof InvalidTokenError) throw new ApiError('invalid_token', 'The token is not valid');
    throw error;
  }
  let subject: AuthSubject | null;
  if (callId) {
    const read = await getAuthSubjectAndCall(services.db, claims.sub, claims.jti, callId);
    subject = read?.subject ?? null;
    if (read) c.set('callRead', { id: callId, call: read.call });
  } else {
    subject = await getAuthSubject(services.db, claims.sub, claims.jti);
  }
  if (!tokenHonoured(subject, claims.ver)) {
    throw new ApiError('invalid_token', 'The token is not valid');
  }
  return {
    id: subject.id,
    username: subject.username,
    role: subject.role,
    jti: claims.jti,
    tokenExpiresAt: new Date(claims.exp * 1000),
    tokenVersion: claims.ver,
    keyId: null,
    scopes: null,
  };
}

async function keyUser(c: Context<AppEnv>, bearer: string): Promise<AuthUser> {
  const services = c.get('services');
  const refused = new ApiError('invalid_token', 'The API key is not valid');
  const parsed = parseApiKey(bearer);
  if (!parsed) throw refused;
  const hash = await hashKeySecret(parsed.secret);
  const key = await getKeySubject(services.db, parsed.id);
  if (!key || !sameHash(hash, key.secretHash)) throw refused;
  const now = Date.now();
  if (key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= now) || !key.isActive) throw refused;
  if (!key.lastUsedAt || now - key.lastUsedAt.getTime() >= TOUCH_EVERY_MS) {
    const address = services.clientAddress(c);
    services.background(
      touchApiKey(services.db, key.keyId, address).catch((error) =>
        c.get('logger').warn('api key last use not recorded', { error, key_id: key.keyId }),
      ),
    );
  }
  return {
    id: key.userId,
    username: key.username,
    role: key.role,
    jti: `key:${key.keyId}`,
    tokenExpiresAt: key.expiresAt ?? NEVER,
    tokenVersion: key.tokenVersion,
    keyId: key.keyId,
    scopes: effectiveScopes(key.scopes, key.role),
  };
}
