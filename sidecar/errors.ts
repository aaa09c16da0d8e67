import { problemBody, problemResponse } from '../api/shared/base/problem.ts';

/**
 * Errors as data: every error the sidecar raises on purpose carries a marker property, a
 * `retryable` flag and its `cause`, so policies and callers branch on fields, not on classes
 * that a second copy of a module would break.
 */

export type AriErrorKind =
  /** No HTTP answer: connection refused or reset, DNS, TLS. */
  | 'network'
  /** The per-request timeout fired before ARI answered. */
  | 'timeout'
  /** ARI answered with a status we treat as an error (4xx, 5xx). */
  | 'status'
  /** The circuit breaker is open; ARI was not asked. */
  | 'breaker_open';

export class AriError extends Error {
  override name = 'AriError';
  readonly isAriError = true;
  readonly kind: AriErrorKind;
  /** HTTP status when ARI answered, else null. */
  readonly status: number | null;
  /** ARI's own message (`message` or `error` member of its JSON body). */
  readonly ariMessage: string | null;
  /** Whether repeating the same request may succeed. */
  readonly retryable: boolean;
  /** Whether this failure says something about ARI's health (counts for the breaker). */
  readonly countsForBreaker: boolean;
  /** Seconds until the breaker lets a probe through (breaker_open only). */
  readonly retryAfterS: number | null;
  /**
   * No answer came to a request that may have reached ARI (a timeout, a connection lost after
   * it was opened): ARI may have carried it out.
   */
  readonly outcomeUnknown: boolean;

  constructor(
    message: string,
    options: {
      kind: AriErrorKind;
      status?: number | null;
      ariMessage?: string | null;
      retryable: boolean;
      countsForBreaker: boolean;
      retryAfterS?: number | null;
      outcomeUnknown?: boolean;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.kind = options.kind;
    this.status = options.status ?? null;
    this.ariMessage = options.ariMessage ?? null;
    this.retryable = options.retryable;
    this.countsForBreaker = options.countsForBreaker;
    this.retryAfterS = options.retryAfterS ?? null;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
}

export function isAriError(error: unknown): error is AriError {
  return (
    typeof error === 'object' && error !== null && (error as { isAriError?: unknown }).isAriError === true
  );
}

/** The API refused or failed an event batch. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  readonly isDeliveryError = true;
  readonly status: number | null;
  /** 401, 5xx and network errors are retried; 400/422 are not (the batch goes to dead letters). */
  readonly retryable: boolean;

  constructor(message: string, options: { status: number | null; retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.status = options.status;
    this.retryable = options.retryable;
  }
}

export function isDeliveryError(error: unknown): error is DeliveryError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isDeliveryError?: unknown }).isDeliveryError === true
  );
}

/** A short, safe description of any thrown value for logs (never a stack with secrets in it). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** The problems the command server answers (api/errors.ts has the API's). */
export type ProblemCode =
  | 'unauthorized'
  | 'invalid_json'
  | 'invalid_command'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'ari_unavailable'
  | 'internal';

const PROBLEMS: Record<ProblemCode, { status: number; title: string }> = {
  unauthorized: { status: 401, title: 'Signature refused' },
  invalid_json: { status: 400, title: 'Body is not JSON' },
  invalid_command: { status: 422, title: 'Command does not match its schema' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  payload_too_large: { status: 413, title: 'Body too large' },
  ari_unavailable: { status: 503, title: 'Asterisk is unavailable' },
  internal: { status: 500, title: 'Internal error' },
};

/** The sidecar's problem+json answer, built as the API builds its own. */
export function problem(
  code: ProblemCode,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  return problemResponse(problemBody({ ...PROBLEMS[code], code, detail }, extra), headers);
}
