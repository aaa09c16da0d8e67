import { createRoute, z } from '@hono/zod-openapi';
import { listApiKeys } from '../../../db/queries/api-keys.ts';
import { ApiError } from '../../errors.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { ApiKeySchema, findVisibleKey, KeyIdParamSchema, managesAllKeys, presentApiKey } from './schema.ts';

const listKeysRoute = createRoute({
  method: 'get',
  path: '/api/v2/keys',
  tags: ['API keys'],
  summary: 'List API keys',
  description:
    'Your keys (or with `user_id`, users:admin, another user’s), newest first, revoked and expired ones ' +
    'included. A key itself is never shown again after its creation.',
  ...guarded('self'),
  request: {
    query: z.object({
      user_id: z
        .uuid('must be a UUID')
        .optional()
        .openapi({
          param: { name: 'user_id', in: 'query' },
          description: 'Whose keys (default: yours); another user’s needs users:admin',
          example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b',
        }),
    }),
  },
  responses: {
    200: {
      description: 'The keys, newest first',
      content: {
        'application/json': {
          schema: z
            .object({ items: z.array(ApiKeySchema).openapi({ description: 'The keys, newest first' }) })
            .openapi('ApiKeyList'),
        },
      },
    },
    ...errorResponses(401, 403, 422, 500, 503),
  },
});

const getKeyRoute = createRoute({
  method: 'get',
  path: '/api/v2/keys/{key_id}',
  tags: ['API keys'],
  summary: 'Get an API key',
  description: 'One of your keys (any user’s with users:admin), without the key itself. Others answer 404.',
  ...guarded('self'),
  request: { params: KeyIdParamSchema },
  responses: {
    200: { description: 'The key', content: { 'application/json': { schema: ApiKeySchema } } },
    ...errorResponses(401, 404, 422, 500, 503),
  },
});

export const registerListKeys = (app: App) => {
  app.openapi(listKeysRoute, async (c) => {
    const user = c.get('user');
    const userId = c.req.valid('query').user_id ?? user.id;
    if (userId !== user.id && !managesAllKeys(user)) {
      throw new ApiError('forbidden', 'Another user’s keys need users:admin');
    }
    const rows = await listApiKeys(c.get('services').db, userId);
    return c.json({ items: rows.map(presentApiKey) }, 200);
  });
  app.openapi(getKeyRoute, async (c) => {
    const key = await findVisibleKey(c, c.req.valid('param').key_id);
    return c.json(presentApiKey(key), 200);
  });
};
