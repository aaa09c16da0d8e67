import type { Context } from 'hono';
import { hitRateLimit } from '../../db/queries/throttle.ts';
import { ApiError } from '../errors.ts';
import type { AppEnv } from '../services.ts';

/**
 * Counts one request against the authenticated user's window for `scope` (never a spoofable header,
 * never the raw path), in a fixed window kept in the database so every API instance shares the count.
 * A user's API keys count in the user's window, so making more keys gives no more calls (a service
 * user has a window of its own); a refusal names the key it came with. It sets the `X-RateLimit-*` headers
 * of the answer; beyond the limit it throws 429 with Retry-After. It fails closed: if the count cannot be taken, the request fails rather than
 * slipping through.
 *
 * The originate routes call it only when a call is about to be made, so idempotent replays and
 * refused requests do not use up the window.
 */
export async function takeRateLimit(c: Context<AppEnv>, scope: string): Promise<void> {
  const services = c.get('services');
  const user = c.get('user');
  const limit = services.config.RATE_LIMIT_REQUESTS;
  const window = await hitRateLimit(services.db, {
    key: `${scope}:${user.id}`,
    windowSeconds: services.config.RATE_LIMIT_WINDOW,
  });
  const reset = Math.ceil(window.resetAt.getTime() / 1000);
  const headers = {
    'X-RateLimit-Limit': String(limit),
    'X-RateLimit-Remaining': String(Math.max(0, limit - window.count)),
    'X-RateLimit-Reset': String(reset),
  };
  if (window.count > limit) {
    const retryAfter = Math.max(1, reset - Math.floor(Date.now() / 1000));
    throw new ApiError(
      'rate_limited',
      `At most ${limit} requests per ${services.config.RATE_LIMIT_WINDOW} s${user.keyId ? ` for API key ${user.keyId}` : ''}`,
      {
        headers,
        retryAfter,
      },
    );
  }
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
}
