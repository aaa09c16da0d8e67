import { join } from 'node:path';
import { type StartedApi, startApi } from '../../../api/entry/bun.ts';
import { createApiLogger } from '../../../api/lib/logger.ts';
import { silentLogger } from '../../../api/shared/base/log.ts';
import type { Database } from '../../../db/types.ts';
import type { KeyPair } from '../channel.ts';
import { E2E_LOG, spawnBun, waitListening } from '../util.ts';

/** `in-process` (startApi in this process) or `process` (a `bun api/entry/bun.ts` child that kill() ends with SIGKILL). */
export type ApiMode = 'in-process' | 'process';

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
  /**
   * A URL through which the API opens (and closes) a pool of its own: the fault proxy, or in process
   * mode (where it is required) the database's own.
   */
  databaseUrl: string | null;
  /** Default `in-process`. */
  mode?: ApiMode;
  /** More environment, over the defaults. */
  env?: Record<string, string>;
}

/** The real API (Bun.serve) on a fixed port, which a test can stop and start again there. */
export interface ApiControl {
  readonly url: string;
  readonly mode: ApiMode;
  /** The API as it runs now; throws while it is stopped, and in process mode. */
  current(): StartedApi;
  isUp(): boolean;
  /**
   * Starts it again on the same port with the same database and keys; `env` is kept over the
   * environment from then on (CAMPAIGN_CLOCK_OFFSET_SECONDS, …).
   */
  start(env?: Record<string, string>): Promise<void>;
  /** Stops it so that the port refuses connections (SIGTERM in process mode). */
  stop(): Promise<void>;
  /** SIGKILL, process mode only: nothing drained, nothing closed. */
  kill(): Promise<void>;
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
  const mode = w.mode ?? 'in-process';
  let env = apiEnv(w);
  const url = `http://127.0.0.1:${w.port}`;
  const logger = E2E_LOG ? createApiLogger({ level: 'info', base: { service: 'api' } }) : silentLogger;
  const options = w.databaseUrl ? { logger } : { database: w.database, logger };
  let api: StartedApi | null = null;
  let child: Bun.Subprocess | null = null;
  const childUp = () => child !== null && child.exitCode === null && child.signalCode === null;

  async function launch() {
    if (mode === 'in-process') {
      api = await startApi(env, options);
      return;
    }
    if (!w.databaseUrl) throw new Error('an API process needs a database URL');
    child = spawnBun('api/entry/bun.ts', { ...env, DATABASE_URL: w.databaseUrl, DATABASE_POOL_SIZE: '8' });
    await waitListening(child, (signal) => fetch(`${url}/health`, { signal }), 'API');
  }

  const control: ApiControl = {
    url,
    mode,
    current() {
      if (!api) throw new Error(mode === 'process' ? 'the API runs as a process' : 'the API is stopped');
      return api;
    },
    isUp: () => api !== null || childUp(),
    async start(more) {
      if (control.isUp()) throw new Error('the API is running');
      if (more) env = { ...env, ...more };
      await launch();
    },
    async stop() {
      if (!control.isUp()) throw new Error('the API is stopped');
      if (api) {
        const a = api;
        api = null;
        await a.stop();
      }
      if (child) {
        const c = child;
        child = null;
        c.kill('SIGTERM');
        await c.exited;
      }
    },
    async kill() {
      if (mode !== 'process') throw new Error('kill() needs the API in process mode');
      if (!child) return;
      const c = child;
      child = null;
      c.kill('SIGKILL');
      await c.exited;
    },
    async close() {
      if (control.isUp()) await control.stop();
    },
  };
  await launch();
  return control;
}
