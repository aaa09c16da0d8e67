import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Role } from '../../db/schema.ts';
import { ApiError, ERROR_CODES, type ErrorCode, type Problem, validationError } from '../errors.ts';
import { type Access, requireAuth, requireAuthReadingCall } from '../middleware/auth.ts';
import type { AppEnv } from '../services.ts';
import { problemBody } from '../shared/base/problem.ts';
import type { Scope } from '../shared/contract/index.ts';
import { withResponseExamples } from './examples.ts';
import { GUIDE } from './guide.ts';
import {
  CALLS_GUIDE,
  CAMPAIGNS_GUIDE,
  DNC_GUIDE,
  FLOWS_GUIDE,
  KEYS_GUIDE,
  LIVE_STATUS_GUIDE,
  WEBHOOKS_GUIDE,
} from './tag-guides.ts';

/** Shared OpenAPI pieces: the problem schema, error responses by status, security, the app type. */

export type App = OpenAPIHono<AppEnv>;

export function createOpenApiApp(): App {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      // On a failure the validator passes what it validated as `data`, which the type leaves out.
      if (!result.success)
        throw validationError(result.error, result.target, (result as { data?: unknown }).data);
    },
  });
}

/**
 * The object of a JSON request body of a v2 route: a field it does not define is refused (400
 * unknown_field) and named, so that a typo such as `tiemout` never passes for an absent field.
 */
export function strictBody<T extends z.ZodRawShape>(shape: T) {
  const fields = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `is not a field of this request, which takes ${fields}`
        : undefined,
  });
}

/**
 * The names in a body that its (lenient) schema does not define, for routes of the replaced
 * service that take and ignore them: at most 20, each cut to 64 characters, fit for a log line.
 */
export function ignoredFields(shape: z.ZodRawShape, body: object): string[] {
  return Object.keys(body)
    .filter((k) => !Object.hasOwn(shape, k))
    .slice(0, 20)
    .map((k) => k.slice(0, 64));
}

const FieldErrorSchema = z
  .object({
    path: z.string().openapi({ description: 'Where in the request', example: 'body.phone_number' }),
    pointer: z.string().optional().openapi({
      description:
        'For a body or form field: a JSON Pointer (RFC 6901) to it in the body (empty for the whole body)',
      example: '/phone_number',
    }),
    parameter: z.string().optional().openapi({
      description: 'For a query, path or header parameter: its name',
      example: 'created_after',
    }),
    message: z
      .string()
      .openapi({ description: 'What is wrong, in plain words', example: 'must be at least 7 characters' }),
    code: z.string().openapi({ description: 'Machine-readable kind of problem', example: 'invalid_format' }),
  })
  .openapi('FieldError');

const ProblemSchema = z
  .object({
    type: z
      .string()
      .openapi({ description: 'URI of the problem type', example: 'urn:outdial:problem:validation-error' }),
    title: z
      .string()
      .openapi({ description: 'Short summary of the problem type', example: 'Validation error' }),
    status: z.number().int().openapi({ description: 'HTTP status code', example: 422 }),
    detail: z.string().openapi({
      description:
        'What went wrong with this request; safe to show. Clients of the replaced service read this field.',
      example: 'body.phone_number: must be at least 7 characters',
    }),
    code: z
      .enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]])
      .openapi({ description: 'Machine-readable error code', example: 'validation_error' }),
    request_id: z.string().nullable().openapi({
      description: 'The X-Request-ID of this request',
      example: '0b9e2f1c-6d5a-4b8e-9f3a-2c1d7e6f5a4b',
    }),
    instance: z.string().optional().openapi({ description: 'The request path', example: '/api/v2/calls' }),
    errors: z
      .array(FieldErrorSchema)
      .optional()
      .openapi({ description: 'Field errors: what failed validation, or the field a conflict is about' }),
    retry_after: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'Seconds to wait before retrying (also in Retry-After)', example: 5 }),
  })
  .openapi('Problem');

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request (invalid JSON or form body), or a field the route does not define',
  401: 'Missing, invalid, expired or revoked token',
  403: 'The role of the caller, or the scopes of its API key, do not allow this',
  404: 'Not found (or not visible to the caller)',
  409: 'Conflict with the current state',
  413: 'Request body larger than 64 KiB',
  415: 'Unsupported Content-Type',
  422: 'Validation error',
  429: 'Too many requests; see Retry-After',
  500: 'Internal server error',
  503: 'A dependency (the PBX or the database) is unavailable; see Retry-After',
};

type ProblemExtra = Pick<Problem, 'errors' | 'retry_after'>;

/**
 * What each error code's answer looks like, as the reference shows it: a typical `detail` and, where
 * the code has them, the field errors or the wait. Every code has one, so a new code needs its example.
 */
const ERROR_EXAMPLES: Record<ErrorCode, { detail: string } & ProblemExtra> = {
  malformed_request: { detail: 'The body is not valid JSON: unexpected end of input at position 31' },
  unknown_field: {
    detail: 'body.tiemout: is not a field of this request, which takes phone_number, timeout, caller_id, …',
    errors: [
      {
        path: 'body.tiemout',
        pointer: '/tiemout',
        message: 'is not a field of this request, which takes phone_number, timeout, caller_id, …',
        code: 'unrecognized_keys',
      },
    ],
  },
  invalid_token: { detail: 'The access token has expired' },
  invalid_credentials: { detail: 'Incorrect username or password' },
  invalid_signature: { detail: 'The signature of this batch does not verify with the sidecar’s key' },
  forbidden: { detail: 'This API key lacks the scope calls:write' },
  not_found: { detail: 'No route for GET /api/v2/cals' },
  call_not_found: { detail: 'No call 5b0f8a52-3c1e-4d7a-9f2b-6e8d1c4a7b90' },
  user_not_found: { detail: 'No user 7d2c9e1a-4b5f-4c8d-a1e3-9f6b2d8c5e40' },
  api_key_not_found: { detail: 'No API key 4f1c9a2b7e3d5a60' },
  recording_not_found: { detail: 'The call has no recording named message' },
  flow_not_found: { detail: 'No flow 0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10' },
  campaign_not_found: { detail: 'No campaign 3c1a9e4f-5b6d-4e7f-8a9b-0c1d2e3f4a5b' },
  dnc_not_found: { detail: '+15551234000 is not on the do-not-call list' },
  method_not_allowed: { detail: 'DELETE is not a method of /api/v2/calls, which takes GET, POST' },
  call_already_ended: { detail: 'The call already ended: completed' },
  idempotency_in_flight: {
    detail: 'A request with this Idempotency-Key is still being answered; retry in a moment',
    retry_after: 1,
  },
  username_taken: { detail: 'body.username: alice is taken' },
  last_admin: { detail: 'At least one active admin must remain' },
  flow_archived: { detail: 'The flow is archived: it takes no new calls or versions' },
  campaign_closed: { detail: 'The campaign is completed: it takes no more contacts' },
  import_in_progress: { detail: 'Another contacts import of this campaign is still running' },
  campaign_state: { detail: 'pause needs a running campaign; this one is draft' },
  payload_too_large: { detail: 'The request body is larger than 64 KiB, the most this route takes' },
  unsupported_media_type: { detail: 'Content-Type must be application/json' },
  validation_error: {
    detail: 'body.phone_number: must be at least 7 characters',
    errors: [
      {
        path: 'body.phone_number',
        pointer: '/phone_number',
        message: 'must be at least 7 characters',
        code: 'too_small',
      },
    ],
  },
  idempotency_key_reused: { detail: 'This Idempotency-Key was used with a different request' },
  rate_limited: { detail: 'At most 10 calls per 60 s; retry in 12 s', retry_after: 12 },
  login_locked: { detail: 'Too many failed logins for this username; retry in 900 s', retry_after: 900 },
  internal_error: { detail: 'Internal server error' },
  pbx_unavailable: { detail: 'No sidecar can take the call now', retry_after: 5 },
  database_unavailable: { detail: 'The database cannot be reached', retry_after: 5 },
  busy: { detail: 'Too many password checks are waiting; retry in a moment', retry_after: 1 },
  not_ready: { detail: 'The database is not reachable yet', retry_after: 5 },
};

/** The example answers of a status: one per error code that answers it, named by the code. */
function problemExamples(status: number) {
  const examples: Record<string, { summary: string; value: Problem }> = {};
  for (const [code, { title, status: codeStatus }] of Object.entries(ERROR_CODES) as [
    ErrorCode,
    (typeof ERROR_CODES)[ErrorCode],
  ][]) {
    if (codeStatus !== status) continue;
    const { detail, ...extra } = ERROR_EXAMPLES[code];
    examples[code] = {
      summary: title,
      value: problemBody(
        { status, code, title, detail },
        { request_id: '0b9e2f1c-6d5a-4b8e-9f3a-2c1d7e6f5a4b', ...extra },
      ),
    };
  }
  return examples;
}

/**
 * Error responses for the given statuses, all with the problem+json body and an example for each
 * code the status stands for. Every route lists its errors through this one place.
 */
export function errorResponses(...statuses: number[]) {
  const out: Record<
    number,
    {
      description: string;
      content: {
        'application/problem+json': {
          schema: typeof ProblemSchema;
          examples: ReturnType<typeof problemExamples>;
        };
      };
    }
  > = {};
  for (const s of statuses)
    out[s] = {
      description: ERROR_DESCRIPTIONS[s] ?? 'Error',
      content: { 'application/problem+json': { schema: ProblemSchema, examples: problemExamples(s) } },
    };
  return out;
}

/** The security of an operation that needs `scope` of an API key (a session token needs none). */
export const scopedSecurity = (scope: string | null) => [{ bearerAuth: scope ? [scope] : [] }];

/**
 * The `security` and `middleware` of a route, from one declaration of what it needs: spread into
 * createRoute, so the document lists the scope the middleware enforces.
 */
export function guarded(access: Access, ...roles: Role[]) {
  return {
    security: scopedSecurity(access === 'self' || access === 'session' ? null : access),
    middleware: [requireAuth(access, ...roles)] as [MiddlewareHandler<AppEnv>],
  };
}

/** guarded, for a route that reads the call named by its path parameter `param` (requireAuthReadingCall). */
export function guardedReadingCall(access: Scope, param: string) {
  return {
    security: scopedSecurity(access),
    middleware: [requireAuthReadingCall(access, param)] as [MiddlewareHandler<AppEnv>],
  };
}

export const RateLimitHeaders = {
  'X-RateLimit-Limit': {
    description: 'Requests allowed in the window',
    schema: { type: 'integer' as const },
  },
  'X-RateLimit-Remaining': {
    description: 'Requests left in the window',
    schema: { type: 'integer' as const },
  },
  'X-RateLimit-Reset': {
    description: 'Unix time (s) when the window resets',
    schema: { type: 'integer' as const },
  },
};

export const API_VERSION = '2.0.0';

/** The document's top: title, version, description and tags. */
export function openApiConfig(appName: string) {
  return {
    openapi: '3.1.0' as const,
    info: {
      title: `${appName} API`,
      version: API_VERSION,
      description: GUIDE,
    },
    tags: [
      { name: 'Calls', description: CALLS_GUIDE },
      { name: 'Live status', description: LIVE_STATUS_GUIDE },
      { name: 'Webhooks', description: WEBHOOKS_GUIDE },
      { name: 'Flows', description: FLOWS_GUIDE },
      { name: 'Campaigns', description: CAMPAIGNS_GUIDE },
      { name: 'Do not call', description: DNC_GUIDE },
      { name: 'Auth', description: 'Tokens and the calling user' },
      { name: 'API keys', description: KEYS_GUIDE },
      { name: 'Users', description: 'User administration (admins only)' },
      { name: 'System', description: 'Health, readiness, metrics' },
      { name: 'Sidecar', description: 'The channel from the sidecars beside the PBXs' },
    ],
  };
}

/** The OpenAPI document of `app`: its routes, webhooks and guide, and an example for every answer. */
export function openApiDocument(app: App, appName: string) {
  return withResponseExamples(app.getOpenAPI31Document(openApiConfig(appName)));
}

/**
 * `limit` of a listing: 1 to 100, default 50. Only plain decimal digits are accepted (not `0x10`,
 * `+5`, ` 5` or `1e2`, which a bare number coercion would take).
 */
export const PageLimitSchema = z
  .string()
  .regex(/^[0-9]{1,3}$/, 'must be a whole number from 1 to 100')
  .optional()
  .transform((v) => (v === undefined ? 50 : Number(v)))
  .pipe(
    z
      .number()
      .int()
      .min(1, 'must be a whole number from 1 to 100')
      .max(100, 'must be a whole number from 1 to 100'),
  )
  .openapi({
    param: { name: 'limit', in: 'query' },
    type: 'integer',
    minimum: 1,
    maximum: 100,
    default: 50,
    description: 'Page size (1 to 100)',
    example: 50,
  });

/** The 422 for a `cursor` that is not one this API handed out. */
export function invalidCursor(): ApiError {
  return new ApiError('validation_error', 'query.cursor: is not a cursor this API returned', {
    errors: [{ path: 'query.cursor', message: 'is not a cursor this API returned', code: 'invalid_cursor' }],
  });
}

/**
 * The instants both the database and JavaScript hold: years 1 to 9999. PostgreSQL has no year 0,
 * and a Date reaches ±275760, so a well-formed date outside this range must be refused before a
 * query is built with it.
 */
const EARLIEST_TIME = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_TIME = Date.parse('9999-12-31T23:59:59.999Z');

/** Whether an ISO 8601 date-time names an instant the database can store. */
export function isStorableTime(iso: string): boolean {
  const t = Date.parse(iso);
  return t >= EARLIEST_TIME && t <= LATEST_TIME;
}

/** A date-time query parameter of a listing (`created_after`, …). */
export const timeQueryParam = (name: string, description: string, example: string) =>
  z.iso
    .datetime({
      offset: true,
      error: 'must be a date and time such as 2026-11-01T00:00:00Z (ISO 8601, with Z or an offset)',
      // A value that is no date at all is not also out of range.
      abort: true,
    })
    .refine(isStorableTime, 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z')
    .optional()
    .openapi({ param: { name, in: 'query' }, description, example });

/** `cursor` of a listing: the `next_cursor` of the page before. */
export const pageCursorSchema = (example: string) =>
  z
    .string()
    .max(200)
    .optional()
    .openapi({
      param: { name: 'cursor', in: 'query' },
      description: 'next_cursor of the previous page',
      example,
    });
