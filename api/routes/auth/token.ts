import { createRoute, z } from '@hono/zod-openapi';
import { login } from '../../auth/login.ts';
import { type App, errorResponses } from '../openapi.ts';

const TokenFormSchema = z
  .object({
    grant_type: z
      .literal('password')
      .optional()
      .openapi({ description: 'OAuth2 grant type; only `password`', example: 'password' }),
    username: z
      .string()
      .min(1)
      .max(150)
      // No username holds one, and the database cannot store a NUL to count the failure under.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
      .regex(/^[^\x00-\x1f\x7f]*$/, 'must not contain control characters')
      .openapi({ description: 'Username', example: 'alice' }),
    password: z
      .string()
      .min(1)
      .max(1024)
      .openapi({ description: 'Password', example: 'correct horse battery staple' }),
    scope: z
      .string()
      .max(1000)
      .optional()
      .openapi({ description: 'Ignored; accepted for OAuth2 clients', example: '' }),
  })
  .openapi('TokenRequest');

const TokenResponseSchema = z
  .object({
    access_token: z.string().openapi({
      description: 'EdDSA-signed JWT; send as `Authorization: Bearer …`',
      example: 'eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiIsInR5cCI6ImF0K2p3dCJ9.eyJ…',
    }),
    token_type: z.literal('bearer').openapi({ description: 'Always `bearer`', example: 'bearer' }),
    expires_in: z.number().int().openapi({ description: 'Seconds until the token expires', example: 1800 }),
  })
  .openapi('TokenResponse');

const tokenRoute = createRoute({
  method: 'post',
  path: '/api/v2/token',
  tags: ['Auth'],
  summary: 'Log in (OAuth2 password grant)',
  description:
    'Exchanges a username and password (form body) for an access token. Failed logins are throttled per ' +
    'username and per client address: after MAX_FAILED_LOGIN_ATTEMPTS failures the username is locked for ' +
    'LOGIN_LOCKOUT_DURATION seconds (429 with Retry-After), even for the right password; past ' +
    'MAX_FAILED_LOGINS_PER_ADDRESS failures an address is slowed (429 with a short Retry-After). The username ' +
    'may be spelled in any case or Unicode compatibility form.',
  request: {
    body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: TokenFormSchema } } },
  },
  responses: {
    200: { description: 'An access token', content: { 'application/json': { schema: TokenResponseSchema } } },
    ...errorResponses(400, 401, 413, 415, 422, 429, 500, 503),
  },
});

export const registerToken = (app: App) =>
  app.openapi(tokenRoute, async (c) => {
    const form = c.req.valid('form');
    const services = c.get('services');
    const issued = await login(services, form, {
      clientAddress: services.clientAddress(c),
      requestId: c.get('requestId'),
      logger: c.get('logger'),
    });
    c.header('Cache-Control', 'no-store');
    return c.json(
      { access_token: issued.token, token_type: 'bearer' as const, expires_in: issued.expiresIn },
      200,
    );
  });
