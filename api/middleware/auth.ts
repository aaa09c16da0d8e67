import type { MiddlewareHandler } from 'hono';
import { getAuthSubject } from '../../db/queries/users.ts';
import type { Role } from '../../db/schema.ts';
import { tokenHonoured } from '../auth/authority.ts';
import { InvalidTokenError, verifyAccessToken } from '../auth/tokens.ts';
import { ApiError } from '../errors.ts';
import type { AppEnv } from '../services.ts';
import { bearerToken } from '../shared/base/signing.ts';

/**
 * Requires a valid access token of an active user. The user is read from the database on every
 * request, so a revoked token, a deactivated user or a changed role takes effect at once.
 * With roles given, any other role gets 403.
 */
export function requireAuth(...roles: Role[]): MiddlewareHandler<AppEnv> {
  const allowed = new Set<Role>(roles);
  return async function requireAuthMiddleware(c, next) {
    const services = c.get('services');
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw new ApiError('invalid_token', 'A bearer token is required');
    let claims: Awaited<ReturnType<typeof verifyAccessToken>>;
    try {
      claims = await verifyAccessToken(token, {
        keys: services.keys.verify,
        issuer: services.config.JWT_ISSUER,
        audience: services.config.JWT_AUDIENCE,
      });
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new ApiError('invalid_token', 'The token is not valid');
      throw error;
    }
    const subject = await getAuthSubject(services.db, claims.sub, claims.jti);
    if (!tokenHonoured(subject, claims.ver)) {
      throw new ApiError('invalid_token', 'The token is not valid');
    }
    c.set('user', {
      id: subject.id,
      username: subject.username,
      role: subject.role,
      jti: claims.jti,
      tokenExpiresAt: new Date(claims.exp * 1000),
      tokenVersion: claims.ver,
    });
    if (allowed.size > 0 && !allowed.has(subject.role)) {
      throw new ApiError('forbidden', `This needs one of the roles: ${[...allowed].join(', ')}`);
    }
    await next();
  };
}
