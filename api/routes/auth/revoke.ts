import { createRoute, z } from '@hono/zod-openapi';
import { writeAudit } from '../../../db/queries/misc.ts';
import { revokeToken, updateUser } from '../../../db/queries/users.ts';
import { endAllSessions, endSession, looksLikeRefreshToken } from '../../auth/sessions.ts';
import { InvalidTokenError, verifyAccessToken } from '../../auth/tokens.ts';
import { ApiError } from '../../errors.ts';
import { type App, errorResponses, guarded, strictBody } from '../openapi.ts';

const RevokeBodySchema = strictBody({
  token: z
    .string()
    .max(4096)
    .optional()
    .openapi({
      description:
        'Another of your tokens to revoke (default: the one in Authorization): an access token, or a refresh ' +
        'token, which ends its session',
      example: 'eyJhbGciOiJFZERTQSJ9.eyJ….…',
    }),
  all: z
    .boolean()
    .optional()
    .openapi({ description: 'Revoke every token you hold, this one included', example: false }),
}).openapi('RevokeRequest');

const revokeRoute = createRoute({
  method: 'post',
  path: '/api/v2/token/revoke',
  tags: ['Auth'],
  summary: 'Revoke a token',
  description:
    'Revokes the calling token (or `token`, which must be yours), or with `all: true` every token you hold. ' +
    'A revoked token answers 401 from the next request on. Revoking a token from a login also ends that ' +
    "login's session: its refresh token and the other access tokens refreshed from it. `all: true` ends " +
    'every session.',
  ...guarded('session'),
  request: { body: { required: false, content: { 'application/json': { schema: RevokeBodySchema } } } },
  responses: {
    200: {
      description: 'Revoked',
      content: {
        'application/json': {
          schema: z
            .object({
              revoked: z.boolean().openapi({ description: 'Always true', example: true }),
              scope: z.enum(['token', 'all']).openapi({ description: 'What was revoked', example: 'token' }),
            })
            .openapi('RevokeResponse'),
        },
      },
    },
    ...errorResponses(400, 401, 403, 413, 415, 422, 500, 503),
  },
});

export const registerRevoke = (app: App) =>
  app.openapi(revokeRoute, async (c) => {
    const body = c.req.valid('json') ?? {};
    const services = c.get('services');
    const user = c.get('user');
    const audit = (details: Record<string, unknown>) =>
      writeAudit(services.db, {
        actorId: user.id,
        action: 'auth.revoke',
        targetType: 'user',
        targetId: user.id,
        clientAddress: services.clientAddress(c),
        requestId: c.get('requestId'),
        details,
      });
    if (body.all) {
      await updateUser(services.db, user.id, { bumpTokenVersion: true });
      await endAllSessions(services, user.id);
      await audit({ scope: 'all' });
      return c.json({ revoked: true, scope: 'all' as const }, 200);
    }
    const notYours = () =>
      new ApiError('validation_error', 'body.token: is not a valid token of yours', {
        errors: [{ path: 'body.token', message: 'is not a valid token of yours', code: 'invalid_token' }],
      });
    if (body.token && looksLikeRefreshToken(body.token)) {
      const familyId = await endSession(services, user.id, { refreshToken: body.token });
      if (!familyId) throw notYours();
      await audit({ scope: 'token', family_id: familyId });
      return c.json({ revoked: true, scope: 'token' as const }, 200);
    }
    let jti = user.jti;
    let expiresAt = user.tokenExpiresAt;
    if (body.token) {
      try {
        const claims = await verifyAccessToken(body.token, {
          keys: services.keys.verify,
          issuer: services.config.JWT_ISSUER,
          audience: services.config.JWT_AUDIENCE,
        });
        if (claims.sub !== user.id) throw new InvalidTokenError('not yours');
        jti = claims.jti;
        expiresAt = new Date(claims.exp * 1000);
      } catch (error) {
        if (!(error instanceof InvalidTokenError)) throw error;
        throw notYours();
      }
    }
    await revokeToken(services.db, { jti, userId: user.id, expiresAt });
    const familyId = await endSession(services, user.id, { accessJti: jti });
    await audit({ scope: 'token', jti, ...(familyId ? { family_id: familyId } : {}) });
    return c.json({ revoked: true, scope: 'token' as const }, 200);
  });
