import { createRoute } from '@hono/zod-openapi';
import { writeAudit } from '../../../db/queries/misc.ts';
import { createUser } from '../../../db/queries/users.ts';
import { PasswordSchema, UsernameSchema } from '../../auth/credentials.ts';
import { ApiError } from '../../errors.ts';
import { requireAuth } from '../../middleware/auth.ts';
import { type App, bearerSecurity, errorResponses, strictBody } from '../openapi.ts';
import { presentUser, RoleSchema, UserSchema } from './schema.ts';

const CreateUserBodySchema = strictBody({
  username: UsernameSchema,
  password: PasswordSchema,
  role: RoleSchema.default('operator'),
}).openapi('CreateUserRequest');

const createUserRoute = createRoute({
  method: 'post',
  path: '/api/v2/users',
  tags: ['Users'],
  summary: 'Create a user (admin)',
  security: bearerSecurity,
  middleware: [requireAuth('admin')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: CreateUserBodySchema } } } },
  responses: {
    201: { description: 'The new user', content: { 'application/json': { schema: UserSchema } } },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422, 500, 503),
  },
});

export const registerCreateUser = (app: App) =>
  app.openapi(createUserRoute, async (c) => {
    const body = c.req.valid('json');
    const services = c.get('services');
    const actor = c.get('user');
    const user = await createUser(services.db, {
      username: body.username,
      passwordHash: await services.passwords.hash(body.password),
      role: body.role,
      createdBy: actor.id,
    });
    if (!user) {
      // Taken by this spelling or another that folds to the same name (db/username.ts).
      const message = 'is taken (names that differ only in case or Unicode form are the same name)';
      throw new ApiError('username_taken', `body.username: ${message}`, {
        errors: [{ path: 'body.username', message, code: 'taken' }],
      });
    }
    await writeAudit(services.db, {
      actorId: actor.id,
      action: 'user.create',
      targetType: 'user',
      targetId: user.id,
      clientAddress: services.clientAddress(c),
      requestId: c.get('requestId'),
      details: { username: user.username, role: user.role },
    });
    return c.json(presentUser(user), 201);
  });
