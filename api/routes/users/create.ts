import { createRoute, z } from '@hono/zod-openapi';
import { writeAudit } from '../../../db/queries/misc.ts';
import { createUser } from '../../../db/queries/users.ts';
import { generatePassword, PasswordSchema, UsernameSchema } from '../../auth/credentials.ts';
import { ApiError } from '../../errors.ts';
import { type App, errorResponses, guarded, strictBody } from '../openapi.ts';
import { presentUser, RoleSchema, UserSchema } from './schema.ts';

const CreateUserBodySchema = strictBody({
  username: UsernameSchema,
  password: PasswordSchema.optional(),
  role: RoleSchema.default('operator'),
  can_login: z.boolean().default(true).openapi({
    description:
      'False makes a service user: no password, no login, it acts only through API keys an admin creates for it',
    example: true,
  }),
}).openapi('CreateUserRequest');

const createUserRoute = createRoute({
  method: 'post',
  path: '/api/v2/users',
  tags: ['Users'],
  summary: 'Create a user (admin)',
  ...guarded('users:admin', 'admin'),
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
    if (body.can_login === (body.password === undefined)) {
      const message = body.can_login
        ? 'is required for a user who logs in'
        : 'must be left out for a service user (can_login false)';
      throw new ApiError('validation_error', `body.password: ${message}`, {
        errors: [{ path: 'body.password', message, code: body.can_login ? 'required' : 'not_allowed' }],
      });
    }
    const user = await createUser(services.db, {
      username: body.username,
      // A service user's hash is of a password nobody is told, so its login fails at the same cost.
      passwordHash: await services.passwords.hash(body.password ?? generatePassword()),
      role: body.role,
      createdBy: actor.id,
      canLogin: body.can_login,
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
      actorKeyId: actor.keyId,
      action: 'user.create',
      targetType: 'user',
      targetId: user.id,
      clientAddress: services.clientAddress(c),
      requestId: c.get('requestId'),
      details: { username: user.username, role: user.role, can_login: user.canLogin },
    });
    return c.json(presentUser(user), 201);
  });
