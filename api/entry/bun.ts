import { resolve } from 'node:path';
import { isDataDirBusy } from '../../db/data-lock.ts';
import { migrate } from '../../db/migrate.ts';
import { openDatabase } from '../../db/open.ts';
import type { Database } from '../../db/types.ts';
import { createApp } from '../app.ts';
import { createBunPasswordHasher, limitHasher, type PasswordHasher } from '../auth/passwords.ts';
import { buildServices } from '../bootstrap.ts';
import type { SidecarClient } from '../calls/sidecar-client.ts';
import { expireLeases } from '../campaigns/engine/lease.ts';
import { type Config, configuredSidecars, loadConfig } from '../config.ts';
import { housekeep } from '../housekeeping.ts';
import { proxyTrust } from '../lib/client-address.ts';
import { createApiLogger } from '../lib/logger.ts';
import { noopMetrics } from '../lib/metrics.ts';
import { createPromMetrics } from '../lib/prom-metrics.ts';
import type { Services } from '../services.ts';
import { isEnvError } from '../shared/base/env.ts';
import { loadSigningKey, type SigningKey } from '../shared/base/keys.ts';
import type { Logger } from '../shared/base/log.ts';
import { startWebhookDispatcher } from '../webhooks/dispatcher.ts';
import { webhookPolicy } from '../webhooks/policy.ts';
import { createUndiciTransport, type Resolver } from '../webhooks/undici-transport.ts';
import { bunClientAddress, loadOrCreateKeyFile, scalarBundleFromNodeModules } from './bun-runtime.ts';

export interface StartedApi {
  url: string;
  port: number;
  services: Services;
  app: ReturnType<typeof createApp>;
  stop(): Promise<void>;
}

export interface StartApiOptions {
  /** Use this database instead of opening one from the configuration (tests). */
  database?: Database;
  sidecar?: SidecarClient;
  logger?: Logger;
  /** Replaces DNS resolution for webhook targets (tests of the SSRF guard). */
  resolveHost?: Resolver;
  /**
   * Work that must be done before anyone is served, such as creating the first admin: it runs after the
   * migrations, with the services built, and the server listens only once it is done.
   */
  beforeListen?: (services: Services) => Promise<void>;
  /** How the embedded data folder's lock names this process (default `npm run api`). */
  owner?: string;
  /** Replaces the bcrypt hasher inside the limiter (tests that hold password checks). */
  passwordHasher?: PasswordHasher;
}

const HOUSEKEEPING_MS = 10 * 60_000;

/** Starts the API on Bun: config, keys, database (migrated), services, HTTP server. */
export async function startApi(
  env: Record<string, string | undefined> = process.env,
  options: StartApiOptions = {},
): Promise<StartedApi> {
  const config = loadConfig(env);
  const logger = options.logger ?? createApiLogger({ level: config.LOG_LEVEL, base: { service: 'api' } });

  // The embedded database first: the data folder's lock decides whether this process may use the
  // folder (its keys included) at all.
  const database =
    options.database ??
    (await openDatabase({
      databaseUrl: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolSize: config.DATABASE_POOL_SIZE,
      queryTimeoutMs: config.DATABASE_QUERY_TIMEOUT_MS,
      owner: options.owner ?? 'npm run api',
    }));
  try {
    return await serveOn(database, config, logger, options);
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
}

async function serveOn(
  database: Database,
  config: Config,
  logger: Logger,
  options: StartApiOptions,
): Promise<StartedApi> {
  let signingKey: SigningKey;
  if (config.JWT_PRIVATE_KEY) {
    signingKey = await loadSigningKey(config.JWT_PRIVATE_KEY, config.JWT_KEY_ID);
  } else {
    const file = resolve(config.DATA_DIR, 'keys', 'api.jwk.json');
    const { key, created } = await loadOrCreateKeyFile(file);
    if (created) logger.info('generated a signing key for development', { file });
    signingKey = key;
  }

  const applied = await migrate(database.db);
  if (applied > 0) logger.info('applied migrations', { count: applied, database: database.label });

  const services = await buildServices({
    config,
    database,
    passwords: limitHasher(options.passwordHasher ?? createBunPasswordHasher(config.BCRYPT_COST), {
      concurrency: config.PASSWORD_HASH_CONCURRENCY || Math.max(1, navigator.hardwareConcurrency - 1),
      maxWaiting: config.PASSWORD_HASH_QUEUE,
    }),
    metrics: config.METRICS_ENABLED ? createPromMetrics() : noopMetrics,
    logger,
    signingKey,
    clientAddress: bunClientAddress(proxyTrust(config)),
    ...(options.sidecar ? { sidecar: options.sidecar } : {}),
    webhooks: createUndiciTransport({
      policy: webhookPolicy(config),
      ...(options.resolveHost ? { resolve: options.resolveHost } : {}),
    }),
  });
  // Nothing is served (not even /health) before this is done: a client that starts as soon as the
  // port answers must find the service whole.
  if (options.beforeListen) await options.beforeListen(services);
  const app = createApp({ services: () => services, docsScript: scalarBundleFromNodeModules() });
  const server = Bun.serve({
    hostname: config.HOST,
    port: config.PORT,
    idleTimeout: 120,
    fetch: (request, srv) => app.fetch(request, { server: srv }),
  });
  const dispatcher = startWebhookDispatcher(services);
  services.onEventsRecorded(() => dispatcher.wake());

  const housekeeping = setInterval(() => {
    housekeep(database.db, config, logger, services.sidecars).catch((error) =>
      logger.warn('housekeeping failed', { error }),
    );
    // Leases also expire on every sidecar's lease request; this covers a time no sidecar asks.
    expireLeases(services).catch((error) => logger.warn('expiring campaign leases failed', { error }));
  }, HOUSEKEEPING_MS);
  housekeeping.unref();

  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${server.port}`;
  logger.info('api listening', {
    url,
    database: database.label,
    sidecars: configuredSidecars(config).map((s) => `${s.id}=${s.url}`),
  });
  let stopped = false;
  return {
    url,
    port: server.port ?? config.PORT,
    services,
    app,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(housekeeping);
      await services.live.stop();
      await server.stop(true);
      await dispatcher.stop();
      if (!options.database) await database.close();
    },
  };
}

async function main() {
  let api: StartedApi;
  try {
    api = await startApi();
  } catch (error) {
    if (isEnvError(error)) {
      console.error(error.message);
      process.exit(2);
    }
    if (isDataDirBusy(error)) {
      console.error(
        `Outdial API not started: ${error.message}.\nStop that process first, or give this one its own DATA_DIR.`,
      );
      process.exit(1);
    }
    throw error;
  }
  const shutdown = async (signal: string) => {
    api.services.logger.info('shutting down', { signal });
    const deadline = setTimeout(() => process.exit(1), 10_000);
    await api.stop();
    clearTimeout(deadline);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

if (import.meta.main) await main();
