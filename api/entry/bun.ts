import { resolve } from 'node:path';
import { migrate } from '../../db/migrate.ts';
import { openDatabase } from '../../db/open.ts';
import type { Database } from '../../db/types.ts';
import { createApp } from '../app.ts';
import { limitHasher } from '../auth/passwords.ts';
import { buildServices } from '../bootstrap.ts';
import type { SidecarClient } from '../calls/sidecar-client.ts';
import { loadSigningKey, type SigningKey } from '../channel/keys.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { housekeep } from '../housekeeping.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { noopMetrics } from '../lib/metrics.ts';
import { createPromMetrics } from '../lib/prom-metrics.ts';
import type { Services } from '../services.ts';
import { startWebhookDispatcher } from '../webhooks/dispatcher.ts';
import { webhookPolicy } from '../webhooks/policy.ts';
import { createUndiciTransport, type Resolver } from '../webhooks/undici-transport.ts';
import { bunClientAddress, createBunPasswordHasher, loadOrCreateKeyFile } from './bun-runtime.ts';

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
}

const HOUSEKEEPING_MS = 10 * 60_000;

/** Starts the API on Bun: config, keys, database (migrated), services, HTTP server. */
export async function startApi(
  env: Record<string, string | undefined> = process.env,
  options: StartApiOptions = {},
): Promise<StartedApi> {
  const config = loadConfig(env);
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL, base: { service: 'api' } });

  let signingKey: SigningKey;
  if (config.JWT_PRIVATE_KEY) {
    signingKey = await loadSigningKey(config.JWT_PRIVATE_KEY, config.JWT_KEY_ID);
  } else {
    const file = resolve(config.DATA_DIR, 'keys', 'api.jwk.json');
    const { key, created } = await loadOrCreateKeyFile(file);
    if (created) logger.info('generated a signing key for development', { file });
    signingKey = key;
  }

  const database =
    options.database ??
    (await openDatabase({
      databaseUrl: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolSize: config.DATABASE_POOL_SIZE,
      queryTimeoutMs: config.DATABASE_QUERY_TIMEOUT_MS,
    }));
  const applied = await migrate(database.db);
  if (applied > 0) logger.info('applied migrations', { count: applied, database: database.label });

  const services = await buildServices({
    config,
    database,
    passwords: limitHasher(createBunPasswordHasher(config.BCRYPT_COST), {
      concurrency: config.PASSWORD_HASH_CONCURRENCY || Math.max(1, navigator.hardwareConcurrency - 1),
      maxWaiting: config.PASSWORD_HASH_QUEUE,
    }),
    metrics: config.METRICS_ENABLED ? createPromMetrics() : noopMetrics,
    logger,
    signingKey,
    clientAddress: bunClientAddress(config.TRUST_PROXY),
    ...(options.sidecar ? { sidecar: options.sidecar } : {}),
    webhooks: createUndiciTransport({
      policy: webhookPolicy(config),
      ...(options.resolveHost ? { resolve: options.resolveHost } : {}),
    }),
  });
  const dispatcher = startWebhookDispatcher(services);
  services.onEventsRecorded(() => dispatcher.wake());
  const app = createApp({ services: () => services });
  const server = Bun.serve({
    hostname: config.HOST,
    port: config.PORT,
    idleTimeout: 120,
    fetch: (request, srv) => app.fetch(request, { server: srv }),
  });

  const housekeeping = setInterval(() => {
    housekeep(database.db, config, logger).catch((error) => logger.warn('housekeeping failed', { error }));
  }, HOUSEKEEPING_MS);
  housekeeping.unref();

  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${server.port}`;
  logger.info('api listening', { url, database: database.label, sidecar: config.SIDECAR_URL });
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
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
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
