import { createBunPasswordHasher } from '../../api/auth/passwords.ts';
import type { StartedApi } from '../../api/entry/bun.ts';
import { type SimHandle, type SimOptions, startAriSimulator } from '../../asterisk/sim/server.ts';
import type { Database } from '../../db/types.ts';
import type { SidecarConfig } from '../../sidecar/config.ts';
import { type CommandSigner, commandSigner, type KeyPair, keyPair } from './channel.ts';
import { type ApiControl, type ApiMode, startStackApi } from './e2e/api.ts';
import { type E2EClient, e2eClient } from './e2e/client.ts';
import { stackDatabase } from './e2e/database.ts';
import { type StackFaults, startStackFaults, throughProxy } from './e2e/faults.ts';
import { type E2ESidecar, type SidecarMode, stackSidecar, stackSidecarConfig } from './e2e/sidecar.ts';
import { type EventTap, startTap } from './e2e/tap.ts';
import type { PostgresCluster } from './postgres.ts';
import { freePort, Teardown, tempDir } from './util.ts';

/**
 * Calls end to end, wired as in production: the real API (Bun.serve, PostgreSQL) and the real
 * sidecar (in this process through startSidecar, or as a `bun sidecar/main.ts` child that can be
 * killed), talking over signed HTTP both ways, with the ARI simulator as Asterisk. Ports are fixed
 * at start so that the API and the sidecar can each be stopped and started again where the other
 * expects them.
 *
 * The database is a fresh one in the PostgreSQL cluster at TEST_PG_URL (the test runner's); with
 * no TEST_PG_URL a throwaway cluster is started once per process and removed at exit.
 *
 * The pieces, each in test/harness/e2e/: database.ts (the stack's database), api.ts (the API on a
 * fixed port), sidecar.ts (the sidecar in either mode), tap.ts (the recording pass-through on the
 * event endpoint), faults.ts (a fault proxy on every link), client.ts (users and calls over HTTP).
 */

export type { ApiMode } from './e2e/api.ts';
export type { CallBody, CallEventBody } from './e2e/client.ts';
export type { StackFaults } from './e2e/faults.ts';
export type { E2ESidecar, SidecarMode } from './e2e/sidecar.ts';
export type { EventTap, TappedBatch } from './e2e/tap.ts';

export interface E2EOptions {
  /** Options of the simulator this stack starts (unless `ari` is given). Default time scale 0.05. */
  sim?: SimOptions;
  /**
   * The ARI to use instead of starting a simulator: a simulator handle or process (its `url`),
   * shared with other stacks and left running by stop().
   */
  ari?: { url: string };
  /** `in-process` (default) or `process` (a child process that kill() ends with SIGKILL). */
  sidecarMode?: SidecarMode;
  /** The API likewise: `in-process` (default) or `process` (`api/entry/bun.ts`, which killApi() ends). */
  apiMode?: ApiMode;
  /**
   * Another stack's database (its `database` and `databaseUrl`), shared and left open by stop(): a
   * second API and sidecar on the same PostgreSQL.
   */
  shareDatabase?: { database: Database; databaseUrl: string };
  /**
   * Sidecar settings. In process mode they become its environment, and `tuning` does not apply:
   * the child runs with the production timings.
   */
  sidecar?: Partial<SidecarConfig>;
  /** More API environment (RATE_LIMIT_REQUESTS, SIDECAR_TIMEOUT_MS, …). */
  apiEnv?: Record<string, string>;
  /** Put a recording pass-through between the sidecar and the API's event endpoint. */
  tapEvents?: boolean;
  /**
   * Put a fault proxy (test/harness/fault-proxy.ts) on every link: sidecar → ARI (HTTP and the
   * events socket), sidecar → API (event batches, in front of the tap if there is one),
   * API → sidecar (commands) and API → PostgreSQL. The API then opens its own pool through the
   * proxy from DATABASE_URL, as it does in production; `database` stays a direct pool.
   */
  faults?: boolean;
  /**
   * A PostgreSQL cluster of this stack's own, removed by stop(), that `postgres` can restart.
   * Its commits are durable, so that even an immediate (crash) restart loses none.
   */
  ownPostgres?: boolean;
}

export interface E2EStack extends E2EClient {
  /** The simulator this stack started; null when it was given one (`ari`). */
  sim: SimHandle | null;
  /** A direct pool on the stack's database (the API's own pool goes through `faults.db`, if any). */
  database: Database;
  /** Where the stack's database is, for another process or stack (shareDatabase). */
  databaseUrl: string;
  /** The proxies on every link (option `faults`); null otherwise. */
  faults: StackFaults | null;
  /** The stack's own cluster (option `ownPostgres`); null otherwise. */
  postgres: PostgresCluster | null;
  /** The API as it runs now (a new object after startApi()). */
  readonly api: StartedApi;
  /** The API's base URL; it stays the same across stopApi()/startApi(). */
  apiUrl: string;
  apiUp(): boolean;
  /** Stops the API (and the tap) so that the port refuses connections; the database stays. */
  stopApi(): Promise<void>;
  /**
   * Starts the API again on the same port with the same database and keys; `env` is kept over its
   * environment from then on (CAMPAIGN_CLOCK_OFFSET_SECONDS, …).
   */
  startApi(env?: Record<string, string>): Promise<void>;
  /** SIGKILL of the API (apiMode `process`), the tap with it. */
  killApi(): Promise<void>;
  sidecar: E2ESidecar;
  tap: EventTap | null;
  apiKey: KeyPair;
  sidecarKey: KeyPair;
  /** Signs commands the way the API does (for tests that talk to the sidecar directly). */
  signer: CommandSigner;
  stop(): Promise<void>;
}

/** Starts the simulator (unless given `ari`), database, API and sidecar, wired together. */
export async function startE2EStack(options: E2EOptions = {}): Promise<E2EStack> {
  const teardown = new Teardown();
  try {
    return await assemble(options, teardown);
  } catch (error) {
    await teardown.run().catch(() => undefined);
    throw error;
  }
}

/** What the stack starts, in order; `teardown` stops it in the reverse order. */
async function assemble(options: E2EOptions, teardown: Teardown): Promise<E2EStack> {
  const dir = tempDir('outdial-e2e-');
  teardown.add(() => dir.remove());
  const {
    database,
    url: databaseUrl,
    cluster,
  } = options.shareDatabase
    ? { database: options.shareDatabase.database, url: options.shareDatabase.databaseUrl, cluster: null }
    : await stackDatabase(options.ownPostgres ?? false);
  if (!options.shareDatabase) teardown.add(() => database.close());
  const apiMode = options.apiMode ?? 'in-process';
  const sim = options.ari ? null : await startAriSimulator({ port: 0, timeScale: 0.05, ...options.sim });
  if (sim) teardown.add(() => sim.stop());
  const ariUrl = (options.ari ?? sim)!.url;
  const [apiKey, sidecarKey] = [await keyPair(), await keyPair()];
  const [apiPort, sidecarPort, tapPort] = [await freePort(), await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const sidecarUrl = `http://127.0.0.1:${sidecarPort}`;
  const tap = options.tapEvents ? startTap(() => apiUrl, tapPort) : null;
  if (tap) teardown.add(() => tap.down());
  const faults = options.faults
    ? await startStackFaults({ ari: ariUrl, api: tap ? tap.url : apiUrl, sidecarPort, database: databaseUrl })
    : null;
  if (faults) teardown.add(() => faults.stop());
  const sidecarId = `e2e-${crypto.randomUUID().slice(0, 8)}`;
  const api = await startStackApi({
    port: apiPort,
    apiKey,
    sidecarKey,
    sidecarId,
    sidecarUrl: faults ? faults.sidecarCommands.url() : sidecarUrl,
    dataDir: dir.path,
    database,
    mode: apiMode,
    // Through the database proxy the API opens (and closes) a pool of its own; a process always does.
    databaseUrl: faults ? throughProxy(databaseUrl, faults.db) : apiMode === 'process' ? databaseUrl : null,
    ...(options.apiEnv ? { env: options.apiEnv } : {}),
  });
  teardown.add(() => api.close());
  const config = stackSidecarConfig({
    sidecarKey,
    apiKey,
    apiUrl: faults ? faults.api.url() : tap ? tap.url : apiUrl,
    ariHttpUrl: faults ? faults.ari.url('http', '/ari') : `${ariUrl}/ari`,
    dataDir: dir.path,
    sidecarId,
    port: sidecarPort,
    ...(options.sidecar ? { overrides: options.sidecar } : {}),
  });
  const signer = commandSigner(() => sidecarUrl, sidecarId, apiKey.key);
  const sidecar = stackSidecar(config, options.sidecarMode ?? 'in-process', signer);
  teardown.add(() => sidecar.stop().catch(() => undefined));
  await sidecar.start();
  const parts = {
    sim,
    database,
    databaseUrl,
    faults,
    postgres: cluster,
    sidecar,
    tap,
    apiKey,
    sidecarKey,
    signer,
  };
  return e2eStack(parts, api, teardown);
}

/** The stack's face: its parts, the API's controls (the tap goes down and up with the API), a client. */
function e2eStack(
  parts: Pick<
    E2EStack,
    | 'sim'
    | 'database'
    | 'databaseUrl'
    | 'faults'
    | 'postgres'
    | 'sidecar'
    | 'apiKey'
    | 'sidecarKey'
    | 'signer'
  > & {
    tap: ReturnType<typeof startTap> | null;
  },
  api: ApiControl,
  teardown: Teardown,
): E2EStack {
  const { tap } = parts;
  // An API process's hasher is out of reach: users are hashed here at the test cost (BCRYPT_COST 4).
  const hasher = createBunPasswordHasher(4);
  const hash = (password: string) =>
    api.mode === 'process' ? hasher.hash(password) : api.current().services.passwords.hash(password);
  return {
    ...e2eClient(api.url, parts.database, hash),
    ...parts,
    // A getter, not a copy: the API is a new object after startApi().
    get api() {
      return api.current();
    },
    apiUrl: api.url,
    apiUp: () => api.isUp(),
    async stopApi() {
      tap?.down();
      await api.stop();
    },
    async startApi(env) {
      await api.start(env);
      tap?.up();
    },
    async killApi() {
      tap?.down();
      await api.kill();
    },
    stop: () => teardown.run(),
  };
}
