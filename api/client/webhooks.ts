import {
  type VerifyWebhookResult,
  verifyWebhook,
  type WebhookPublicKey,
} from '../shared/contract/webhook-signature.ts';
import type { OutdialClient } from './client.ts';
import { unwrap } from './client.ts';

/** The scheme the API signs with, defined once in the contract (api/shared/contract/webhook-signature.ts). */
export {
  SIGNATURE_HEADER,
  type VerifyWebhookOptions,
  type VerifyWebhookResult,
  verifyWebhook,
  type WebhookPublicKey,
} from '../shared/contract/webhook-signature.ts';

export interface WebhookVerifierOptions {
  /** Where the API's public keys are read from (`GET /.well-known/jwks.json`, no credentials needed). */
  client: OutdialClient;
  /** Largest accepted distance between the signature's time and now; default 300 s. */
  toleranceSeconds?: number;
  /** The shortest time between two reads of the keys for an unknown kid; default 60 s. */
  refetchAfterMs?: number;
}

/**
 * Checks a webhook request as received: the `Outdial-Signature` header and the raw body (read it
 * with `await request.text()` before any JSON parsing).
 */
export type WebhookVerifier = (
  header: string | null | undefined,
  body: string,
) => Promise<VerifyWebhookResult>;

/**
 * A verifier that reads the API's public keys once and again when a signature names a key it has
 * not seen (the API's key was rolled), at most once per `refetchAfterMs`, so a forged kid cannot make
 * it hammer the API.
 */
export function createWebhookVerifier(options: WebhookVerifierOptions): WebhookVerifier {
  let keys: WebhookPublicKey[] | null = null;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  const refetchAfterMs = options.refetchAfterMs ?? 60_000;
  const load = async () => {
    fetchedAt = Date.now();
    const jwks = unwrap(await options.client.GET('/.well-known/jwks.json')) as { keys?: WebhookPublicKey[] };
    keys = jwks.keys ?? [];
    return keys;
  };
  const check = (header: string | null | undefined, body: string, current: WebhookPublicKey[]) =>
    verifyWebhook({
      header,
      body,
      keys: current,
      ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }),
    });
  return async function verifyOutdialWebhook(header, body) {
    const result = await check(header, body, keys ?? (await load()));
    if (result.ok || result.reason !== 'unknown key' || Date.now() - fetchedAt < refetchAfterMs)
      return result;
    return check(header, body, await load());
  };
}
