import { createRoute } from '@hono/zod-openapi';
import { revokeApiKey } from '../../../db/queries/api-keys.ts';
import { writeAudit } from '../../../db/queries/misc.ts';
import { ApiError } from '../../errors.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { ApiKeySchema, findVisibleKey, KeyIdParamSchema, presentApiKey } from './schema.ts';

const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/api/v2/keys/{key_id}',
  tags: ['API keys'],
  summary: 'Revoke an API key',
  description:
    'Revokes one of your keys (any user’s with users:admin). From the next request on it answers 401, and the ' +
    'live event streams opened with it end. Revoking a revoked key changes nothing. To roll a key, create ' +
    'the new one, switch to it, then revoke the old one.',
  ...guarded('self'),
  request: { params: KeyIdParamSchema },
  responses: {
    200: { description: 'The revoked key', content: { 'application/json': { schema: ApiKeySchema } } },
    ...errorResponses(401, 404, 422, 500, 503),
  },
});

export const registerRevokeKey = (app: App) =>
  app.openapi(revokeKeyRoute, async (c) => {
    const services = c.get('services');
    const actor = c.get('user');
    const key = await findVisibleKey(c, c.req.valid('param').key_id);
    const revoked = await revokeApiKey(services.db, key.id);
    if (!revoked) throw new ApiError('api_key_not_found', 'API key not found');
    if (!key.revokedAt) {
      await writeAudit(services.db, {
        actorId: actor.id,
        actorKeyId: actor.keyId,
        action: 'api_key.revoke',
        targetType: 'api_key',
        targetId: key.id,
        clientAddress: services.clientAddress(c),
        requestId: c.get('requestId'),
        details: { user_id: key.userId, name: key.name },
      });
    }
    return c.json(presentApiKey(revoked), 200);
  });
