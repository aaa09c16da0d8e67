/**
 * The webhook signature scheme. Every delivery carries
 *
 *   Outdial-Signature: t=<unix seconds>,kid=<key id>,v1=<base64url Ed25519 signature>
 *
 * where the signature covers the bytes `outdial-webhook-v1.<t>.<raw body>`. Receivers verify it with
 * the public key of that kid from the API's /.well-known/jwks.json (no shared secret to distribute or
 * leak), and refuse timestamps more than a few minutes away from their clock (replays).
 *
 * WebCrypto only and no imports: the API signs with it (api/webhooks/signature.ts) and the published
 * client (api/client/) verifies with it, so the scheme is written once.
 */

export const SIGNATURE_HEADER = 'Outdial-Signature';
/** What the signed bytes start with: `outdial-webhook-v1.<t>.<raw body>`. */
export const SIGNATURE_CONTEXT = 'outdial-webhook-v1';
/** How far a signature's time may be from the receiver's clock by default, in seconds. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
const encoder = new TextEncoder();

/** The members of a public JWK the scheme reads (a key of /.well-known/jwks.json). */
export interface WebhookPublicKey {
  kid?: string;
  kty?: string;
  crv?: string;
  x?: string;
}

export function base64url(bytes: ArrayBuffer): string {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (text.length % 4)) % 4));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The bytes a signature covers. */
export function signedBytes(timestamp: number, body: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${SIGNATURE_CONTEXT}.${timestamp}.${body}`) as Uint8Array<ArrayBuffer>;
}

/** The header's value for a signature made at `timestamp` (unix seconds). */
export function signatureHeader(timestamp: number, kid: string, signature: ArrayBuffer): string {
  return `t=${timestamp},kid=${kid},v1=${base64url(signature)}`;
}

export interface VerifyWebhookOptions {
  /** The Outdial-Signature header as received. */
  header: string | null | undefined;
  /** The raw request body, exactly as received (before any JSON parsing). */
  body: string;
  /** The API's public keys: the `keys` of /.well-known/jwks.json. */
  keys: readonly WebhookPublicKey[];
  /** Largest accepted distance between the signature's time and now; default 300 s. */
  toleranceSeconds?: number;
  now?: Date;
}

export type VerifyWebhookResult =
  | { ok: true; timestamp: number; kid: string }
  | { ok: false; reason: 'malformed signature header' | 'stale timestamp' | 'unknown key' | 'bad signature' };

/**
 * Checks an Outdial webhook signature. Portable (WebCrypto only): runs on Bun, Node 20+, Deno,
 * Cloudflare Workers and browsers. The comparison is the Ed25519 verification itself, which does
 * not leak through timing what part of a forged signature was right.
 */
export async function verifyWebhook(options: VerifyWebhookOptions): Promise<VerifyWebhookResult> {
  const fields = new Map<string, string>();
  for (const part of (options.header ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i > 0) fields.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  const t = Number(fields.get('t'));
  const kid = fields.get('kid');
  const sig = fields.get('v1');
  if (!Number.isInteger(t) || !kid || !sig) return { ok: false, reason: 'malformed signature header' };
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS))
    return { ok: false, reason: 'stale timestamp' };
  const jwk = options.keys.find((k) => k.kid === kid && k.kty === 'OKP' && k.crv === 'Ed25519');
  if (!jwk?.x) return { ok: false, reason: 'unknown key' };
  let valid = false;
  try {
    const key = await crypto.subtle.importKey(
      'jwk',
      { kty: 'OKP', crv: 'Ed25519', x: jwk.x },
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    valid = await crypto.subtle.verify(
      { name: 'Ed25519' },
      key,
      fromBase64url(sig),
      signedBytes(t, options.body),
    );
  } catch {
    valid = false;
  }
  return valid ? { ok: true, timestamp: t, kid } : { ok: false, reason: 'bad signature' };
}
