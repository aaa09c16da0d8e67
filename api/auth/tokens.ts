import { type JWTPayload, SignJWT } from 'jose';
import { ALG, type JwtRefusal, type PublicKeySet, type SigningKey, verifyJwt } from '../shared/base/keys.ts';

/** RFC 9068 access tokens: `typ` at+jwt, EdDSA only, kid, iss, aud, exp, jti always present. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

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
      clockTolerance: 5,
      now: options.now,
    },
    (why) => new InvalidTokenError(refusalText(why)),
  );
  if (typeof payload.ver !== 'number' || typeof payload.sub !== 'string' || typeof payload.jti !== 'string') {
    throw new InvalidTokenError('invalid token claims');
  }
  return payload as AccessClaims;
}
