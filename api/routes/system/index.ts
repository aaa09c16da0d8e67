import { createRoute, z } from '@hono/zod-openapi';
import { recordSidecarCapacity, sidecarLoads } from '../../../db/queries/misc.ts';
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

const SidecarStateSchema = z
  .object({
    id: z.string().openapi({ description: 'The sidecar (SIDECARS or SIDECAR_ID)', example: 'east' }),
    state: z.enum(['up', 'down', 'breaker_open']).openapi({
      description:
        'up: it answered its status and its PBX is usable; down: it did not answer, or its PBX does not ' +
        '(ARI unreachable, events socket not open); breaker_open: this API’s circuit breaker for it is ' +
        'open, or its own ARI breaker refuses originates. New calls go to sidecars that are up',
      example: 'up',
    }),
    load: z.number().int().nullable().openapi({
      description: 'Its calls not yet final, as the database counts them (null when it could not be read)',
      example: 12,
    }),
    capacity: z.number().int().openapi({
      description: 'The calls it takes at once (its MAX_CONCURRENT_CALLS, as it reported it)',
      example: 50,
    }),
    error: z
      .string()
      .optional()
      .openapi({ description: 'Why it is not up', example: 'timed out after 2000 ms' }),
  })
  .openapi('SidecarState');

const ReadinessSchema = z
  .object({
    status: z.enum(['ready', 'degraded', 'not_ready']).openapi({
      description:
        'ready: the database is ok and at least one sidecar is up with its PBX. degraded: the database is ' +
        'ok but no sidecar is (HTTP 200: this instance serves everything but new calls, and another ' +
        'instance would do no better). not_ready: the database is not ok (HTTP 503)',
      example: 'ready',
    }),
    checks: z.object({ database: CheckSchema, sidecar: CheckSchema, pbx: CheckSchema }).openapi({
      description:
        'One probe per dependency, each with its own timeout. database: a round trip; sidecar: its ' +
        'signed status command; pbx: Asterisk as the sidecar sees it (ARI answering a probe sent ' +
        'just now, the events socket open, the circuit breaker not open). With several sidecars, ' +
        'sidecar and pbx are those of the first one that is up (or of the first one when none is)',
    }),
    sidecars: z.array(SidecarStateSchema).openapi({
      description: 'Each configured sidecar, in the configuration’s order, with its state, load and capacity',
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
    'Probes the database, each sidecar and, through each sidecar, its PBX (each with a timeout) and ' +
    'reports the state of each, with each sidecar’s load and capacity. Ready while at least one ' +
    'sidecar is up. 503 only when the database fails: without it this instance can serve nothing. ' +
    'No sidecar up makes it 200 `degraded`: every API instance shares the same PBXs, so a load ' +
    'balancer pulling them all would turn away reads, hang-ups and logins as well and bring no call ' +
    'back; operators see the state here and in the sidecar alerts.',
  responses: {
    200: {
      description: 'Ready, or degraded (no sidecar is up with its PBX)',
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

interface SidecarProbe {
  id: string;
  sidecar: Probed;
  pbx: Probed;
}

/** One sidecar's status and, from it, its PBX's; what it said is remembered by the fleet. */
async function probeSidecar(services: Services, id: string): Promise<SidecarProbe> {
  let status: SidecarStatus | null = null;
  const sidecar = await probe(async () => {
    status = await services.sidecars.status(id, (sidecarId, capacity) =>
      recordSidecarCapacity(services.db, sidecarId, capacity),
    );
    return {
      id: status.sidecar_id,
      live_calls: status.live_calls,
      queued_calls: status.queued_calls,
      outbox_depth: status.outbox_depth,
    };
  });
  const pbx: Probed = status
    ? pbxCheck(status, sidecar.latency_ms)
    : { status: 'unknown', latency_ms: sidecar.latency_ms, error: 'the sidecar could not be asked' };
  return { id, sidecar, pbx };
}

async function readiness(services: Services) {
  const fleet = services.sidecars;
  const [database, loads, probes] = await Promise.all([
    probe(async () => {
      await services.database.ping();
      return { kind: services.database.kind };
    }),
    sidecarLoads(services.db, fleet.ids).catch(() => null),
    Promise.all(fleet.ids.map((id) => probeSidecar(services, id))),
  ]);
  const isUp = (p: SidecarProbe) => p.sidecar.status === 'ok' && p.pbx.status === 'ok';
  const shown = probes.find(isUp) ?? probes[0]!;
  const sidecars = probes.map((p) => {
    const counted = loads?.find((l) => l.id === p.id);
    const state = isUp(p)
      ? ('up' as const)
      : fleet.state(p.id) === 'breaker_open'
        ? ('breaker_open' as const)
        : ('down' as const);
    const error = p.sidecar.status !== 'ok' ? p.sidecar.error : p.pbx.error;
    return {
      id: p.id,
      state,
      load: loads ? (counted?.load ?? 0) : null,
      capacity: fleet.capacity(p.id, counted?.capacity ?? null),
      ...(state !== 'up' && error ? { error } : {}),
    };
  });
  // Only the database decides 503; see the route's description for why.
  const checks = {
    database: { ...database, required: true },
    sidecar: { ...shown.sidecar, required: false },
    pbx: { ...shown.pbx, required: false },
  };
  const status =
    database.status !== 'ok'
      ? ('not_ready' as const)
      : isUp(shown)
        ? ('ready' as const)
        : ('degraded' as const);
  return { status, checks, sidecars };
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
      200: {
        description: 'Metrics',
        content: {
          'text/plain': {
            schema: { type: 'string' },
            example:
              '# HELP calls_launched_total Originate requests handed to a sidecar\n' +
              '# TYPE calls_launched_total counter\ncalls_launched_total 42\n',
          },
        },
      },
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
