import { join } from 'node:path';
import { type StartedApi, startApi } from '../../../api/entry/bun.ts';
import { createApiLogger } from '../../../api/lib/logger.ts';
import { silentLogger } from '../../../api/shared/base/log.ts';
import type { Database } from '../../../db/types.ts';
import type { KeyPair } from '../channel.ts';
import { E2E_LOG } from '../util.ts';

/** How the e2e stack's API is wired to the rest of the stack. */
export interface ApiWiring {
  port: number;
  apiKey: KeyPair;
  sidecarKey: KeyPair;
  sidecarId: string;
  /** Where the API sends commands (the sidecar, or the fault proxy in front of it). */
  sidecarUrl: string;
  dataDir: string;
  /** A direct pool the API uses, unless `databaseUrl` is given. */
  database: Database;
  /** A URL through which the API opens (and closes) a pool of its own (the fault proxy). */
  databaseUrl: string | null;
  /** More environment, over the defaults. */
  env?: Record<string, string>;
}

/** The real API (Bun.serve) on a fixed port, which a test can stop and start again there. */
export interface ApiControl {
  readonly url: string;
  /** The API as it runs now; throws while it is stopped. */
  current(): StartedApi;
  isUp(): boolean;
  /** Starts it again on the same port with the same database and keys. */
  start(): Promise<void>;
  /** Stops it so that the port refuses connections. */
  stop(): Promise<void>;
  /** Stops it if it runs. */
  close(): Promise<void>;
}

function apiEnv(w: ApiWiring): Record<string, string> {
  return {
    APP_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(w.port),
    BCRYPT_COST: '4',
    LOG_LEVEL: 'error',
    METRICS_ENABLED: 'true',
    JWT_PRIVATE_KEY: w.apiKey.privateJson,
    SIDECAR_ID: w.sidecarId,
    SIDECAR_URL: w.sidecarUrl,
    SIDECAR_PUBLIC_KEY: w.sidecarKey.publicJson,
    RATE_LIMIT_REQUESTS: '1000000',
    DATA_DIR: join(w.dataDir, 'api'),
    ...(w.databaseUrl ? { DATABASE_URL: w.databaseUrl } : {}),
    ...w.env,
  };
}

/** Starts the API and returns its control. */
export async function startStackApi(w: ApiWiring): Promise<ApiControl> {
  const env = apiEnv(w);
  const logger = E2E_LOG ? createApiLogger({ level: 'info', base: { service: 'api' } }) : silentLogger;
  const options = w.databaseUrl ? { logger } : { database: w.database, logger };
  let api: StartedApi | null = await startApi(env, options);
  const control: ApiControl = {
    url: `http://127.0.0.1:${w.port}`,
    current() {
      if (!api) throw new Error('the API is stopped');
      return api;
    },
    isUp: () => api !== null,
    async start() {
      if (api) throw new Error('the API is running');
      api = await startApi(env, options);
    },
    async stop() {
      const a = control.current();
      api = null;
      await a.stop();
    },
    async close() {
      if (api) await control.stop();
    },
  };
  return control;
}
