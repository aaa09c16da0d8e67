import { encodeBase64Url } from '../lib/base64url.ts';
import { API_KEY_PATTERN, API_KEY_PREFIX } from '../shared/contract/index.ts';

/** Longer than any key: a bearer value past it is not looked at further. */
const MAX_KEY_LENGTH = 128;

/** Whether a bearer value is meant as an API key (rather than a JWT): decided by its prefix alone. */
export const looksLikeApiKey = (bearer: string): boolean => bearer.startsWith(API_KEY_PREFIX);

export interface ParsedKey {
  id: string;
  secret: string;
}

/** The key id and secret of a well-formed key, or null. */
export function parseApiKey(value: string): ParsedKey | null {
  if (value.length > MAX_KEY_LENGTH) return null;
  const m = API_KEY_PATTERN.exec(value);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

const hex = (bytes: ArrayBuffer) =>
  [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');

/** SHA-256 of the secret, hex: the secret holds 256 random bits, so no slow hash is needed. */
export async function hashKeySecret(secret: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret)));
}

/** Compares two hashes of equal length without stopping at the first difference. */
export function sameHash(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** A new key: its id, the whole key (shown once) and the hash that is kept. */
export async function generateApiKey(): Promise<{ id: string; key: string; secretHash: string }> {
  const id = hex(crypto.getRandomValues(new Uint8Array(8)).buffer);
  const secret = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  return { id, key: `${API_KEY_PREFIX}${id}_${secret}`, secretHash: await hashKeySecret(secret) };
}
