import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { type ZodError, z } from 'zod';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { isHasherBusy } from './auth/passwords.ts';
import { problemBody as buildProblem, problemResponse as sendProblem } from './shared/base/problem.ts';
import type { FieldError, Problem as SharedProblem } from './shared/contract/problem.ts';

/**
 * One error model for the whole API: every error is an RFC 9457 problem+json body with
 * `type`, `title`, `status`, `detail`, `code` and `request_id` (plus `errors` for validation).
 * `detail` keeps clients of the replaced service, which read FastAPI's `{"detail": …}`, working.
 */

export const ERROR_CODES = {
  malformed_request: { status: 400, title: 'Malformed request' },
  unknown_field: { status: 400, title: 'Unknown field' },
  invalid_token: { status: 401, title: 'Not authenticated' },
  invalid_credentials: { status: 401, title: 'Invalid credentials' },
  invalid_signature: { status: 401, title: 'Invalid signature' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  call_not_found: { status: 404, title: 'Call not found' },
  user_not_found: { status: 404, title: 'User not found' },
  api_key_not_found: { status: 404, title: 'API key not found' },
  recording_not_found: { status: 404, title: 'Recording not found' },
  flow_not_found: { status: 404, title: 'Flow not found' },
  campaign_not_found: { status: 404, title: 'Campaign not found' },
  dnc_not_found: { status: 404, title: 'Number not on the do-not-call list' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  call_already_ended: { status: 409, title: 'Call already ended' },
  idempotency_in_flight: { status: 409, title: 'Request with this Idempotency-Key is in progress' },
  username_taken: { status: 409, title: 'Username taken' },
  last_admin: { status: 409, title: 'Last active admin' },
  flow_archived: { status: 409, title: 'Flow archived' },
  campaign_closed: { status: 409, title: 'Campaign closed' },
  import_in_progress: { status: 409, title: 'Import in progress' },
  campaign_state: { status: 409, title: 'Not allowed in the campaign’s state' },
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

/** The API's problems always carry `request_id` (null outside a request). */
export interface Problem extends SharedProblem<ErrorCode> {
  request_id: string | null;
  errors?: FieldError[];
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
    this.errors = options.errors?.slice(0, MAX_FIELD_ERRORS).map(located);
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

function isApiError(error: unknown): error is ApiError {
  return typeof error === 'object' && error !== null && 'isApiError' in error;
}

export function problemBody(
  code: ErrorCode,
  detail: string,
  requestId: string | null,
  extra: Partial<Problem> = {},
): Problem {
  const { status, title } = ERROR_CODES[code];
  return buildProblem({ status, title, code, detail }, { request_id: requestId, ...extra });
}

/** Writes a problem+json response. */
export function problemResponse(c: Context, error: ApiError): Response {
  const requestId = (c.get('requestId') as string | undefined) ?? null;
  const body = problemBody(error.code, error.detail, requestId, {
    instance: c.req.path,
    ...(error.errors ? { errors: error.errors } : {}),
    ...(error.retryAfter !== undefined ? { retry_after: error.retryAfter } : {}),
  });
  return sendProblem(body, error.headers);
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

/** What the error handler knows of the request, to word a refused body. */
export interface BodyFacts {
  /** The media types the matched route takes. */
  accepts: readonly string[];
  /** The Content-Type sent, if any. */
  contentType: string | undefined;
  /** The body was announced as empty. */
  empty: boolean;
}

/** A Content-Type as sent, fit to repeat: its media type only, and only if it is plain text. */
function mediaTypeSent(contentType: string | undefined): string {
  if (contentType === undefined || contentType.trim() === '') return 'without a Content-Type';
  const essence = contentType.split(';')[0]!.trim();
  return /^[\x21-\x7e]{1,100}$/.test(essence)
    ? `as ${essence}`
    : 'with a Content-Type that is not a media type';
}

/** 415: the media types the route takes, and what was sent. */
export function unsupportedMediaType(accepts: readonly string[], contentType: string | undefined): ApiError {
  const takes = accepts.length > 0 ? `takes ${accepts.join(' or ')}` : 'takes no request body';
  return new ApiError(
    'unsupported_media_type',
    `This route ${takes}; the body was sent ${mediaTypeSent(contentType)}`,
  );
}

/** 400: a body that is not what its Content-Type says. */
export function malformedBody(contentType: string | undefined, empty = false): ApiError {
  const form = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(contentType ?? '');
  if (form)
    return new ApiError(
      'malformed_request',
      'The request body is not valid form data; this route takes application/x-www-form-urlencoded fields',
    );
  return new ApiError(
    'malformed_request',
    empty
      ? 'The request body is empty; this route takes a JSON object (application/json)'
      : 'The request body is not valid JSON; this route takes a JSON object (application/json)',
  );
}

/**
 * Turns whatever was thrown into an ApiError; unknown errors become a 500 that reveals nothing.
 * `body`, when the handler knows it, words a refused body after the route and what was sent.
 */
export function toApiError(error: unknown, body?: BodyFacts): { apiError: ApiError; unexpected: boolean } {
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
    if (code === 'malformed_request')
      return { apiError: malformedBody(body?.contentType, body?.empty), unexpected: false };
    if (code === 'unsupported_media_type')
      return {
        apiError: unsupportedMediaType(body?.accepts ?? ['application/json'], body?.contentType),
        unexpected: false,
      };
    if (code) {
      const detail =
        code === 'payload_too_large'
          ? 'The request body is larger than 64 KiB'
          : error.message || ERROR_CODES[code].title;
      return { apiError: new ApiError(code, detail, { cause: error }), unexpected: false };
    }
  }
  return {
    apiError: new ApiError('internal_error', 'The server could not handle this request'),
    unexpected: true,
  };
}

/** Where in a request a value came from, as field errors name it. */
type FieldLocation = 'body' | 'form' | 'query' | 'path' | 'header';

/** The validator's name for each part of a request (hono's targets), as field errors name it. */
const LOCATIONS: Record<string, FieldLocation> = {
  json: 'body',
  body: 'body',
  form: 'form',
  query: 'query',
  param: 'path',
  path: 'path',
  header: 'header',
};

/** RFC 6901: a member name's `~` and `/` are escaped. */
function jsonPointer(segments: readonly PropertyKey[]): string {
  return segments.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/**
 * Names a field: `path` (`body.variables.FOO`, `query.cursor`), plus a JSON Pointer into a body or
 * form (`/variables/FOO`; empty for the whole body) or the name of a query, path or header parameter.
 */
function fieldAt(
  where: FieldLocation,
  segments: readonly PropertyKey[],
): Pick<FieldError, 'path' | 'pointer' | 'parameter'> {
  const path = [where, ...segments.map(String)].join('.');
  if (where === 'body' || where === 'form') return { path, pointer: jsonPointer(segments) };
  return { path, parameter: String(segments[0] ?? '') };
}

/** A field error built by hand with only `path` gets its pointer or parameter from it. */
function located(error: FieldError): FieldError {
  if (error.pointer !== undefined || error.parameter !== undefined) return error;
  const [where = '', ...rest] = error.path.split('.');
  const location = LOCATIONS[where];
  return location ? { ...error, ...fieldAt(location, rest), path: error.path } : error;
}

/** At most this many field errors are listed in an answer; the detail says how many more there were. */
const MAX_FIELD_ERRORS = 20;

/** zod's own English wording, to tell it from the messages our schemas give. */
const zodWording = z.locales.en().localeError;

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  object: 'a JSON object',
  record: 'a JSON object',
  map: 'a JSON object',
  array: 'a list',
  tuple: 'a list',
  set: 'a list',
  null: 'null',
  date: 'a date',
};

const FORMAT_WORDS: Record<string, string> = {
  uuid: 'must be a UUID, such as 5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b',
  guid: 'must be a UUID, such as 5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b',
  datetime: 'must be a date and time such as 2026-11-01T00:00:00Z (ISO 8601, with Z or an offset)',
  date: 'must be a date such as 2026-11-01',
  url: 'must be a URL',
  email: 'must be an email address',
  regex: 'is not in the form this field takes',
};

/** What a value is, in words, without repeating a string a caller sent. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'object') return 'a JSON object';
  return typeof value;
}

type Issue = ZodError['issues'][number];

/** An issue in plain words: what the value must be, never zod's or the parser's vocabulary. */
function plainWords(issue: Issue, input: unknown, where: FieldLocation): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined) return 'is required';
      if (Array.isArray(input) && where !== 'body' && where !== 'form') return 'must be given once';
      const expected = TYPE_WORDS[issue.expected] ?? issue.expected;
      return `must be ${expected}, not ${kindOf(input)}`;
    }
    case 'too_small': {
      const n = Number(issue.minimum);
      if (issue.origin === 'string') return n <= 1 ? 'must not be empty' : `must be at least ${n} characters`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return n <= 1 ? 'must not be empty' : `must have at least ${n} items`;
      return issue.inclusive === false ? `must be greater than ${n}` : `must be at least ${n}`;
    }
    case 'too_big': {
      const n = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${n} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at most ${n} items`;
      return issue.inclusive === false ? `must be less than ${n}` : `must be at most ${n}`;
    }
    case 'invalid_format':
      return FORMAT_WORDS[issue.format] ?? `must be a valid ${issue.format}`;
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      return values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(', ')}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return 'is not a field of this request';
    case 'invalid_key': {
      const inner = issue.issues[0];
      return inner ? `is not a valid name: ${messageOf(inner, undefined, where)}` : 'is not a valid name';
    }
    case 'invalid_union': {
      // A discriminated union names the values its discriminator takes (a flow step's verb).
      const options = (issue as { options?: unknown[] }).options;
      if (Array.isArray(options) && options.length > 0)
        return `must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}`;
      return 'does not match any of the forms this field takes';
    }
    case 'invalid_element':
      return 'holds a value that is not valid';
    default:
      return 'is not valid';
  }
}

/** The schema's own message where it gives one, else the issue in plain words. */
function messageOf(issue: Issue, input: unknown, where: FieldLocation): string {
  const zods = zodWording({ ...issue, input } as Parameters<typeof zodWording>[0]);
  if (issue.code === 'invalid_union') return plainWords(issue, input, where);
  if (issue.message && issue.message !== zods && issue.message !== 'Invalid input') return issue.message;
  return plainWords(issue, input, where);
}

function valueAt(value: unknown, segments: readonly PropertyKey[]): unknown {
  let v = value;
  for (const s of segments) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[s as string];
  }
  return v;
}

/**
 * Maps zod issues to field errors: each names its field (path, and a JSON Pointer or parameter)
 * and says in plain words what the value must be. `input` is what was validated; with it, a
 * missing field reads "is required" and a wrong type names what was sent. An unknown member of a
 * strict object gives one error per member.
 */
function fieldErrors(error: ZodError, target: string, input?: unknown): FieldError[] {
  const where = LOCATIONS[target] ?? 'body';
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const message = messageOf(issue, valueAt(input, issue.path), where);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ ...fieldAt(where, [...issue.path, key]), message, code: 'unknown_field' });
    } else {
      out.push({ ...fieldAt(where, issue.path), message, code: issue.code });
    }
  }
  return out;
}

/** The detail of a validation answer: each field error as `path: message`, the first few. */
function validationDetail(errors: FieldError[]): string {
  if (errors.length === 0) return 'The request is not valid';
  const shown = errors.slice(0, 3).map((e) => `${e.path}: ${e.message}`);
  const more = errors.length - shown.length;
  return more > 0 ? `${shown.join('; ')}; and ${more} more` : shown.join('; ');
}

/**
 * The answer to a request its schema refused: 422 validation_error, or 400 unknown_field when the
 * body holds a field the route does not define (listed first, with the other field errors).
 */
export function validationError(error: ZodError, target: string, input?: unknown): ApiError {
  const all = fieldErrors(error, target, input);
  const unknown = all.filter((e) => e.code === 'unknown_field');
  const errors = [...unknown, ...all.filter((e) => e.code !== 'unknown_field')];
  return new ApiError(unknown.length > 0 ? 'unknown_field' : 'validation_error', validationDetail(errors), {
    errors,
  });
}
