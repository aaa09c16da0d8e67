import { createRoute } from '@hono/zod-openapi';
import { getUserById } from '../../../db/queries/users.ts';
import { ApiError } from '../../errors.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { presentUser, UserSchema } from '../users/schema.ts';

const meRoute = createRoute({
  method: 'get',
  path: '/api/v2/me',
  tags: ['Auth'],
  summary: 'The calling user',
  ...guarded('self'),
  responses: {
    200: {
      description: 'The user the token belongs to',
      content: { 'application/json': { schema: UserSchema } },
    },
    ...errorResponses(401, 500, 503),
  },
});

export const registerMe = (app: App) =>
  app.openapi(meRoute, async (c) => {
    const user = await getUserById(c.get('services').db, c.get('user').id);
    if (!user) throw new ApiError('invalid_token', 'The token is not valid');
    return c.json(presentUser(user), 200);
  });
