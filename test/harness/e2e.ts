import { join } from 'node:path';
import type { z } from 'zod';
import { CallEventSchema, CallSchema } from '../../api/calls/bodies.ts';
import { type StartedApi, startApi } from '../../api/entry/bun.ts';
import { createLogger, silentLogger } from '../../api/lib/logger.ts';
import {
  API_EVENTS_PATH,
  type CallEvent,
  EventBatch,
  EventBatchAck,
  SIDECAR_PATHS,
  SidecarStatus,
} from '../../api/shared/contract/index.ts';
import {
  type OriginateRecord,
  type SimHandle,
  type SimOptions,
  startAriSimulator,
} from '../../asterisk/sim/server.ts';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { createUser } from '../../db/queries/users.ts';
import type { Role } from '../../db/schema.ts';
import type { Database } from '../../db/types.ts';
import type { SidecarConfig } from '../../sidecar/config.ts';
import { type RunningSidecar, startSidecar } from '../../sidecar/sidecar.ts';
import {
  type CommandSigner,
  commandSigner,
  type KeyPair,
  keyPair,
  sidecarConfig,
  tempDir,
  waitFor,
} from '../sidecar/harness.ts';
import { createTestDatabase } from './database.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';
import { freePort, type PostgresCluster, startPostgresCluster } from './postgres.ts';
import type { TestUser } from './stack.ts';

/**
 * Calls end to end, wired as in production: the real API (Bun.serve, PostgreSQL) and the real
 * sidecar (in this process through startSidecar, or as a `bun sidecar/main.ts` child that can be
 * killed), talking over signed HTTP both ways, with the ARI simulator as Asterisk. Ports are fixed
 * at start so that the API and the sidecar can each be stopped and started again where the other
 * expects them.
 *
 * The database is a fresh one in the PostgreSQL cluster at TEST_PG_URL (the test runner's); with
 * no TEST_PG_URL a throwaway cluster is started once per process and removed at exit.
 */

export type SidecarMode = 'in-process' | 'process';

export type CallBody = z.infer<typeof CallSchema>;
export type CallEventBody = z.infer<typeof CallEventSchema>;

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

/** The proxies of a stack started with `faults`, one per link. */
export interface StackFaults {
  /** Sidecar → ARI: REST requests and the events WebSocket share it. */
  ari: FaultProxy;
  /** Sidecar → API: event batches. */
  api: FaultProxy;
  /** API → sidecar: signed commands. */
  sidecarCommands: FaultProxy;
  /** API → PostgreSQL. */
  db: FaultProxy;
  /** Back to pass on every link. */
  passAll(): void;
}

export interface E2ESidecar {
  readonly mode: SidecarMode;
  readonly id: string;
  readonly url: string;
  readonly config: SidecarConfig;
  /** The in-process sidecar while it runs (metrics, dropEventsSocket, reconcile); null otherwise. */
  readonly running: RunningSidecar | null;
  /** The child's pid while it runs (process mode). */
  readonly pid: number | null;
  isUp(): boolean;
  /** GET /v1/status, signed as the API signs it. */
  status(): Promise<SidecarStatus>;
  waitConnected(timeoutMs?: number): Promise<void>;
  /** Graceful stop (SIGTERM in process mode): drains and flushes the outbox, bounded. */
  stop(): Promise<void>;
  /** SIGKILL, process mode only: no drain, no flush, nothing closed. */
  kill(): Promise<void>;
  /** Starts it again on the same port, key and data directory; waits for the events socket. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
}

export interface TappedBatch {
  /** The Authorization header and body exactly as the sidecar sent them. */
  authorization: string;
  body: string;
  events: CallEvent[];
  /** The API's answer (0: the API could not be reached). */
  status: number;
  ack: EventBatchAck | null;
}

/** What passed between the sidecar and the API's event endpoint. */
export interface EventTap {
  readonly url: string;
  batches: TappedBatch[];
  /** Per event id, the result the API gave each time the event was delivered. */
  results(): Map<string, string[]>;
}

export interface E2EStack {
  /** The simulator this stack started; null when it was given one (`ari`). */
  sim: SimHandle | null;
  /** A direct pool on the stack's database (the API's own pool goes through `faults.db`, if any). */
  database: Database;
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
  /** Starts the API again on the same port with the same database and keys. */
  startApi(): Promise<void>;
  sidecar: E2ESidecar;
  tap: EventTap | null;
  apiKey: KeyPair;
  sidecarKey: KeyPair;
  /** Signs commands the way the API does (for tests that talk to the sidecar directly). */
  signer: CommandSigner;
  /** A new user with a random name, and a token for it. */
  user(role?: Role): Promise<TestUser>;
  request(path: string, options?: { method?: string; token?: string; json?: unknown }): Promise<Response>;
  /** POST /api/v2/calls. */
  placeCall(
    user: TestUser,
    body: Record<string, unknown>,
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>;
  getCall(user: TestUser, callId: string): Promise<CallBody>;
  events(user: TestUser, callId: string): Promise<CallEventBody[]>;
  hangup(user: TestUser, callId: string): Promise<Response>;
  /** Polls the API until `accept` holds for the call. */
  waitCall(
    user: TestUser,
    callId: string,
    accept: (call: CallBody) => boolean,
    timeoutMs?: number,
    what?: string,
  ): Promise<CallBody>;
  /** Polls the API until every call has a final status; returns them by id. */
  waitFinal(user: TestUser, callIds: string[], timeoutMs?: number): Promise<Map<string, CallBody>>;
  stop(): Promise<void>;
}

export const FINAL_STATUSES = new Set(['completed', 'busy', 'no_answer', 'failed', 'canceled']);

const ROOT = join(import.meta.dir, '..', '..');
const LOGS = Boolean(process.env.E2E_LOG);

let ownCluster: Promise<PostgresCluster> | null = null;

/**
 * TEST_PG_URL, or a cluster of this process's own. `bun test` runs no exit handlers, so a small
 * watchdog shell stops that cluster (immediate shutdown) and removes it once this process is gone.
 * It runs in a session of its own: whatever ends this process's group must not end it first.
 */
async function ensurePostgres(): Promise<void> {
  if (process.env.TEST_PG_URL) return;
  ownCluster ??= startPostgresCluster().then(watchCluster);
  process.env.TEST_PG_URL = (await ownCluster).url();
}

/** A fresh, migrated database in the shared cluster (TEST_PG_URL, or this process's own). */
export async function sharedTestDatabase() {
  await ensurePostgres();
  return createTestDatabase('postgres');
}

function watchCluster(cluster: PostgresCluster): PostgresCluster {
  const watchdog = Bun.spawn(
    [
      'setsid',
      'sh',
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; ' +
        'pid=$(head -n 1 "$2/data/postmaster.pid" 2>/dev/null); ' +
        '[ -n "$pid" ] && kill -QUIT "$pid"; sleep 1; rm -rf "$2"',
      'watchdog',
      String(process.pid),
      cluster.dir,
    ],
    { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
  );
  watchdog.unref();
  return cluster;
}

/** A fresh database in the stack's own cluster, or in the shared one at TEST_PG_URL. */
async function stackDatabase(
  own: boolean,
): Promise<{ database: Database; url: string; cluster: PostgresCluster | null }> {
  if (!own) {
    const database = await sharedTestDatabase();
    return { database, url: database.url!, cluster: null };
  }
  const cluster = watchCluster(await startPostgresCluster({ durable: true }));
  const url = cluster.url();
  const direct = openPostgres(url, { max: 4 });
  await migrate(direct.db);
  const database: Database = {
    ...direct,
    async close() {
      await direct.close().catch(() => undefined);
      cluster.stop();
    },
  };
  return { database, url, cluster };
}

/** The environment `bun sidecar/main.ts` reads for this configuration (its `tuning` has no variables). */
export function sidecarEnv(c: SidecarConfig): Record<string, string> {
  return {
    SIDECAR_ID: c.sidecarId,
    SIDECAR_HOST: c.host,
    SIDECAR_PORT: String(c.port),
    SIDECAR_PRIVATE_KEY: c.privateKey,
    API_URL: c.apiUrl,
    API_PUBLIC_KEYS: c.apiPublicKeys,
    API_ISSUER: c.apiIssuer,
    ARI_HTTP_URL: c.ariHttpUrl,
    ARI_USERNAME: c.ariUsername,
    ARI_PASSWORD: c.ariPassword,
    ARI_APP: c.ariApp,
    ARI_MAX_CONNECTIONS: String(c.ariMaxConnections),
    ARI_MAX_KEEPALIVE: String(c.ariMaxKeepalive),
    ARI_REQUEST_TIMEOUT_MS: String(c.ariRequestTimeoutMs),
    ARI_DIAL_CONTEXT: c.ariDialContext,
    ARI_ORIGINATE_STYLE: c.ariOriginateStyle,
    ORIGINATE_CPS: String(c.originateCps),
    MAX_CONCURRENT_CALLS: String(c.maxConcurrentCalls),
    QUEUE_MAX: String(c.queueMax),
    RECONCILE_INTERVAL_MS: String(c.reconcileIntervalMs),
    BREAKER_FAILURES: String(c.breakerFailures),
    BREAKER_HALF_OPEN_AFTER_MS: String(c.breakerHalfOpenAfterMs),
    DATA_DIR: c.dataDir,
    OUTBOX_BATCH_SIZE: String(c.outboxBatchSize),
    LOG_LEVEL: c.logLevel,
  };
}

/** A pass-through in front of the API's event endpoint that keeps every batch and its answer. */
function startTap(target: () => string, port: number) {
  let server: ReturnType<typeof Bun.serve> | null = null;
  const tap = {
    url: `http://127.0.0.1:${port}`,
    batches: [] as TappedBatch[],
    results() {
      const out = new Map<string, string[]>();
      for (const batch of tap.batches) {
        for (const r of batch.ack?.results ?? [])
          out.set(r.event_id, [...(out.get(r.event_id) ?? []), r.result]);
      }
      return out;
    },
    up() {
      server = Bun.serve({
        hostname: '127.0.0.1',
        port,
        async fetch(request) {
          const url = new URL(request.url);
          const body = await request.text();
          const authorization = request.headers.get('authorization') ?? '';
          let events: CallEvent[] = [];
          try {
            events = EventBatch.parse(JSON.parse(body)).events;
          } catch {
            // not a batch; passed on all the same
          }
          const record: TappedBatch = { authorization, body, events, status: 0, ack: null };
          tap.batches.push(record);
          let response: Response;
          try {
            response = await fetch(`${target()}${url.pathname}${url.search}`, {
              method: request.method,
              headers: {
                authorization,
                'content-type': request.headers.get('content-type') ?? 'application/json',
              },
              body,
            });
          } catch {
            return new Response(null, { status: 502 });
          }
          const text = await response.text();
          record.status = response.status;
          if (url.pathname === API_EVENTS_PATH && response.ok) {
            const parsed = EventBatchAck.safeParse(JSON.parse(text));
            record.ack = parsed.success ? parsed.data : null;
          }
          // fetch decoded the body: pass it on as plain text, without the upstream's encoding.
          return new Response(text, {
            status: response.status,
            headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
          });
        },
      });
    },
    down() {
      server?.stop(true);
      server = null;
    },
  };
  tap.up();
  return tap;
}

/** The ARI simulator as its own process (`bun asterisk/sim/main.ts`), driven over `/_sim/`. */
export interface SimProcess {
  url: string;
  pid: number;
  originates(): Promise<OriginateRecord[]>;
  stats(): Promise<{ originates: number; events: number; sockets: number }>;
  stop(): Promise<void>;
}

/**
 * Starts the simulator in a child process. Timing measured at the simulator (originates per
 * second) is then taken by a process whose event loop nothing else in the test shares.
 */
export async function startSimulatorProcess(
  options: { timeScale?: number; eventsBeforeReply?: 'never' | 'sometimes' | 'always' } = {},
): Promise<SimProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const auth = { Authorization: `Basic ${btoa('ariuser:aripass')}` };
  const child = Bun.spawn([process.execPath, 'asterisk/sim/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      SIM_PORT: String(port),
      SIM_HOST: '127.0.0.1',
      SIM_TIME_SCALE: String(options.timeScale ?? 0.05),
      SIM_EVENTS_BEFORE_REPLY: options.eventsBeforeReply ?? 'sometimes',
    },
    stdin: 'ignore',
    stdout: LOGS ? 'inherit' : 'ignore',
    stderr: 'inherit',
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the simulator exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/ari/asterisk/ping`, { headers: auth, signal: AbortSignal.timeout(500) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the simulator process did not listen');
    }
    await Bun.sleep(25);
  }
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`, { headers: auth });
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    return (await res.json()) as T;
  };
  return {
    url,
    pid: child.pid,
    originates: () => get<OriginateRecord[]>('/_sim/originates'),
    stats: () => get('/_sim/stats'),
    async stop() {
      child.kill('SIGTERM');
      await child.exited;
    },
  };
}

/** Starts the simulator (unless given `ari`), database, API and sidecar, wired together. */
export async function startE2EStack(options: E2EOptions = {}): Promise<E2EStack> {
  const sim = options.ari ? null : await startAriSimulator({ port: 0, timeScale: 0.05, ...options.sim });
  const ariUrl = (options.ari ?? sim)!.url;
  const { database, url: databaseUrl, cluster } = await stackDatabase(options.ownPostgres ?? false);
  const apiKey = await keyPair();
  const sidecarKey = await keyPair();
  const [apiPort, sidecarPort, tapPort] = [await freePort(), await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const tap = options.tapEvents ? startTap(() => apiUrl, tapPort) : null;
  const faults = options.faults
    ? await startStackFaults({
        ari: ariUrl,
        api: tap ? tap.url : apiUrl,
        sidecarPort,
        database: databaseUrl,
      })
    : null;
  const dir = tempDir('outdial-e2e-');
  const sidecarId = `e2e-${crypto.randomUUID().slice(0, 8)}`;
  const config: SidecarConfig = {
    ...sidecarConfig({
      sidecarKey,
      apiKey,
      apiUrl: faults ? faults.api.url() : tap ? tap.url : apiUrl,
      ariHttpUrl: faults ? faults.ari.url('http', '/ari') : `${ariUrl}/ari`,
      dataDir: dir.path,
    }),
    sidecarId,
    port: sidecarPort,
    // One app name per stack, so that stacks can share a simulator without replacing each other.
    ariApp: `e2e-${crypto.randomUUID().slice(0, 8)}`,
    logLevel: LOGS ? 'info' : 'silent',
    ...options.sidecar,
  };
  const mode = options.sidecarMode ?? 'in-process';
  const apiLogger = LOGS ? createLogger({ level: 'info', base: { service: 'api' } }) : silentLogger;
  const apiEnv: Record<string, string> = {
    APP_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    BCRYPT_COST: '4',
    LOG_LEVEL: 'error',
    METRICS_ENABLED: 'true',
    JWT_PRIVATE_KEY: apiKey.privateJson,
    SIDECAR_ID: sidecarId,
    SIDECAR_URL: faults ? faults.sidecarCommands.url() : `http://127.0.0.1:${sidecarPort}`,
    SIDECAR_PUBLIC_KEY: sidecarKey.publicJson,
    RATE_LIMIT_REQUESTS: '1000000',
    DATA_DIR: join(dir.path, 'api'),
    ...(faults ? { DATABASE_URL: throughProxy(databaseUrl, faults.db) } : {}),
    ...options.apiEnv,
  };
  // Through the database proxy the API opens (and closes) a pool of its own.
  const apiOptions = faults ? { logger: apiLogger } : { database, logger: apiLogger };

  let api: StartedApi | null = await startApi(apiEnv, apiOptions);
  const signer = commandSigner(() => `http://127.0.0.1:${sidecarPort}`, sidecarId, apiKey.key);

  let running: RunningSidecar | null = null;
  let child: Bun.Subprocess | null = null;
  const sidecar: E2ESidecar = {
    mode,
    id: sidecarId,
    url: `http://127.0.0.1:${sidecarPort}`,
    config,
    get running() {
      return running;
    },
    get pid() {
      return child && child.exitCode === null && child.signalCode === null ? child.pid : null;
    },
    isUp: () => running !== null || (child !== null && child.exitCode === null && child.signalCode === null),
    async status() {
      const reply = await signer.send('GET', SIDECAR_PATHS.status);
      if (reply.status !== 200) throw new Error(`sidecar status answered ${reply.status}`);
      return SidecarStatus.parse(reply.json);
    },
    async waitConnected(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const connected = await sidecar
          .status()
          .then((s) => s.ari.connected)
          .catch(() => false);
        if (connected) return;
        if (Date.now() > deadline) throw new Error('the sidecar did not connect to ARI');
        await Bun.sleep(25);
      }
    },
    async stop() {
      if (running) {
        const r = running;
        running = null;
        await r.stop();
      }
      if (child) {
        const c = child;
        child = null;
        c.kill('SIGTERM');
        await c.exited;
      }
    },
    async kill() {
      if (mode !== 'process') throw new Error('kill() needs sidecarMode "process"');
      if (!child) return;
      const c = child;
      child = null;
      c.kill('SIGKILL');
      await c.exited;
    },
    async start() {
      if (sidecar.isUp()) throw new Error('the sidecar is running');
      if (mode === 'in-process') {
        running = await startSidecar(config);
      } else {
        child = Bun.spawn([process.execPath, 'sidecar/main.ts'], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', ...sidecarEnv(config) },
          stdin: 'ignore',
          stdout: LOGS ? 'inherit' : 'ignore',
          stderr: 'inherit',
        });
        const c = child;
        const deadline = Date.now() + 15_000;
        for (;;) {
          if (c.exitCode !== null || c.signalCode !== null)
            throw new Error(`the sidecar exited (${c.exitCode ?? c.signalCode})`);
          const ok = await fetch(`${sidecar.url}/health`, { signal: AbortSignal.timeout(500) })
            .then((r) => r.ok)
            .catch(() => false);
          if (ok) break;
          if (Date.now() > deadline) throw new Error('the sidecar process did not listen');
          await Bun.sleep(25);
        }
      }
      await sidecar.waitConnected();
    },
    async restart() {
      await sidecar.stop();
      await sidecar.start();
    },
  };
  try {
    await sidecar.start();
  } catch (error) {
    await sidecar.stop().catch(() => undefined);
    await api.stop();
    tap?.down();
    await faults?.stop();
    await sim?.stop();
    await database.close();
    dir.remove();
    throw error;
  }

  const currentApi = () => {
    if (!api) throw new Error('the API is stopped');
    return api;
  };

  async function request(path: string, opts: { method?: string; token?: string; json?: unknown } = {}) {
    const headers: Record<string, string> = {};
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    const init: RequestInit = { method: opts.method ?? (opts.json === undefined ? 'GET' : 'POST'), headers };
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.json);
    }
    return fetch(`${apiUrl}${path}`, init);
  }

  async function getCall(user: TestUser, callId: string): Promise<CallBody> {
    const res = await request(`/api/v2/calls/${callId}`, { token: user.token });
    if (res.status !== 200) throw new Error(`GET call ${callId}: ${res.status} ${await res.text()}`);
    return CallSchema.parse(await res.json());
  }

  const stack: E2EStack = {
    sim,
    database,
    faults,
    postgres: cluster,
    get api() {
      return currentApi();
    },
    apiUrl,
    apiUp: () => api !== null,
    async stopApi() {
      tap?.down();
      const a = currentApi();
      api = null;
      await a.stop();
    },
    async startApi() {
      if (api) throw new Error('the API is running');
      api = await startApi(apiEnv, apiOptions);
      tap?.up();
    },
    sidecar,
    tap,
    apiKey,
    sidecarKey,
    signer,
    async user(role: Role = 'operator') {
      const username = `${role}-${crypto.randomUUID().slice(0, 8)}`;
      const password = `pw-${crypto.randomUUID()}`;
      const row = await createUser(database.db, {
        username,
        passwordHash: await currentApi().services.passwords.hash(password),
        role,
      });
      const res = await fetch(`${apiUrl}/api/v2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username, password }).toString(),
      });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
      const { access_token } = (await res.json()) as { access_token: string };
      return {
        id: row!.id,
        username,
        password,
        role,
        token: access_token,
        auth: { Authorization: `Bearer ${access_token}` },
      };
    },
    request,
    async placeCall(user, body) {
      const res = await request('/api/v2/calls', { token: user.token, json: body });
      return {
        status: res.status,
        headers: res.headers,
        body: (await res.json()) as Record<string, unknown>,
      };
    },
    getCall,
    async events(user, callId) {
      const res = await request(`/api/v2/calls/${callId}/events`, { token: user.token });
      if (res.status !== 200) throw new Error(`GET events ${callId}: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { events: unknown[] };
      return body.events.map((e) => CallEventSchema.parse(e));
    },
    hangup: (user, callId) =>
      request(`/api/v2/calls/${callId}/hangup`, { method: 'POST', token: user.token }),
    async waitCall(user, callId, accept, timeoutMs = 10_000, what = 'the call') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const call = await getCall(user, callId);
        if (accept(call)) return call;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; it is ${call.status} (${call.reason})`);
        await Bun.sleep(20);
      }
    },
    async waitFinal(user, callIds, timeoutMs = 15_000) {
      const done = new Map<string, CallBody>();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const open = callIds.filter((id) => !done.has(id));
        // A few at a time: polling must not be what loads the API.
        for (let i = 0; i < open.length; i += 20) {
          const calls = await Promise.all(open.slice(i, i + 20).map((id) => getCall(user, id)));
          for (const call of calls) if (FINAL_STATUSES.has(call.status)) done.set(call.call_id, call);
        }
        if (done.size === callIds.length) return new Map(callIds.map((id) => [id, done.get(id)!]));
        if (Date.now() > deadline) {
          throw new Error(
            `timed out after ${timeoutMs} ms: ${callIds.length - done.size} of ${callIds.length} calls not final`,
          );
        }
        await Bun.sleep(100);
      }
    },
    async stop() {
      await sidecar.stop().catch(() => undefined);
      if (api) await api.stop();
      api = null;
      tap?.down();
      await faults?.stop();
      await sim?.stop();
      await database.close();
      dir.remove();
    },
  };
  return stack;
}

/** The same URL (credentials, database, parameters) with the proxy's address as its host. */
function throughProxy(url: string, proxy: FaultProxy): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}

async function startStackFaults(targets: {
  ari: string;
  api: string;
  sidecarPort: number;
  database: string;
}): Promise<StackFaults & { stop(): Promise<void> }> {
  const ari = await startFaultProxy({ target: targets.ari, name: 'sidecar→ari' });
  const api = await startFaultProxy({ target: targets.api, name: 'sidecar→api' });
  const sidecarCommands = await startFaultProxy({
    target: { port: targets.sidecarPort },
    name: 'api→sidecar',
  });
  const db = await startFaultProxy({ target: targets.database, name: 'api→postgres' });
  const all = [ari, api, sidecarCommands, db];
  return {
    ari,
    api,
    sidecarCommands,
    db,
    passAll: () => {
      for (const proxy of all) proxy.pass();
    },
    async stop() {
      await Promise.all(all.map((proxy) => proxy.stop()));
    },
  };
}

const RANK: Record<string, number> = {
  pending: 0,
  dialing: 1,
  ringing: 2,
  answered: 3,
};

/**
 * What is wrong with a call's event log, or null: sequences run 1..n, it opens with `created`,
 * statuses never move back, exactly one `ended` and nothing after it, and the events that came
 * from the sidecar are in the order they happened.
 */
export function eventLogProblem(events: CallEventBody[]): string | null {
  for (const [i, event] of events.entries()) {
    if (event.sequence !== i + 1) return `sequence ${event.sequence} at position ${i + 1}`;
  }
  if (events[0]?.type !== 'created') return `the log opens with ${events[0]?.type}`;
  let rank = 0;
  for (const event of events) {
    const r = FINAL_STATUSES.has(event.status) ? 9 : (RANK[event.status] ?? 0);
    if (r < rank) return `status went back to ${event.status} at ${event.sequence}`;
    rank = r;
  }
  const ended = events.filter((e) => e.type === 'ended');
  if (ended.length !== 1) return `${ended.length} ended events`;
  if (events.at(-1)?.type !== 'ended') return `${events.at(-1)?.type} after ended`;
  const fromSidecar = events.filter((e) => e.source.startsWith('sidecar:'));
  for (let i = 1; i < fromSidecar.length; i++) {
    if (Date.parse(fromSidecar[i]!.time) < Date.parse(fromSidecar[i - 1]!.time)) {
      return `sidecar event ${fromSidecar[i]!.sequence} (${fromSidecar[i]!.type}) is older than the one before it`;
    }
  }
  return null;
}

/** Largest number of instants (ms) inside any window of `windowMs` starting at one of them. */
export function busiestWindow(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let worst = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! - sorted[i]! < windowMs) j++;
    worst = Math.max(worst, j - i);
  }
  return worst;
}

export { keyPair, waitFor };
