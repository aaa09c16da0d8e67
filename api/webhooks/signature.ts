import type { SigningKey } from '../shared/base/keys.ts';
import { signatureHeader, signedBytes } from '../shared/contract/webhook-signature.ts';

/**
 * Signing webhooks (and a flow's `request` step) with the API's key. The scheme, and its
 * verification that receivers run, are in api/shared/contract/webhook-signature.ts; the published
 * client exports the same verifyWebhook.
 */
export { SIGNATURE_HEADER, verifyWebhook } from '../shared/contract/webhook-signature.ts';

export async function signWebhook(key: SigningKey, body: string, now: Date = new Date()): Promise<string> {
  const t = Math.floor(now.getTime() / 1000);
  const sig = await crypto.subtle.sign(
    { name: 'Ed25519' },
    key.privateKey as CryptoKey,
    signedBytes(t, body),
  );
  return signatureHeader(t, key.kid, sig);
}
