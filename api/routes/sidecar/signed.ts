import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { decodeJwt } from 'jose';
import type { z } from 'zod';
import { claimJti } from '../../../db/queries/misc.ts';
import { ApiError, malformedBody, unsupportedMediaType, validationError } from '../../errors.ts';
import type { AppEnv } from '../../services.ts';
import { type SignedEnv, signedRequest } from '../../shared/base/signed.ts';
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

/**
 * The verified message's body as `schema` reads it (400 when it is not JSON, 422 naming the fields
 * when it does not fit), and the sidecar that signed it. A body that names a sidecar (`sidecar_id`)
 * must name its signer.
 */
export function signedBody<S extends z.ZodType>(
  c: Context<AppEnv & SignedEnv>,
  schema: S,
): { body: z.infer<S>; sidecarId: string } {
  const { claims, text: raw } = c.get('signed');
  const sidecarId = sidecarIdOf(claims.iss)!;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw malformedBody('application/json', raw.length === 0);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw validationError(parsed.error, 'body', json);
  const named = (parsed.data as { sidecar_id?: unknown }).sidecar_id;
  if (named !== undefined && named !== sidecarId) {
    throw new ApiError('validation_error', 'body.sidecar_id: does not match the signer', {
      errors: [{ path: 'body.sidecar_id', message: 'does not match the signer', code: 'mismatch' }],
    });
  }
  return { body: parsed.data, sidecarId };
}
