import { isTaskCancelledError } from 'cockatiel';
import { AriError, isAriError } from '../errors.ts';
import { AriErrorBody } from './schemas.ts';

/** What ARI answered: the HTTP status and the body (parsed JSON, or the text). */
export interface Sent {
  status: number;
  body: unknown;
}

export function parseBody(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function ariMessage(body: unknown): string | null {
  const parsed = AriErrorBody.safeParse(body);
  if (!parsed.success) return typeof body === 'string' ? body.slice(0, 200) : null;
  return parsed.data.message ?? parsed.data.error ?? null;
}

/** The recorded 500 for an unknown channel technology: a routing problem, not ARI's health. */
export function isAllocationFailed(sent: Sent): boolean {
  return sent.status === 500 && ariMessage(sent.body) === 'Allocation failed';
}

/** 2xx → body; anything else → a non-retryable AriError carrying ARI's status and message. */
export function expectOk(sent: Sent, what: string): unknown {
  if (sent.status >= 200 && sent.status < 300) return sent.body;
  const message = ariMessage(sent.body);
  throw new AriError(`ARI refused ${what}: ${sent.status}${message ? ` ${message}` : ''}`, {
    kind: 'status',
    status: sent.status,
    ariMessage: message,
    retryable: false,
    countsForBreaker: false,
  });
}

export function isAllocationFailedError(error: unknown): boolean {
  return isAriError(error) && error.status === 500 && error.ariMessage === 'Allocation failed';
}

/**
 * The timeout policy's TaskCancelledError. cockatiel's own isTaskCancelledError tests for the
 * bulkhead's marker (3.2.1), so it never recognises one.
 */
export function isTimeout(error: unknown): boolean {
  return (
    isTaskCancelledError(error) ||
    (typeof error === 'object' &&
      error !== null &&
      (error as { isTaskCancelledError?: unknown }).isTaskCancelledError === true)
  );
}

/** Errors that mean no connection to ARI was made, so nothing was sent. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function neverConnected(error: unknown): boolean {
  for (let e = error; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECT_FAILURES.has(code)) return true;
  }
  return false;
}
