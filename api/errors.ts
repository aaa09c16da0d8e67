import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { isHasherBusy } from './auth/passwords.ts';

/**
 * One error model for the whole API: every error is an RFC 9457 problem+json body with
 * `type`, `title`, `status`, `detail`, `code` and `request_id` (plus `errors` for validation).
 * `detail` keeps clients of the replaced service, which read FastAPI's `{"detail": …}`, working.
 */

export const ERROR_CODES = {
  malformed_request: { status: 400, title: 'Malformed request' },
  invalid_token: { status: 401, title: 'Not authenticated' },
  invalid_credentials: { status: 401, title: 'Invalid credentials' },
  invalid_signature: { status: 401, title: 'Invalid signature' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  call_not_found: { status: 404, title: 'Call not found' },
  user_not_found: { status: 404, title: 'User not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  call_already_ended: { status: 409, title: 'Call already ended' },
  idempotency_in_flight: { status: 409, title: 'Request with this Idempotency-Key is in progress' },
  username_taken: { status: 409, title: 'Username taken' },
  last_admin: { status: 409, title: 'Last active admin' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  validation_error: { status: 422, title: 'Validation error' },
  idempotency_key_reused: { status: 422, title: 'Idempotency-Key reused with another request' },
  rate_limited: { status: 429, title: 'Too many requests' },
  login_locked: { status: 429, title: 'Too many failed logins' },
  internal_error: { status: 500, title: 'Internal server error' },
  pbx_unavailable: { status: 503, title: 'PBX unavailable' },
  database_unavailable: { status: 503, title: 'Database unavailable' },
  busy: { status: 503, title: 'Busy' },
  not_ready: { status: 503, title: 'Not ready' },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldError {
  /** Where in the request: `body.phone_number`, `query.limit`, `path.call_id`, … */
  path: string;
  message: string;
  code: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  request_id: string | null;
  instance?: string;
  errors?: FieldError[];
  retry_after?: number;
}

export interface ApiErrorOptions {
  headers?: Record<string, string>;
  errors?: FieldError[];
  retryAfter?: number;
  cause?: unknown;
}

export class ApiError extends Error {
  override name = 'ApiError';
  readonly isApiError = true;
  readonly status: ContentfulStatusCode;
  readonly headers: Record<string, string>;
  readonly errors: FieldError[] | undefined;
  readonly retryAfter: number | undefined;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string = ERROR_CODES[code].title,
    options: ApiErrorOptions = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = ERROR_CODES[code].status;
    this.headers = { ...(options.headers ?? {}) };
    this.errors = options.errors;
    this.retryAfter = options.retryAfter;
    if (options.retryAfter !== undefined) this.headers['Retry-After'] = String(options.retryAfter);
    if (code === 'invalid_token' && !this.headers['WWW-Authenticate']) {
      this.headers['WWW-Authenticate'] = 'Bearer error="invalid_token"';
    }
    if (code === 'invalid_credentials' && !this.headers['WWW-Authenticate']) {
      this.headers['WWW-Authenticate'] = 'Bearer';
    }
  }
}

export function isApiError(error: unknown): error is ApiError {
  return typeof error === 'object' && error !== null && 'isApiError' in error;
}

export function problemType(code: ErrorCode): string {
  return `urn:outdial:problem:${code.replaceAll('_', '-')}`;
}

export function problemBody(
  code: ErrorCode,
  detail: string,
  requestId: string | null,
  extra: Partial<Problem> = {},
): Problem {
  const { status, title } = ERROR_CODES[code];
  return { type: problemType(code), title, status, detail, code, request_id: requestId, ...extra };
}

/** Writes a problem+json response. */
export function problemResponse(c: Context, error: ApiError): Response {
  const requestId = (c.get('requestId') as string | undefined) ?? null;
  const body = problemBody(error.code, error.detail, requestId, {
    instance: c.req.path,
    ...(error.errors ? { errors: error.errors } : {}),
    ...(error.retryAfter !== undefined ? { retry_after: error.retryAfter } : {}),
  });
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, ...error.headers },
  });
}

const HTTP_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'malformed_request',
  401: 'invalid_token',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_error',
  429: 'rate_limited',
  503: 'not_ready',
};

/** Seconds a client should wait after database_unavailable: about what a Postgres restart takes. */
const DATABASE_RETRY_AFTER = 2;

/** Turns whatever was thrown into an ApiError; unknown errors become a 500 that reveals nothing. */
export function toApiError(error: unknown): { apiError: ApiError; unexpected: boolean } {
  if (isApiError(error)) return { apiError: error, unexpected: false };
  if (isDatabaseUnavailable(error)) {
    return {
      apiError: new ApiError('database_unavailable', 'The database cannot be reached; try again shortly', {
        retryAfter: DATABASE_RETRY_AFTER,
        cause: error,
      }),
      unexpected: false,
    };
  }
  if (isHasherBusy(error)) {
    return {
      apiError: new ApiError('busy', 'The server is busy checking passwords; try again shortly', {
        retryAfter: 1,
      }),
      unexpected: false,
    };
  }
  if (error instanceof HTTPException) {
    const code = HTTP_STATUS_CODES[error.status];
    if (code) {
      const detail =
        code === 'malformed_request'
          ? 'The request body is not valid JSON or form data'
          : code === 'payload_too_large'
            ? 'The request body is larger than 64 KiB'
            : code === 'unsupported_media_type'
              ? 'Content-Type must be application/json for this route'
              : error.message || ERROR_CODES[code].title;
      return { apiError: new ApiError(code, detail, { cause: error }), unexpected: false };
    }
  }
  return {
    apiError: new ApiError('internal_error', 'The server could not handle this request'),
    unexpected: true,
  };
}

/** Maps zod issues to field errors, prefixed with where the input came from. */
export function fieldErrors(error: ZodError, target: string): FieldError[] {
  return error.issues.map((issue) => ({
    path: [target, ...issue.path.map(String)].join('.'),
    message: issue.message,
    code: issue.code,
  }));
}

export function validationError(error: ZodError, target: string): ApiError {
  const errors = fieldErrors(error, target);
  const first = errors[0];
  const detail = first ? `${first.path}: ${first.message}` : 'The request is not valid';
  return new ApiError('validation_error', detail, { errors });
}
