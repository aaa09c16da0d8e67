import { z } from '@hono/zod-openapi';
import type { UserRow } from '../../../db/queries/users.ts';
import { ROLES } from '../../../db/schema.ts';

export const RoleSchema = z.enum(ROLES).openapi({
  description: 'admin: everything; operator: create, hang up and read own calls; viewer: read every call',
  example: 'operator',
});

export const UserSchema = z
  .object({
    id: z.uuid().openapi({ description: 'User id', example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b' }),
    username: z.string().openapi({ description: 'Login name', example: 'alice' }),
    role: RoleSchema,
    is_active: z
      .boolean()
      .openapi({ description: 'Inactive users cannot log in; their tokens stop working', example: true }),
    can_login: z.boolean().openapi({
      description:
        'False for a service user: it cannot log in with a password and acts only through API keys',
      example: true,
    }),
    created_at: z.iso
      .datetime({ offset: true })
      .openapi({ description: 'Created', example: '2026-11-23T15:00:00.000Z' }),
    updated_at: z.iso
      .datetime({ offset: true })
      .openapi({ description: 'Last change', example: '2026-11-23T15:00:00.000Z' }),
    last_login_at: z.iso
      .datetime({ offset: true })
      .nullable()
      .openapi({ description: 'Last successful login', example: '2026-11-23T15:05:00.000Z' }),
  })
  .openapi('User');

export function presentUser(u: UserRow): z.infer<typeof UserSchema> {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    is_active: u.isActive,
    can_login: u.canLogin,
    created_at: u.createdAt.toISOString(),
    updated_at: u.updatedAt.toISOString(),
    last_login_at: u.lastLoginAt ? u.lastLoginAt.toISOString() : null,
  };
}

export const UserIdParamSchema = z.object({
  user_id: z.uuid('must be a UUID').openapi({
    param: { name: 'user_id', in: 'path' },
    description: 'User id',
    example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b',
  }),
});
