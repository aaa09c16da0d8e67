import { createRoute, z } from '@hono/zod-openapi';
import { getUserById, listUsers } from '../../../db/queries/users.ts';
import { ApiError } from '../../errors.ts';
import { decodeBase64UrlText, encodeBase64Url } from '../../lib/base64url.ts';
import {
  type App,
  errorResponses,
  guarded,
  invalidCursor,
  PageLimitSchema,
  pageCursorSchema,
} from '../openapi.ts';
import { presentUser, UserIdParamSchema, UserSchema } from './schema.ts';

const listUsersRoute = createRoute({
  method: 'get',
  path: '/api/v2/users',
  tags: ['Users'],
  summary: 'List users (admin)',
  ...guarded('users:admin', 'admin'),
  request: {
    query: z.object({
      limit: PageLimitSchema,
      cursor: pageCursorSchema('YWxpY2U'),
    }),
  },
  responses: {
    200: {
      description: 'Users, by username',
      content: {
        'application/json': {
          schema: z
            .object({
              items: z.array(UserSchema).openapi({ description: 'Users, by username' }),
              next_cursor: z
                .string()
                .nullable()
                .openapi({ description: 'Cursor of the next page', example: null }),
            })
            .openapi('UserList'),
        },
      },
    },
    ...errorResponses(401, 403, 422, 500, 503),
  },
});

const getUserRoute = createRoute({
  method: 'get',
  path: '/api/v2/users/{user_id}',
  tags: ['Users'],
  summary: 'Get a user (admin)',
  ...guarded('users:admin', 'admin'),
  request: { params: UserIdParamSchema },
  responses: {
    200: { description: 'The user', content: { 'application/json': { schema: UserSchema } } },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

/** The username a `next_cursor` carries; anything this API did not hand out is a 422. */
function decodeUserCursor(cursor: string): string {
  const username = decodeBase64UrlText(cursor);
  // No username holds a control character, and no text column can hold a NUL.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
  if (username === null || !/^[^\x00-\x1f\x7f]+$/.test(username)) throw invalidCursor();
  return username;
}

export const registerListUsers = (app: App) => {
  app.openapi(listUsersRoute, async (c) => {
    const q = c.req.valid('query');
    const after = q.cursor ? decodeUserCursor(q.cursor) : undefined;
    const rows = await listUsers(c.get('services').db, { after, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? encodeBase64Url(last.username) : null;
    return c.json({ items: page.map(presentUser), next_cursor: next }, 200);
  });
  app.openapi(getUserRoute, async (c) => {
    const user = await getUserById(c.get('services').db, c.req.valid('param').user_id);
    if (!user) throw new ApiError('user_not_found', 'User not found');
    return c.json(presentUser(user), 200);
  });
};
