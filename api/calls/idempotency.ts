import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  releaseIdempotencyKey,
} from '../../db/queries/idempotency.ts';
import { ApiError } from '../errors.ts';
import { encodeBase64Url } from '../lib/base64url.ts';
import type { Services } from '../services.ts';

/** A stable JSON text: object keys sorted, so equal bodies hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function requestHash(parts: unknown): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonicalJson(parts)));
  return encodeBase64Url(digest);
}

export type IdempotentResult<T> =
  | { replayed: false; status: number; body: T }
  | { replayed: true; status: number; body: unknown };

/**
 * Runs `work` at most once per (user, key): the same key with the same request answers the stored
 * response; with another request 422; while the first still runs 409. A key whose work failed
 * (an error, or the PBX unreachable) is released so the request can be tried again.
 */
export async function withIdempotency<T>(
  services: Services,
  input: { userId: string; key: string | undefined; request: unknown },
  work: () => Promise<{ status: number; body: T; callId: string | null }>,
): Promise<IdempotentResult<T>> {
  if (!input.key) {
    const result = await work();
    return { replayed: false, status: result.status, body: result.body };
  }
  const hash = await requestHash(input.request);
  const claim = await claimIdempotencyKey(services.db, {
    userId: input.userId,
    key: input.key,
    requestHash: hash,
    ttlSeconds: services.config.IDEMPOTENCY_TTL,
  });
  switch (claim.kind) {
    case 'mismatch':
      throw new ApiError('idempotency_key_reused', 'This Idempotency-Key was used with a different request');
    case 'in_flight':
      throw new ApiError(
        'idempotency_in_flight',
        'A request with this Idempotency-Key is still being processed',
        {
          retryAfter: 1,
        },
      );
    case 'replay':
      return { replayed: true, status: claim.status, body: claim.body };
    case 'claimed':
      break;
  }
  let result: { status: number; body: T; callId: string | null };
  try {
    result = await work();
  } catch (error) {
    await releaseIdempotencyKey(services.db, { userId: input.userId, key: input.key });
    throw error;
  }
  await completeIdempotencyKey(services.db, {
    userId: input.userId,
    key: input.key,
    status: result.status,
    body: result.body,
    callId: result.callId,
  });
  return { replayed: false, status: result.status, body: result.body };
}
