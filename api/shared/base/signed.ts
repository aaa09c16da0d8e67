import type { Context, Env, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { PublicKeySet } from './keys.ts';
import { bearerToken, type ChannelClaims, isChannelAuthError, verifyChannelMessage } from './signing.ts';

/**
 * Signed-request verification, as a Hono middleware, for both ends of the channel: the API's event
 * route and the sidecar's command server. Nothing after it runs before the signature holds: it
 * reads the exact body bytes, checks the bearer JWT (signer's key, issuer, audience, `typ`, method,
 * path, body hash, lifetime, single-use `jti`) and hands the handler the verified claims and body.
 * Each side words a refusal its own way, through `refuse`.
 */

interface SignedRequest {
  claims: ChannelClaims;
  /** The body exactly as signed. */
  body: Uint8Array;
  /** The body as UTF-8 text. */
  text: string;
}

export type SignedEnv = { Variables: { signed: SignedRequest } };

/** Why a request was refused: no bearer token, or a token that does not hold (`detail` says why). */
type SignedRefusal = { kind: 'unsigned' } | { kind: 'invalid'; detail: string };

/** Whose signature a token may carry: the keys to check it with and the issuer(s) accepted. */
type Signer = { keys: PublicKeySet; issuer: string | string[] };

export interface SignedOptions<E extends Env = Env> {
  /** The JWT `typ` this endpoint takes (a command token never passes for an event token). */
  typ: string;
  audience: (c: Context<E>) => string;
  /** The signer a token claims to come from, or a refusal's detail when it names none we know. */
  signer: (c: Context<E>, token: string) => Signer | string | Promise<Signer | string>;
  /** Records a jti; false when it was seen before (a replay). */
  claimJti: (c: Context<E>) => (jti: string, expiresAt: Date) => boolean | Promise<boolean>;
  /** Longest life a token may claim (exp − iat), in seconds. */
  maxLifetimeSeconds?: number;
  /** Answers a refused request (or throws the side's own error). */
  refuse: (c: Context<E>, refusal: SignedRefusal) => Response | Promise<Response>;
}

const decoder = new TextDecoder();

export function signedRequest<E extends Env = Env>(options: SignedOptions<E>): MiddlewareHandler<SignedEnv> {
  return createMiddleware<SignedEnv>(async (c, next) => {
    // The side's own context: the middleware runs on its app, among its own variables.
    const own = c as unknown as Context<E>;
    const body = new Uint8Array(await c.req.arrayBuffer());
    const token = bearerToken(c.req.header('authorization'));
    if (!token) return options.refuse(own, { kind: 'unsigned' });
    let claims: ChannelClaims;
    try {
      const signer = await options.signer(own, token);
      if (typeof signer === 'string') return options.refuse(own, { kind: 'invalid', detail: signer });
      claims = await verifyChannelMessage(token, {
        keys: signer.keys,
        issuer: signer.issuer,
        audience: options.audience(own),
        typ: options.typ,
        method: c.req.method,
        path: c.req.path,
        body,
        ...(options.maxLifetimeSeconds !== undefined
          ? { maxLifetimeSeconds: options.maxLifetimeSeconds }
          : {}),
        claimJti: options.claimJti(own),
      });
    } catch (error) {
      if (!isChannelAuthError(error)) throw error;
      return options.refuse(own, { kind: 'invalid', detail: error.message });
    }
    c.set('signed', { claims, body, text: decoder.decode(body) });
    await next();
  });
}
