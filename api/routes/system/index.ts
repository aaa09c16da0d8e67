import { createRoute, z } from '@hono/zod-openapi';
import type { Services } from '../../services.ts';
import type { SidecarStatus } from '../../shared/contract/index.ts';
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
    status: z.enum(['ok', 'error', 'unknown']).openapi({
      description:
        'Result of the probe; unknown when the dependency could not be asked (the PBX without its sidecar)',
      example: 'ok',
    }),
    required: z.boolean().openapi({
      description: 'Whether this check failing makes /readiness answer 503 (only the database does)',
      example: true,
    }),
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
    status: z.enum(['ready', 'degraded', 'not_ready']).openapi({
      description:
        'ready: every check is ok. degraded: the database is ok but the sidecar or the PBX is not (HTTP 200: ' +
        'this instance serves everything but new calls, and another instance would do no better). ' +
        'not_ready: the database is not ok (HTTP 503)',
      example: 'ready',
    }),
    checks: z.object({ database: CheckSchema, sidecar: CheckSchema, pbx: CheckSchema }).openapi({
      description:
        'One probe per dependency, each with its own timeout. database: a round trip; sidecar: its ' +
        'signed status command; pbx: Asterisk as the sidecar sees it (ARI answering a probe sent ' +
        'just now, the events socket open, the circuit breaker not open)',
    }),
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
    'Probes the database, the sidecar and, through the sidecar, the PBX (each with a timeout) and ' +
    'reports the state of each. 503 only when the database fails: without it this instance can ' +
    'serve nothing. A sidecar or PBX that fails makes it 200 `degraded`: every API instance shares ' +
    'the one PBX, so a load balancer pulling them all would turn away reads, hang-ups and logins ' +
    'as well and bring no call back; operators see the state here and in the sidecar alerts.',
  responses: {
    200: {
      description: 'Ready, or degraded (the sidecar or the PBX is down)',
      content: { 'application/json': { schema: ReadinessSchema } },
    },
    503: {
      description: 'The database failed',
      content: { 'application/json': { schema: ReadinessSchema } },
    },
  },
});

const PROBE_TIMEOUT_MS = 2000;

type Check = z.infer<typeof CheckSchema>;
type Probed = Omit<Check, 'required'>;

async function probe(run: () => Promise<Record<string, unknown> | undefined>): Promise<Probed> {
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

/** The PBX as the sidecar's status shows it: what is wrong with it, if anything. */
function pbxCheck(status: SidecarStatus, latency: number): Probed {
  const { ari } = status;
  const details = {
    ari_reachable: ari.reachable ?? null,
    events_socket: ari.events_socket ?? (ari.connected ? 'open' : 'down'),
    breaker: ari.breaker,
    retry_after_s: ari.retry_after_s,
  };
  const problems: string[] = [];
  if (ari.reachable === false) problems.push(`ARI does not answer (${ari.error ?? 'no detail'})`);
  if (ari.breaker === 'open') {
    problems.push(`the ARI circuit breaker is open: originates are refused for ${ari.retry_after_s ?? 1} s`);
  }
  if (!ari.connected) {
    problems.push(
      ari.events_socket === 'replaced'
        ? 'another client registered the ARI app: the events socket gets nothing'
        : `the ARI events socket is ${details.events_socket}`,
    );
  }
  return problems.length === 0
    ? { status: 'ok', latency_ms: latency, details }
    : { status: 'error', latency_ms: latency, error: problems.join('; '), details };
}

async function readiness(services: Services) {
  let sidecarStatus: SidecarStatus | null = null;
  const [database, sidecar] = await Promise.all([
    probe(async () => {
      await services.database.ping();
      return { kind: services.database.kind };
    }),
    probe(async () => {
      sidecarStatus = await services.sidecar.status();
      return {
        id: sidecarStatus.sidecar_id,
        live_calls: sidecarStatus.live_calls,
        queued_calls: sidecarStatus.queued_calls,
        outbox_depth: sidecarStatus.outbox_depth,
      };
    }),
  ]);
  const pbx: Probed = sidecarStatus
    ? pbxCheck(sidecarStatus, sidecar.latency_ms)
    : { status: 'unknown', latency_ms: sidecar.latency_ms, error: 'the sidecar could not be asked' };
  // Only the database decides 503; see the route's description for why.
  const checks = {
    database: { ...database, required: true },
    sidecar: { ...sidecar, required: false },
    pbx: { ...pbx, required: false },
  };
  const status =
    database.status !== 'ok'
      ? ('not_ready' as const)
      : sidecar.status !== 'ok' || pbx.status !== 'ok'
        ? ('degraded' as const)
        : ('ready' as const);
  return { status, checks };
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
    return c.json(report, report.status === 'not_ready' ? 503 : 200);
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
