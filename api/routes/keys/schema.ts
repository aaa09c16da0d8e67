import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type ApiKeyRow, getApiKey } from '../../../db/queries/api-keys.ts';
import { ROLE_SCOPES } from '../../auth/scopes.ts';
import { ApiError } from '../../errors.ts';
import type { AppEnv, AuthUser } from '../../services.ts';
import { API_KEY_PREFIX, SCOPES, type Scope } from '../../shared/contract/index.ts';

export const ScopeSchema = z.enum(SCOPES).openapi({
  description:
    'calls:read (calls, their events, recordings, live stream); calls:write (place and hang up calls); ' +
    'flows:read, flows:write; campaigns:read, campaigns:write (campaigns, contacts, the do-not-call list); ' +
    'users:admin (users, and keys of other users)',
  example: 'calls:write',
});

/** A key's fields, shared by the key as listed and as created (one flat object each, no allOf). */
const apiKeyShape = {
  id: z
    .string()
    .openapi({ description: 'Key id (also written in the key itself)', example: '3f9a0c1d5e7b2a46' }),
  user_id: z
    .uuid()
    .openapi({ description: 'The user the key acts for', example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b' }),
  name: z.string().openapi({ description: 'What the key is for', example: 'CRM integration' }),
  scopes: z.array(ScopeSchema).openapi({ description: 'What the key may do (within its user’s role)' }),
  expires_at: z.iso.datetime({ offset: true }).nullable().openapi({
    description: 'When the key stops working (null: never)',
    example: '2027-06-01T00:00:00.000Z',
  }),
  revoked_at: z.iso
    .datetime({ offset: true })
    .nullable()
    .openapi({ description: 'When the key was revoked (null: it was not)', example: null }),
  last_used_at: z.iso.datetime({ offset: true }).nullable().openapi({
    description: 'Last use, recorded at most once a minute (null: never used)',
    example: '2026-12-06T18:00:00.000Z',
  }),
  last_used_ip: z
    .string()
    .nullable()
    .openapi({ description: 'The address of that last use', example: '203.0.113.7' }),
  created_at: z.iso
    .datetime({ offset: true })
    .openapi({ description: 'Created', example: '2026-12-01T09:00:00.000Z' }),
  created_by: z
    .uuid()
    .nullable()
    .openapi({ description: 'Who created it', example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b' }),
};

export const ApiKeySchema = z.object(apiKeyShape).openapi('ApiKey');

export const CreatedApiKeySchema = z
  .object({
    ...apiKeyShape,
    key: z.string().openapi({
      description: 'The key: shown this once, never again. Store it as a secret.',
      example: `${API_KEY_PREFIX}3f9a0c1d5e7b2a46_q2Vx7bJ0mR5tY8wE1uI4oP6aS9dF3gH2jK5lZ7xC0vB`,
    }),
  })
  .openapi('CreatedApiKey');

export const KeyIdParamSchema = z.object({
  key_id: z
    .string()
    .regex(/^[0-9a-f]{16}$/, 'must be a key id (16 hex digits)')
    .openapi({ param: { name: 'key_id', in: 'path' }, description: 'Key id', example: '3f9a0c1d5e7b2a46' }),
});

export function presentApiKey(k: ApiKeyRow): z.infer<typeof ApiKeySchema> {
  return {
    id: k.id,
    user_id: k.userId,
    name: k.name,
    scopes: k.scopes,
    expires_at: k.expiresAt?.toISOString() ?? null,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    last_used_ip: k.lastUsedIp,
    created_at: k.createdAt.toISOString(),
    created_by: k.createdBy,
  };
}

/** What the caller may do: a session its role's scopes, a key its effective scopes. */
export function callerScopes(user: AuthUser): ReadonlySet<Scope> {
  return user.scopes ?? new Set(ROLE_SCOPES[user.role]);
}

/** Whether the caller may act on other users' keys. */
export const managesAllKeys = (user: AuthUser) => callerScopes(user).has('users:admin');

/** The key if the caller may see it (its own, or any for users:admin). Anyone else gets the same 404. */
export async function findVisibleKey(c: Context<AppEnv>, keyId: string): Promise<ApiKeyRow> {
  const user = c.get('user');
  const key = await getApiKey(c.get('services').db, keyId);
  if (!key || (key.userId !== user.id && !managesAllKeys(user))) {
    throw new ApiError('api_key_not_found', 'API key not found');
  }
  return key;
}
