import { createMiddleware } from 'hono/factory';
import { decodeJwt } from 'jose';
import { claimJti } from '../../../db/queries/misc.ts';
import { ApiError, unsupportedMediaType } from '../../errors.ts';
import type { AppEnv } from '../../services.ts';
import { signedRequest } from '../../shared/base/signed.ts';
import { sidecarIdOf } from '../../shared/contract/index.ts';

/**
 * Verifies a sidecar's signed message against the raw bytes before anything is parsed: signed by the
 * sidecar its issuer names with a key it is known by, for this API, with `typ`, single-use.
 */
export const signedBySidecar = (typ: string) =>
  signedRequest<AppEnv>({
    typ,
    audience: (c) => c.get('services').config.JWT_ISSUER,
    signer: async (c, token) => {
      let issuer: string | undefined;
      try {
        issuer = decodeJwt(token).iss;
      } catch {
        return 'The signature is not a JWT';
      }
      const sidecarId = issuer ? sidecarIdOf(issuer) : null;
      const keys = sidecarId ? await c.get('services').sidecarKeys(sidecarId) : null;
      return keys && issuer ? { keys, issuer } : 'Unknown sidecar';
    },
    claimJti: (c) => {
      const { db } = c.get('services');
      return (jti, expiresAt) => claimJti(db, jti, expiresAt);
    },
    refuse: (_c, refusal) => {
      throw new ApiError(
        'invalid_signature',
        refusal.kind === 'unsigned' ? 'A signed message is required' : refusal.detail,
      );
    },
  });

/** Only JSON is taken; checked before the body is read. */
export const jsonOnly = createMiddleware<AppEnv>(async (c, next) => {
  const contentType = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    throw unsupportedMediaType(['application/json'], c.req.header('content-type'));
  }
  await next();
});
