import { createRoute, z } from '@hono/zod-openapi';
import { writeAudit } from '../../../db/queries/misc.ts';
import { updateUser, updateUserKeepingAnAdmin } from '../../../db/queries/users.ts';
import { generatePassword, PasswordSchema } from '../../auth/credentials.ts';
import { endAllSessions } from '../../auth/sessions.ts';
import { ApiError } from '../../errors.ts';
import { type App, errorResponses, guarded, strictBody } from '../openapi.ts';
import { presentUser, RoleSchema, UserIdParamSchema, UserSchema } from './schema.ts';

const UpdateUserBodySchema = strictBody({
  role: RoleSchema.optional(),
  is_active: z.boolean().optional().openapi({
    description: 'false deactivates the user: logins fail and tokens stop working at once',
    example: false,
  }),
})
  .refine((b) => b.role !== undefined || b.is_active !== undefined, 'give role or is_active')
  .openapi('UpdateUserRequest');

const updateUserRoute = createRoute({
  method: 'patch',
  path: '/api/v2/users/{user_id}',
  tags: ['Users'],
  summary: 'Change a user’s role or deactivate it (admin)',
  description:
    'The last active admin cannot be demoted or deactivated (409). A new role or a deactivation ends the ' +
    "user's sessions: their refresh tokens are refused, and the person logs in again.",
  ...guarded('users:admin', 'admin'),
  request: {
    params: UserIdParamSchema,
    body: { required: true, content: { 'application/json': { schema: UpdateUserBodySchema } } },
  },
  responses: {
    200: { description: 'The updated user', content: { 'application/json': { schema: UserSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503),
  },
});

const ResetPasswordBodySchema = strictBody({
  password: PasswordSchema.optional().openapi({
    description: 'The new password; omit it to have one generated and returned once',
  }),
}).openapi('ResetPasswordRequest');

const resetPasswordRoute = createRoute({
  method: 'post',
  path: '/api/v2/users/{user_id}/password',
  tags: ['Users'],
  summary: 'Reset a user’s password (admin)',
  description: 'Sets a new password and revokes every token the user holds, refresh tokens included.',
  ...guarded('users:admin', 'admin'),
  request: {
    params: UserIdParamSchema,
    body: { required: false, content: { 'application/json': { schema: ResetPasswordBodySchema } } },
  },
  responses: {
    200: {
      description: 'Password changed',
      content: {
        'application/json': {
          schema: z
            .object({
              user: UserSchema,
              generated_password: z.string().nullable().openapi({
                description: 'The generated password, shown this once (null when you gave one)',
                example: null,
              }),
            })
            .openapi('ResetPasswordResponse'),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 500, 503),
  },
});

export const registerUpdateUser = (app: App) => {
  app.openapi(updateUserRoute, async (c) => {
    const services = c.get('services');
    const actor = c.get('user');
    const { user_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const result = await updateUserKeepingAnAdmin(services.db, user_id, {
      ...(body.role !== undefined ? { role: body.role } : {}),
      ...(body.is_active !== undefined ? { isActive: body.is_active } : {}),
    });
    if (!result.ok && result.reason === 'last_admin') {
      throw new ApiError('last_admin', 'This is the last active admin; make another admin first');
    }
    if (!result.ok) throw new ApiError('user_not_found', 'User not found');
    const { before, after } = result;
    if (before.role !== after.role || (before.isActive && !after.isActive))
      await endAllSessions(services, user_id);
    await writeAudit(services.db, {
      actorId: actor.id,
      actorKeyId: actor.keyId,
      action: body.is_active === false ? 'user.deactivate' : 'user.update',
      targetType: 'user',
      targetId: user_id,
      clientAddress: services.clientAddress(c),
      requestId: c.get('requestId'),
      details: {
        before: { role: before.role, is_active: before.isActive },
        after: { role: after.role, is_active: after.isActive },
      },
    });
    return c.json(presentUser(after), 200);
  });

  app.openapi(resetPasswordRoute, async (c) => {
    const services = c.get('services');
    const { user_id } = c.req.valid('param');
    const body = c.req.valid('json') ?? {};
    const generated = body.password ? null : generatePassword();
    const user = await updateUser(services.db, user_id, {
      passwordHash: await services.passwords.hash(body.password ?? generated!),
      bumpTokenVersion: true,
    });
    if (!user) throw new ApiError('user_not_found', 'User not found');
    await endAllSessions(services, user_id);
    await writeAudit(services.db, {
      actorId: c.get('user').id,
      actorKeyId: c.get('user').keyId,
      action: 'user.reset_password',
      targetType: 'user',
      targetId: user_id,
      clientAddress: services.clientAddress(c),
      requestId: c.get('requestId'),
    });
    return c.json({ user: presentUser(user), generated_password: generated }, 200);
  });
};
