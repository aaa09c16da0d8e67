import { type JWTPayload, SignJWT } from 'jose';
import { ALG, type JwtRefusal, type PublicKeySet, type SigningKey, verifyJwt } from '../shared/base/keys.ts';

/** RFC 9068 access tokens: `typ` at+jwt, EdDSA only, kid, iss, aud, exp, jti always present. */
export const ACCESS_TOKEN_TYP = 'at+jwt';
/** Seconds of clock skew allowed around `exp`, `nbf` and `iat`. */
const CLOCK_TOLERANCE_S = 5;

export interface AccessClaims extends JWTPayload {
  sub: string;
  jti: string;
  exp: number;
  iat: number;
  /** The user's token version when the token was minted; a password reset moves it on. */
  ver: number;
}

export interface IssuedToken {
  token: string;
  jti: string;
  expiresIn: number;
  expiresAt: Date;
}

export async function issueAccessToken(input: {
  key: SigningKey;
  issuer: string;
  audience: string;
  userId: string;
  tokenVersion: number;
  ttlSeconds: number;
  now?: Date;
}): Promise<IssuedToken> {
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const jti = crypto.randomUUID();
  const token = await new SignJWT({ ver: input.tokenVersion })
    .setProtectedHeader({ alg: ALG, kid: input.key.kid, typ: ACCESS_TOKEN_TYP })
    .setSubject(input.userId)
    .setIssuer(input.issuer)
    .setAudience(input.audience)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + input.ttlSeconds)
    .setJti(jti)
    .sign(input.key.privateKey);
  return { token, jti, expiresIn: input.ttlSeconds, expiresAt: new Date((now + input.ttlSeconds) * 1000) };
}

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

function refusalText(why: JwtRefusal): string {
  if (why.kind === 'unknown_key') return 'unknown key';
  if (why.kind === 'expired') return 'token expired';
  return why.code ? `invalid token (${why.code})` : 'invalid token';
}

/** Verifies an access token: EdDSA only, the key chosen by `kid` (see verifyJwt). */
export async function verifyAccessToken(
  token: string,
  options: { keys: PublicKeySet; issuer: string; audience: string; now?: Date },
): Promise<AccessClaims> {
  const payload = await verifyJwt(
    token,
    options.keys,
    {
      issuer: options.issuer,
      audience: options.audience,
      typ: ACCESS_TOKEN_TYP,
      requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti', 'sub'],
      clockTolerance: CLOCK_TOLERANCE_S,
      now: options.now,
    },
    (why) => new InvalidTokenError(refusalText(why)),
  );
  if (typeof payload.ver !== 'number' || typeof payload.sub !== 'string' || typeof payload.jti !== 'string') {
    throw new InvalidTokenError('invalid token claims');
  }
  return payload as AccessClaims;
}

/** How many verified tokens a process remembers; past it the oldest is forgotten first. */
const VERIFIED_MAX = 10_000;
/**
 * Access tokens already verified, by their exact text (never by `jti` alone: a forged token may carry
 * a known token's id), for each key set and audience. A signature and a token's claims never change,
 * so verifying the same text again can only give the same answer until it expires; this saves the
 * Ed25519 verification, the most expensive part of an authenticated request in this process.
 * Revocation is not cached: the caller still reads the user and the token id on every request.
 */
const verified = new WeakMap<PublicKeySet, Map<string, AccessClaims>>();

/** verifyAccessToken, remembering what it verified (see `verified`); refusals are never remembered. */
export async function verifyAccessTokenCached(
  token: string,
  options: { keys: PublicKeySet; issuer: string; audience: string },
): Promise<AccessClaims> {
  let cache = verified.get(options.keys);
  if (!cache) {
    cache = new Map();
    verified.set(options.keys, cache);
  }
  const key = `${options.issuer}\n${options.audience}\n${token}`;
  const known = cache.get(key);
  if (known) {
    if (Date.now() / 1000 < known.exp + CLOCK_TOLERANCE_S) return known;
    cache.delete(key);
  }
  const claims = await verifyAccessToken(token, options);
  if (cache.size >= VERIFIED_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, claims);
  return claims;
}
