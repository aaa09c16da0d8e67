import type { Context } from 'hono';
import type { OriginateResponse } from '../../calls/bodies.ts';
import { withIdempotency } from '../../calls/idempotency.ts';
import { type OriginateInput, originateCall } from '../../calls/originate.ts';
import { presentOriginate } from '../../calls/present.ts';
import { takeRateLimit } from '../../calls/rate-limit.ts';
import { writableFlowsOwner } from '../../flows/access.ts';
import type { AppEnv } from '../../services.ts';

/**
 * The shared body of both originate routes (`POST /calls` and the original
 * `POST /interaction/{number}`): idempotency, then the rate limit and the originate itself. Only a
 * request that is about to make a call counts against the rate limit: a replayed, mismatched or
 * in-flight Idempotency-Key does not, and a 429 releases the key so the request can be retried.
 */
export async function handleOriginate(
  c: Context<AppEnv>,
  input: Omit<OriginateInput, 'ownerId' | 'traceparent' | 'flowOwner'>,
  idempotencyKey: string | undefined,
): Promise<{ status: 200; body: OriginateResponse; replayed: boolean }> {
  const services = c.get('services');
  const user = c.get('user');
  const result = await withIdempotency(
    services,
    { userId: user.id, key: idempotencyKey, request: { route: c.req.routePath, input } },
    async () => {
      const outcome = await originateCall(
        services,
        {
          ...input,
          ownerId: user.id,
          flowOwner: writableFlowsOwner(user),
          traceparent: c.req.header('traceparent'),
        },
        {
          requestId: c.get('requestId'),
          clientAddress: services.clientAddress(c),
          actorKeyId: user.keyId,
          logger: c.get('logger'),
          admit: () => takeRateLimit(c, 'originate'),
        },
      );
      return { status: 200, body: presentOriginate(outcome), callId: outcome.call.id };
    },
  );
  return { status: 200, body: result.body as OriginateResponse, replayed: result.replayed };
}
