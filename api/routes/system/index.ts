import { createRoute, z } from '@hono/zod-openapi';
import type { Services } from '../../services.ts';
import { API_VERSION, type App, errorResponses } from '../openapi.ts';

const InfoSchema = z
  .object({
    name: z.string().openapi({ description: 'Service name (APP_NAME)', example: 'Outdial' }),
    version: z.string().openapi({ description: 'API version', example: API_VERSION }),
    docs: z.string().nullable().openapi({ description: 'Interactive API reference', example: '/docs' }),
    openapi: z.string().openapi({ description: 'OpenAPI 3.1 document', example: '/openapi.json' }),
    health: z.string().openapi({ description: 'Liveness probe', example: '/health' }),
  })
  .openapi('ServiceInfo');

const CheckSchema = z
  .object({
    status: z.enum(['ok', 'error']).openapi({ description: 'Result of the probe', example: 'ok' }),
    latency_ms: z.number().openapi({ description: 'Time the probe took', example: 1.4 }),
    error: z
      .string()
      .optional()
      .openapi({ description: 'Why it failed', example: 'timed out after 2000 ms' }),
    details: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({ description: 'What the dependency reported' }),
  })
  .openapi('DependencyCheck');

const ReadinessSchema = z
  .object({
    status: z
      .enum(['ready', 'not_ready'])
      .openapi({ description: 'ready when every dependency answered', example: 'ready' }),
    checks: z
      .object({ database: CheckSchema, sidecar: CheckSchema })
      .openapi({ description: 'One probe per dependency, each with its own timeout' }),
  })
  .openapi('Readiness');

const rootRoute = createRoute({
  method: 'get',
  path: '/',
  tags: ['System'],
  summary: 'Service information',
  responses: {
    200: { description: 'Name, version and links', content: { 'application/json': { schema: InfoSchema } } },
  },
});

const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  tags: ['System'],
  summary: 'Liveness',
  description: 'Answers 200 while the process can serve requests; checks no dependency.',
  responses: {
    200: {
      description: 'Alive',
      content: {
        'application/json': {
          schema: z
            .object({ status: z.literal('ok').openapi({ description: 'Always ok', example: 'ok' }) })
            .openapi('Health'),
        },
      },
    },
  },
});

const readinessRoute = createRoute({
  method: 'get',
  path: '/readiness',
  tags: ['System'],
  summary: 'Readiness',
  description:
    'Probes the database and the sidecar (each with a timeout) and reports each; 503 if either fails.',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: ReadinessSchema } } },
    503: { description: 'A dependency failed', content: { 'application/json': { schema: ReadinessSchema } } },
  },
});

const PROBE_TIMEOUT_MS = 2000;

async function probe(
  run: () => Promise<Record<string, unknown> | undefined>,
): Promise<z.infer<typeof CheckSchema>> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const details = await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${PROBE_TIMEOUT_MS} ms`)),
          PROBE_TIMEOUT_MS,
        );
      }),
    ]);
    const latency = Math.round((performance.now() - started) * 100) / 100;
    return { status: 'ok', latency_ms: latency, ...(details ? { details } : {}) };
  } catch (error) {
    const latency = Math.round((performance.now() - started) * 100) / 100;
    return { status: 'error', latency_ms: latency, error: error instanceof Error ? error.message : 'failed' };
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(services: Services) {
  const [database, sidecar] = await Promise.all([
    probe(async () => {
      await services.database.ping();
      return { kind: services.database.kind };
    }),
    probe(async () => {
      const status = await services.sidecar.status();
      if (status.ari.breaker === 'open') throw new Error('the sidecar’s ARI circuit breaker is open');
      return {
        id: status.sidecar_id,
        ari_connected: status.ari.connected,
        breaker: status.ari.breaker,
        live_calls: status.live_calls,
      };
    }),
  ]);
  const ready = database.status === 'ok' && sidecar.status === 'ok';
  return { status: ready ? ('ready' as const) : ('not_ready' as const), checks: { database, sidecar } };
}

export const registerSystem = (app: App) => {
  app.openapi(rootRoute, (c) => {
    const { config } = c.get('services');
    return c.json(
      {
        name: config.APP_NAME,
        version: API_VERSION,
        docs: config.DOCS_ENABLED ? '/docs' : null,
        openapi: '/openapi.json',
        health: '/health',
      },
      200,
    );
  });
  app.openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readinessRoute, async (c) => {
    const report = await readiness(c.get('services'));
    return c.json(report, report.status === 'ready' ? 200 : 503);
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/metrics',
    tags: ['System'],
    summary: 'Prometheus metrics',
    description: 'Text exposition format; 404 when METRICS_ENABLED is false.',
    responses: {
      200: { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
      ...errorResponses(404),
    },
  });
  app.get('/metrics', async (c) => {
    const out = await c.get('services').metrics.render();
    if (!out) return c.notFound();
    return c.body(out.body, 200, { 'Content-Type': out.contentType });
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/.well-known/jwks.json',
    tags: ['Auth'],
    summary: 'Public keys (JWKS)',
    description:
      'The Ed25519 keys that sign access tokens and sidecar commands; more than one during a key rotation.',
    responses: {
      200: { description: 'JWKS', content: { 'application/json': { schema: { type: 'object' } } } },
    },
  });
  app.get('/.well-known/jwks.json', (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(c.get('services').keys.verify.jwks());
  });
};
