import type { MiddlewareHandler } from 'hono';
import type { AppEnv, Services } from '../services.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Puts the services and a request id on the context, logs one JSON line per request and
 * counts it under its route template (never the raw path, which would explode label cardinality).
 */
export function requestContext(options: {
  services: (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => Services;
}): MiddlewareHandler<AppEnv> {
  return async function requestContextMiddleware(c, next) {
    const started = performance.now();
    const services = options.services(c);
    const inbound = c.req.header('x-request-id');
    const requestId = inbound && REQUEST_ID.test(inbound) ? inbound : crypto.randomUUID();
    const logger = services.logger.child({ request_id: requestId });
    c.set('services', services);
    c.set('requestId', requestId);
    c.set('logger', logger);
    await next();
    c.header('X-Request-ID', requestId);
    const status = c.res.status;
    const route =
      c.req.routePath && c.req.routePath !== '/*' && c.req.routePath !== '*' ? c.req.routePath : 'unmatched';
    const seconds = (performance.now() - started) / 1000;
    services.metrics.observeRequest(c.req.method, route, status, seconds);
    const user = c.get('user');
    const fields = {
      method: c.req.method,
      path: c.req.path,
      route,
      status,
      duration_ms: Math.round(seconds * 1000 * 100) / 100,
      ...(user ? { user_id: user.id } : {}),
      ...(user?.keyId ? { key_id: user.keyId } : {}),
    };
    if (status >= 500) logger.error('request', fields);
    else if (services.config.LOG_LEVEL === 'debug' || status >= 400) logger.info('request', fields);
  };
}
