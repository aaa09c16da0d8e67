import { createRoute, z } from '@hono/zod-openapi';
import { login } from '../../auth/login.ts';
import { refreshSession, type Session } from '../../auth/sessions.ts';
import { type App, errorResponses } from '../openapi.ts';

const TokenFormSchema = z
  .object({
    grant_type: z
      .enum(['password', 'refresh_token'])
      .optional()
      .openapi({
        description:
          'OAuth2 grant type: `password` (the default: `username` and `password`) or `refresh_token` ' +
          '(`refresh_token`)',
        example: 'password',
      }),
    username: z
      .string()
      .min(1)
      .max(150)
      // No username holds one, and the database cannot store a NUL to count the failure under.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
      .regex(/^[^\x00-\x1f\x7f]*$/, 'must not contain control characters')
      .optional()
      .openapi({ description: 'Username (password grant)', example: 'alice' }),
    password: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .openapi({ description: 'Password (password grant)', example: 'correct horse battery staple' }),
    // No length bound of its own: anything that is not a refresh token is refused with 401, like a
    // forged one, and the body limit bounds it.
    refresh_token: z.string().min(1).optional().openapi({
      description: 'A refresh token from an earlier answer (refresh_token grant); each is good for one use',
      example: 'odrt_Jx3K9mQ2vV8bT1nW5yZ0aC4dE6fG7hI2jL8kM0pN1qR',
    }),
    scope: z
      .string()
      .max(1000)
      .optional()
      .openapi({ description: 'Ignored; accepted for OAuth2 clients', example: '' }),
  })
  .superRefine((form, ctx) => {
    const needs =
      form.grant_type === 'refresh_token'
        ? (['refresh_token'] as const)
        : (['username', 'password'] as const);
    for (const field of needs) {
      if (form[field] === undefined) {
        const grant = form.grant_type ?? 'password';
        ctx.addIssue({ code: 'custom', path: [field], message: `is required for grant_type ${grant}` });
      }
    }
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
    refresh_token: z.string().openapi({
      description:
        'Gets the next access token (grant_type `refresh_token`) before this one expires. Good for one use: ' +
        'each refresh answers a new one, and presenting a used one again ends the whole session (every ' +
        'refresh and access token since the login). Keep it secret; it is never shown again.',
      example: 'odrt_Jx3K9mQ2vV8bT1nW5yZ0aC4dE6fG7hI2jL8kM0pN1qR',
    }),
    refresh_expires_in: z
      .number()
      .int()
      .openapi({
        description:
          'Seconds until the session ends: the refresh token, and every one it is rotated into, is refused ' +
          'after (REFRESH_TOKEN_TTL after the login); then log in again',
        example: 43200,
      }),
  })
  .openapi('TokenResponse');

const tokenRoute = createRoute({
  method: 'post',
  path: '/api/v2/token',
  tags: ['Auth'],
  summary: 'Log in, or refresh (OAuth2 password and refresh_token grants)',
  description:
    'Exchanges a username and password (form body) for an access token and a refresh token, or ' +
    '(grant_type `refresh_token`) a refresh token for the next pair. A refresh token is rotated on each ' +
    'use; presenting one that was used already is taken as theft: the session it belongs to (its refresh ' +
    'and access tokens) is revoked, the answer is 401, and the audit log notes it. Two refreshes with one ' +
    'token at once therefore end the session: refresh once at a time. Log out, "log out everywhere", a ' +
    'password reset, a role change or a deactivation end sessions too. Failed logins are throttled per ' +
    'username and per client address: after MAX_FAILED_LOGIN_ATTEMPTS failures the username is locked for ' +
    'LOGIN_LOCKOUT_DURATION seconds (429 with Retry-After), even for the right password; past ' +
    'MAX_FAILED_LOGINS_PER_ADDRESS failures an address is slowed (429 with a short Retry-After). The username ' +
    'may be spelled in any case or Unicode compatibility form.',
  request: {
    body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: TokenFormSchema } } },
  },
  responses: {
    200: {
      description: 'An access token and a refresh token',
      content: { 'application/json': { schema: TokenResponseSchema } },
    },
    ...errorResponses(400, 401, 413, 415, 422, 429, 500, 503),
  },
});

export const registerToken = (app: App) =>
  app.openapi(tokenRoute, async (c) => {
    const form = c.req.valid('form');
    const services = c.get('services');
    const meta = {
      clientAddress: services.clientAddress(c),
      userAgent: c.req.header('user-agent') ?? null,
      requestId: c.get('requestId'),
      logger: c.get('logger'),
    };
    let session: Session;
    if (form.grant_type === 'refresh_token')
      session = await refreshSession(services, form.refresh_token!, meta);
    else session = await login(services, { username: form.username!, password: form.password! }, meta);
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        access_token: session.access.token,
        token_type: 'bearer' as const,
        expires_in: session.access.expiresIn,
        refresh_token: session.refreshToken,
        refresh_expires_in: session.refreshExpiresIn,
      },
      200,
    );
  });
