import type { MiddlewareHandler } from 'hono';
import { hitRateLimit } from '../../db/queries/throttle.ts';
import { ApiError } from '../errors.ts';
import type { AppEnv } from '../services.ts';

/**
 * Counts requests per authenticated user (never a spoofable header, never the raw path) in a fixed
 * window kept in the database, so every API instance shares the count. It fails closed: if the count
 * cannot be taken, the request fails rather than slipping through.
 */
export function rateLimit(options: { scope: string }): MiddlewareHandler<AppEnv> {
  return async function rateLimitMiddleware(c, next) {
    const services = c.get('services');
    const user = c.get('user');
    const limit = services.config.RATE_LIMIT_REQUESTS;
    const window = await hitRateLimit(services.db, {
      key: `${options.scope}:${user.id}`,
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
        `At most ${limit} requests per ${services.config.RATE_LIMIT_WINDOW} s`,
        {
          headers,
          retryAfter,
        },
      );
    }
    await next();
    for (const [k, v] of Object.entries(headers)) c.res.headers.set(k, v);
  };
}
