import type { JWTPayload } from 'jose';
import * as base64url from 'jose/base64url';
import { SignJWT } from 'jose/jwt/sign';
import { ALG, type JwtRefusal, type PublicKeySet, type SigningKey, verifyJwt } from './keys.ts';

/**
 * Signed channel messages: an EdDSA JWT in `Authorization: Bearer`, bound to one request by the
 * method, the path and a SHA-256 of the exact body bytes, short-lived and single-use (`jti`).
 */

export interface SignOptions {
  key: SigningKey;
  issuer: string;
  audience: string;
  typ: string;
  method: string;
  path: string;
  body: string | Uint8Array;
  /** Seconds the signature stays valid; short, since each send signs anew. */
  ttlSeconds?: number;
  now?: Date;
}

export interface ChannelClaims extends JWTPayload {
  jti: string;
  iss: string;
  htm: string;
  htu: string;
  bh: string;
}

export interface VerifyOptions {
  keys: PublicKeySet;
  /** Accepted issuers; the API accepts each known sidecar, the sidecar accepts the API. */
  issuer: string | string[];
  audience: string;
  typ: string;
  method: string;
  path: string;
  body: string | Uint8Array;
  /** Longest life a token may claim (exp − iat), in seconds. */
  maxLifetimeSeconds?: number;
  clockToleranceSeconds?: number;
  /** Records the jti; resolves false when it was seen before (a replay). */
  claimJti: (jti: string, expiresAt: Date) => boolean | Promise<boolean>;
  now?: Date;
}

/** Why a signed message was refused; the text is safe to return to the caller. */
export class ChannelAuthError extends Error {
  override name = 'ChannelAuthError';
  readonly isChannelAuthError = true;
}

export function isChannelAuthError(error: unknown): error is ChannelAuthError {
  return typeof error === 'object' && error !== null && 'isChannelAuthError' in error;
}

function refusalText(why: JwtRefusal): string {
  if (why.kind === 'unknown_key') return 'unknown signing key';
  if (why.kind === 'expired') return 'signature expired';
  return why.code ? `invalid signature (${why.code})` : 'invalid signature';
}

const encoder = new TextEncoder();

async function bodyHash(body: string | Uint8Array): Promise<string> {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return base64url.encode(new Uint8Array(digest));
}

export async function signChannelMessage(options: SignOptions): Promise<string> {
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return new SignJWT({
    htm: options.method.toUpperCase(),
    htu: options.path,
    bh: await bodyHash(options.body),
  })
    .setProtectedHeader({ alg: ALG, kid: options.key.kid, typ: options.typ })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.ttlSeconds ?? 30))
    .setJti(crypto.randomUUID())
    .sign(options.key.privateKey);
}

/** Reads the bearer token of an Authorization header, or null. The scheme is case-insensitive (RFC 9110 §11.1). */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i.exec(header.trim());
  return match ? match[1]! : null;
}

export async function verifyChannelMessage(token: string, options: VerifyOptions): Promise<ChannelClaims> {
  const payload = await verifyJwt(
    token,
    options.keys,
    {
      issuer: options.issuer,
      audience: options.audience,
      typ: options.typ,
      requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
      clockTolerance: options.clockToleranceSeconds ?? 5,
      now: options.now,
    },
    (why) => new ChannelAuthError(refusalText(why)),
  );
  const claims = payload as ChannelClaims;
  const maxLife = options.maxLifetimeSeconds ?? 60;
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp - claims.iat > maxLife) {
    throw new ChannelAuthError('signature lives too long');
  }
  if (claims.htm !== options.method.toUpperCase() || claims.htu !== options.path) {
    throw new ChannelAuthError('signature is for another request');
  }
  if (typeof claims.bh !== 'string' || claims.bh !== (await bodyHash(options.body))) {
    throw new ChannelAuthError('body does not match its signature');
  }
  if (!(await options.claimJti(claims.jti, new Date(claims.exp * 1000)))) {
    throw new ChannelAuthError('replayed message');
  }
  return claims;
}
