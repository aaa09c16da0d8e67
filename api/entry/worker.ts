// A text module here (wrangler.toml [[rules]]): the bundle's source as a string, not code to run.
import scalarBundle from '@scalar/api-reference/browser/standalone.js';
import type { ExecutionContext } from 'hono';
import { openNeon, useLocalWebSocketProxy } from '../../db/driver/neon.ts';
import { nextDeliveryDueAt } from '../../db/queries/webhooks.ts';
import type { Database } from '../../db/types.ts';
import { createApp } from '../app.ts';
import {
  createBcryptTsHasher,
  limitHasher,
  type PasswordHasher,
  syntheticBcryptDigest,
} from '../auth/passwords.ts';
import {
  buildServices,
  buildSharedServiceParts,
  registerConfiguredSidecar,
  type SharedServiceParts,
} from '../bootstrap.ts';
import { expireLeases } from '../campaigns/engine/lease.ts';
import { type Config, loadConfig } from '../config.ts';
import { problemBody } from '../errors.ts';
import { housekeep } from '../housekeeping.ts';
import { cloudflareClientAddress, type ProxyTrust, proxyTrust } from '../lib/client-address.ts';
import { DATABASE_STREAM_HEADER } from '../lib/database-stream.ts';
import { createApiLogger } from '../lib/logger.ts';
import { noopMetrics } from '../lib/metrics.ts';
import type { Services } from '../services.ts';
import { EnvError, isEnvError } from '../shared/base/env.ts';
import { loadSigningKey, type SigningKey } from '../shared/base/keys.ts';
import type { Logger } from '../shared/base/log.ts';
import { problemResponse } from '../shared/base/problem.ts';
import { createWebhookPool, type WebhookPool } from '../webhooks/dispatcher.ts';
import { createFetchTransport } from '../webhooks/fetch-transport.ts';
import { webhookPolicy } from '../webhooks/policy.ts';

/**
 * The API on Cloudflare Workers: the same app as on Bun, with the Workers runtime's parts.
 *
 * Per isolate (cached): the validated configuration, the keys, the password hasher and its limiter, the
 * app itself. Per request: the database pool (@neondatabase/serverless over WebSockets; its sockets
 * belong to the request that opened them and cannot be reused by the next one) and the services built
 * on it. The pool is closed once the response and the work handed to `ctx.waitUntil` are done.
 *
 * Differences from Bun: /metrics answers 404 (no process to scrape; see api/deploy/README.md), the client address is
 * CF-Connecting-IP (or, with proxies in front of Cloudflare configured, what they report), bcrypt runs in JavaScript (bcrypt-ts), migrations are a deploy step
 * (`npm run db:migrate`), and housekeeping and webhook retries run from Cron Triggers.
 */

/** What Workers hands every invocation: vars and secrets as strings, bindings as objects. */
export type WorkerEnv = Record<string, unknown>;

/** The Workers ExecutionContext, as Hono types it. */
export type WorkerContext = ExecutionContext;

export interface WorkerScheduledEvent {
  cron: string;
  scheduledTime: number;
}

interface Isolate {
  config: Config & { DATABASE_URL: string };
  logger: Logger;
  signingKey: SigningKey;
  passwords: PasswordHasher;
  /** Proxies in front of Cloudflare whose X-Forwarded-For entries count (usually none). */
  proxyTrust: ProxyTrust;
  shared: SharedServiceParts;
  app: ReturnType<typeof createApp>;
  /** The configured sidecar is recorded in the database. */
  sidecarRegistered: boolean;
}

/** Connections one request's pool may open; a request runs a few queries, most of them one after another. */
const POOL_MAX = 5;
/** How long after a response its webhook deliveries may still be retried (waitUntil allows 30 s). */
const RETRY_HORIZON_MS = 20_000;
/**
 * A Worker invocation may have six connections open at once; further fetches wait for one to close.
 * The webhook pool stays within them, so one stalled endpoint (half of them at most) leaves the others room.
 */
const OPEN_CONNECTIONS = 6;
/** Hourly cron: housekeeping. Every other cron only works off due webhook deliveries. */
const HOUSEKEEPING_CRON = '0 * * * *';

let isolate: Promise<Isolate> | null = null;

function stringsOf(env: WorkerEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) if (typeof value === 'string') out[key] = value;
  return out;
}

async function setUpIsolate(env: WorkerEnv): Promise<Isolate> {
  const vars = stringsOf(env);
  const config = loadConfig(vars);
  // Workers have no file system for a generated key, and no embedded database.
  const missing = (['DATABASE_URL', 'JWT_PRIVATE_KEY'] as const).filter((name) => !config[name]);
  if (missing.length > 0) {
    throw new EnvError(
      'API',
      missing.map((variable) => ({
        variable,
        reason: `is required on Workers (wrangler secret put ${variable})`,
      })),
    );
  }
  if (vars.NEON_WS_PROXY) {
    if (config.APP_ENV === 'production') {
      throw new EnvError('API', [
        {
          variable: 'NEON_WS_PROXY',
          reason: 'sends database traffic unencrypted; for development and tests only',
        },
      ]);
    }
    useLocalWebSocketProxy(vars.NEON_WS_PROXY);
  }
  const logger = createApiLogger({ level: config.LOG_LEVEL, base: { service: 'api', runtime: 'workerd' } });
  const signingKey = await loadSigningKey(config.JWT_PRIVATE_KEY!, config.JWT_KEY_ID);
  // One isolate runs one request's JavaScript at a time; the limiter bounds how many hashes queue up.
  const passwords = limitHasher(createBcryptTsHasher(config.BCRYPT_COST), {
    concurrency: config.PASSWORD_HASH_CONCURRENCY || 1,
    maxWaiting: config.PASSWORD_HASH_QUEUE,
  });
  // A hash made here would cost the isolate's first request a bcrypt's CPU, whatever that request is.
  const shared = await buildSharedServiceParts({
    config,
    signingKey,
    passwords,
    dummyPasswordHash: syntheticBcryptDigest(config.BCRYPT_COST),
  });
  // Workers compress a response by its Content-Encoding header: the app compressing too would
  // send gzip inside gzip.
  const app = createApp({
    services: (c) => (c.env as { services: Services }).services,
    compress: false,
    // Scalar's bundle, a text module of the Worker's script (wrangler.toml [[rules]]).
    docsScript: () => new Response(scalarBundle),
  });
  return {
    config: config as Isolate['config'],
    logger,
    signingKey,
    passwords,
    proxyTrust: proxyTrust(config),
    shared,
    app,
    sidecarRegistered: false,
  };
}

function getIsolate(env: WorkerEnv): Promise<Isolate> {
  isolate ??= setUpIsolate(env);
  return isolate;
}

/** Work that must finish before the request's pool is closed; it may add more work while it runs. */
function createTaskGroup(logger: Logger) {
  const pending = new Set<Promise<unknown>>();
  return {
    add(task: Promise<unknown>) {
      const tracked = task
        .catch((error) => logger.error('background task failed', { error }))
        .finally(() => pending.delete(tracked));
      pending.add(tracked);
    },
    async settled() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}

async function servicesFor(iso: Isolate, database: Database, background: (task: Promise<unknown>) => void) {
  // Each request until one has succeeded (the upsert is idempotent): a promise must not be shared
  // with another request, whose I/O it would wait on.
  if (!iso.sidecarRegistered) {
    await registerConfiguredSidecar(iso.config, database.db);
    iso.sidecarRegistered = true;
  }
  const services = await buildServices({
    config: iso.config,
    database,
    passwords: iso.passwords,
    metrics: noopMetrics,
    logger: iso.logger,
    signingKey: iso.signingKey,
    shared: iso.shared,
    clientAddress: (c) =>
      cloudflareClientAddress(
        { cfConnectingIp: c.req.header('cf-connecting-ip'), forwardedFor: c.req.header('x-forwarded-for') },
        iso.proxyTrust,
      ),
    background,
    webhooks: createFetchTransport({ policy: webhookPolicy(iso.config) }),
  });
  // No dispatcher loop lives between requests here: what events this request recorded owe goes out with
  // its remaining work (retries due soon included), and the Cron Trigger picks up the rest. Every
  // attempt the pool starts is part of that work, so none is cut off when the pool closes.
  const pool = createWebhookPool(services, {
    concurrency: Math.min(iso.config.WEBHOOK_CONCURRENCY, OPEN_CONNECTIONS),
    track: background,
  });
  let delivering = false;
  services.onEventsRecorded(() => {
    pool.wake();
    if (delivering) return;
    delivering = true;
    background(
      deliverWebhooks(services, pool, RETRY_HORIZON_MS).finally(() => {
        delivering = false;
      }),
    );
  });
  return { services, pool };
}

/**
 * Sends the webhook deliveries that are due, in order, and waits for those falling due within
 * `horizonMs` (a receiver's quick retries), within what ctx.waitUntil allows after a response.
 */
async function deliverWebhooks(services: Services, pool: WebhookPool, horizonMs: number): Promise<void> {
  const until = Date.now() + horizonMs;
  for (;;) {
    await pool.drain();
    const next = await nextDeliveryDueAt(services.db);
    if (!next) return;
    // Leased by another instance, or not due yet: look again no sooner than the poll interval.
    const wait = Math.max(next.getTime() - Date.now(), services.config.WEBHOOK_POLL_MS);
    if (Date.now() + wait > until) return;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

function misconfigured(error: unknown): Response {
  // The reason goes to the Workers log, not to the caller.
  console.error(isEnvError(error) ? error.message : error);
  return problemResponse(problemBody('internal_error', 'The service is not configured correctly', null));
}

async function fetchHandler(request: Request, env: WorkerEnv, ctx: WorkerContext): Promise<Response> {
  let iso: Isolate;
  try {
    iso = await getIsolate(env);
  } catch (error) {
    return misconfigured(error);
  }
  const database = openNeon(iso.config.DATABASE_URL, { max: POOL_MAX });
  const tasks = createTaskGroup(iso.logger);
  let services: Services | null = null;
  const finish = async () => {
    await tasks.settled();
    await services?.live.stop();
    await database.close();
  };
  let response: Response;
  try {
    ({ services } = await servicesFor(iso, database, tasks.add));
    response = await iso.app.fetch(request, { services }, ctx);
  } catch (error) {
    ctx.waitUntil(finish());
    throw error;
  }
  const streamsFromDatabase =
    response.headers.get('content-type')?.startsWith('text/event-stream') ||
    response.headers.has(DATABASE_STREAM_HEADER);
  if (response.body && streamsFromDatabase) {
    // A live stream or an export reads the database for as long as the client reads: close the pool after it.
    const { readable, writable } = new TransformStream();
    ctx.waitUntil(
      response.body
        .pipeTo(writable)
        .catch(() => undefined)
        .then(finish),
    );
    const streamed = new Response(readable, response);
    streamed.headers.delete(DATABASE_STREAM_HEADER);
    return streamed;
  }
  ctx.waitUntil(finish());
  return response;
}

async function scheduledHandler(event: WorkerScheduledEvent, env: WorkerEnv, ctx: WorkerContext) {
  const iso = await getIsolate(env);
  const database = openNeon(iso.config.DATABASE_URL, { max: 2 });
  const tasks = createTaskGroup(iso.logger);
  const work = (async () => {
    try {
      const { services, pool } = await servicesFor(iso, database, tasks.add);
      await pool.drain();
      if (event.cron === HOUSEKEEPING_CRON) {
        await housekeep(database.db, iso.config, iso.logger, services.sidecars);
      }
      // Leases also expire on every sidecar's lease request; this covers a time no sidecar asks.
      await expireLeases(services);
      await tasks.settled();
      await services.live.stop();
    } finally {
      await database.close();
    }
  })();
  ctx.waitUntil(work);
  await work;
}

export default {
  fetch: fetchHandler,
  scheduled: scheduledHandler,
};
