// jose's functions from its own entry points, not its index: the index loads all of jose (JWE,
// encryption, remote key sets…), 46 modules where these take 19, which the sidecar's idle memory
// feels (test/bench/README.md, "sidecar memory").
import type { CryptoKey, JWK, JWTPayload, JWTVerifyOptions } from 'jose';
import * as joseErrors from 'jose/errors';
import { calculateJwkThumbprint } from 'jose/jwk/thumbprint';
import { jwtVerify } from 'jose/jwt/verify';
import { exportJWK } from 'jose/key/export';
import { generateKeyPair } from 'jose/key/generate/keypair';
import { importJWK, importPKCS8, importSPKI } from 'jose/key/import';

/** The only signing algorithm Outdial uses or accepts: Ed25519. */
export const ALG = 'EdDSA';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface PublicKeySet {
  /** The key for a `kid`, or undefined when it is not one of ours. */
  get(kid: string): CryptoKey | undefined;
  /** The JWKS document that publishes these keys. */
  jwks(): { keys: JWK[] };
}

export class KeyMaterialError extends Error {
  override name = 'KeyMaterialError';
}

/** A fresh Ed25519 key pair, exported as a private JWK carrying its `kid`. */
export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! });
  jwk.alg = ALG;
  return jwk;
}

function isEd25519Jwk(jwk: JWK): boolean {
  return jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && typeof jwk.x === 'string';
}

/** Reads a private key given as a JWK (JSON) or a PKCS#8 PEM; anything else is refused. */
export async function loadSigningKey(material: string, kidOverride?: string): Promise<SigningKey> {
  const text = material.trim();
  let jwk: JWK;
  if (text.startsWith('{')) {
    try {
      jwk = JSON.parse(text) as JWK;
    } catch {
      throw new KeyMaterialError('the private key is neither valid JSON (JWK) nor PEM');
    }
    if (!isEd25519Jwk(jwk) || typeof jwk.d !== 'string') {
      throw new KeyMaterialError('the private key must be an Ed25519 (OKP) JWK with "d"');
    }
  } else if (text.includes('-----BEGIN PRIVATE KEY-----')) {
    let key: CryptoKey;
    try {
      key = await importPKCS8(text, ALG, { extractable: true });
    } catch (error) {
      throw new KeyMaterialError('the private key PEM is not an Ed25519 PKCS#8 key', { cause: error });
    }
    jwk = await exportJWK(key);
  } else {
    throw new KeyMaterialError('the private key must be an Ed25519 JWK or a PKCS#8 PEM');
  }
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x! };
  const kid = kidOverride || jwk.kid || (await calculateJwkThumbprint(publicJwk));
  publicJwk.kid = kid;
  publicJwk.alg = ALG;
  publicJwk.use = 'sig';
  const privateKey = (await importJWK({ ...jwk, kid }, ALG)) as CryptoKey;
  return { kid, privateKey, publicJwk };
}

/** Reads public keys given as a JWKS document, a single JWK or an SPKI PEM. */
export async function loadPublicJwks(material: string): Promise<JWK[]> {
  const text = material.trim();
  if (!text) return [];
  if (text.startsWith('{')) {
    let parsed: { keys?: JWK[] } & JWK;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new KeyMaterialError('public keys must be JSON (JWK or JWKS) or an SPKI PEM');
    }
    const list = Array.isArray(parsed.keys) ? parsed.keys : [parsed];
    const out: JWK[] = [];
    for (const jwk of list) {
      if (!isEd25519Jwk(jwk)) throw new KeyMaterialError('every public key must be an Ed25519 (OKP) JWK');
      const pub: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x! };
      out.push({ ...pub, kid: jwk.kid || (await calculateJwkThumbprint(pub)), alg: ALG, use: 'sig' });
    }
    return out;
  }
  if (text.includes('-----BEGIN PUBLIC KEY-----')) {
    let key: CryptoKey;
    try {
      key = await importSPKI(text, ALG, { extractable: true });
    } catch (error) {
      throw new KeyMaterialError('the public key PEM is not an Ed25519 SPKI key', { cause: error });
    }
    const jwk = await exportJWK(key);
    const pub: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x! };
    return [{ ...pub, kid: await calculateJwkThumbprint(pub), alg: ALG, use: 'sig' }];
  }
  throw new KeyMaterialError('public keys must be JSON (JWK or JWKS) or an SPKI PEM');
}

/** A set of public keys indexed by `kid`; keys of rotated-out signers can stay in it for a while. */
export async function createPublicKeySet(jwks: JWK[]): Promise<PublicKeySet> {
  const byKid = new Map<string, CryptoKey>();
  const published: JWK[] = [];
  for (const jwk of jwks) {
    if (!jwk.kid) throw new KeyMaterialError('every public key needs a kid');
    if (byKid.has(jwk.kid)) continue;
    byKid.set(jwk.kid, (await importJWK({ ...jwk, d: undefined }, ALG)) as CryptoKey);
    published.push({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, kid: jwk.kid, alg: ALG, use: 'sig' });
  }
  return {
    get: (kid) => byKid.get(kid),
    jwks: () => ({ keys: published.map((k) => ({ ...k })) }),
  };
}

/** Why `verifyJwt` refused a token: no key of the set has its `kid`, it expired, or jose's error code. */
export type JwtRefusal = { kind: 'unknown_key' } | { kind: 'expired' } | { kind: 'invalid'; code?: string };

class UnknownKey extends Error {}

/**
 * Verifies a JWT signed by one of `keys`. The algorithm list is pinned to EdDSA, so `alg: none` and
 * HS256 signed with a public key are refused before any key is used; the key is chosen by `kid` only.
 * Every refusal is thrown as the error `refuse` makes of it, so each caller words its own.
 */
export async function verifyJwt(
  token: string,
  keys: PublicKeySet,
  options: Omit<JWTVerifyOptions, 'algorithms' | 'currentDate'> & { now?: Date | undefined },
  refuse: (why: JwtRefusal) => Error,
): Promise<JWTPayload> {
  const { now, ...checks } = options;
  try {
    const result = await jwtVerify(
      token,
      (header) => {
        const key = header.kid ? keys.get(header.kid) : undefined;
        if (!key) throw new UnknownKey();
        return key;
      },
      { ...checks, algorithms: [ALG], ...(now ? { currentDate: now } : {}) },
    );
    return result.payload;
  } catch (error) {
    if (error instanceof UnknownKey) throw refuse({ kind: 'unknown_key' });
    if (error instanceof joseErrors.JWTExpired) throw refuse({ kind: 'expired' });
    if (error instanceof joseErrors.JOSEError) throw refuse({ kind: 'invalid', code: error.code });
    throw refuse({ kind: 'invalid' });
  }
}
