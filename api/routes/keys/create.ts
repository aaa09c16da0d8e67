import { createRoute, z } from '@hono/zod-openapi';
import { insertApiKey } from '../../../db/queries/api-keys.ts';
import { writeAudit } from '../../../db/queries/misc.ts';
import { getUserById } from '../../../db/queries/users.ts';
import { generateApiKey } from '../../auth/api-keys.ts';
import { ROLE_SCOPES } from '../../auth/scopes.ts';
import { ApiError } from '../../errors.ts';
import { SCOPES } from '../../shared/contract/index.ts';
import { type App, errorResponses, guarded, strictBody } from '../openapi.ts';
import { KEYS_GUIDE } from '../tag-guides.ts';
import { CreatedApiKeySchema, callerScopes, managesAllKeys, presentApiKey, ScopeSchema } from './schema.ts';

const CreateKeyBodySchema = strictBody({
  name: z
    .string()
    .min(1, 'must not be empty')
    .max(100, 'must be at most 100 characters')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
    .regex(/^[^\x00-\x1f\x7f]*$/, 'must not hold control characters')
    .openapi({ description: 'What the key is for (1 to 100 characters)', example: 'CRM integration' }),
  scopes: z
    .array(ScopeSchema)
    .min(1, 'must name at least one scope')
    .max(SCOPES.length * 2, 'names too many scopes')
    .openapi({
      description: 'What the key may do; at most what its user’s role grants',
      example: ['calls:read', 'calls:write'],
    }),
  expires_at: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: 'When the key stops working (default: never)', example: '2027-06-01T00:00:00Z' }),
  user_id: z.uuid().optional().openapi({
    description: 'The user the key acts for (default: you). Another user’s key needs users:admin.',
    example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b',
  }),
}).openapi('CreateApiKeyRequest');

const fieldError = (path: string, message: string, code: string) =>
  new ApiError('validation_error', `${path}: ${message}`, { errors: [{ path, message, code }] });

const createKeyRoute = createRoute({
  method: 'post',
  path: '/api/v2/keys',
  tags: ['API keys'],
  summary: 'Create an API key',
  description:
    'Creates a key for you, or with `user_id` (users:admin) for another user, such as a service user that ' +
    'cannot log in. The answer is the only time the key is shown.\n\n' +
    KEYS_GUIDE,
  ...guarded('self'),
  request: { body: { required: true, content: { 'application/json': { schema: CreateKeyBodySchema } } } },
  responses: {
    201: {
      description: 'The new key, shown this once',
      content: { 'application/json': { schema: CreatedApiKeySchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 500, 503),
  },
});

export const registerCreateKey = (app: App) =>
  app.openapi(createKeyRoute, async (c) => {
    const body = c.req.valid('json');
    const services = c.get('services');
    const actor = c.get('user');
    const mine = callerScopes(actor);
    const scopes = [...new Set(body.scopes)];
    // Nobody hands out more than they hold: a session its role's rights, a key its own.
    const beyond = scopes.filter((s) => !mine.has(s));
    if (beyond.length > 0) {
      throw new ApiError(
        'forbidden',
        `You cannot give a key ${beyond.join(', ')}: ${actor.keyId ? 'the key you use' : 'your role'} does not grant it`,
      );
    }
    let owner = { id: actor.id, role: actor.role };
    if (body.user_id !== undefined && body.user_id !== actor.id) {
      if (!managesAllKeys(actor)) throw new ApiError('forbidden', 'A key for another user needs users:admin');
      const target = await getUserById(services.db, body.user_id);
      if (!target) throw new ApiError('user_not_found', 'User not found');
      if (!target.isActive) throw fieldError('body.user_id', 'is a deactivated user', 'inactive');
      owner = { id: target.id, role: target.role };
    }
    const granted = new Set(ROLE_SCOPES[owner.role]);
    const ungranted = scopes.filter((s) => !granted.has(s));
    if (ungranted.length > 0) {
      throw fieldError(
        'body.scopes',
        `${ungranted.join(', ')} is beyond what the role ${owner.role} grants`,
        'not_allowed',
      );
    }
    let expiresAt: Date | null = null;
    if (body.expires_at !== undefined) {
      expiresAt = new Date(body.expires_at);
      if (!(expiresAt.getTime() > Date.now()))
        throw fieldError('body.expires_at', 'must be in the future', 'past');
    }
    const made = await generateApiKey();
    const row = await insertApiKey(services.db, {
      id: made.id,
      userId: owner.id,
      name: body.name,
      secretHash: made.secretHash,
      scopes,
      expiresAt,
      createdBy: actor.id,
    });
    await writeAudit(services.db, {
      actorId: actor.id,
      actorKeyId: actor.keyId,
      action: 'api_key.create',
      targetType: 'api_key',
      targetId: row.id,
      clientAddress: services.clientAddress(c),
      requestId: c.get('requestId'),
      details: { user_id: owner.id, name: row.name, scopes, expires_at: expiresAt?.toISOString() ?? null },
    });
    return c.json({ ...presentApiKey(row), key: made.key }, 201);
  });
