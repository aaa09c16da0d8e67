import { test as bunTest } from 'bun:test';
import type { PasswordHasher } from '../../api/auth/passwords.ts';
import { createBunPasswordHasher } from '../../api/auth/passwords.ts';
import {
  login as clientLogin,
  createOutdialClient,
  type OutdialClient,
  type TokenResponse,
} from '../../api/client/index.ts';
import { type Config, loadConfig } from '../../api/config.ts';
import { type StartedApi, startApi } from '../../api/entry/bun.ts';
import {
  createPublicKeySet,
  generateSigningJwk,
  loadSigningKey,
  type SigningKey,
} from '../../api/shared/base/keys.ts';
import { type Logger, silentLogger } from '../../api/shared/base/log.ts';
import { createUser } from '../../db/queries/users.ts';
import type { Role } from '../../db/schema.ts';
import type { Database } from '../../db/types.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { type SidecarDouble, startSidecarDouble } from './sidecar-double.ts';
import { startWorkerdApi, type WorkerdApi } from './workerd.ts';

/**
 * Where the API under test runs: on Bun (default), or under `wrangler dev` in workerd, the Workers
 * runtime (TEST_TARGET=workerd, with TEST_DB=postgres). The same contract tests run against both.
 */
export type Target = 'bun' | 'workerd';
export const TARGET: Target = process.env.TEST_TARGET === 'workerd' ? 'workerd' : 'bun';

/** How a test reaches the API: through `app.request()` in the same process, or over real HTTP. */
export type Mode = 'in-process' | 'http';
/** workerd runs in another process: HTTP only there. */
export const MODES: Mode[] = TARGET === 'workerd' ? ['http'] : ['in-process', 'http'];

/**
 * Tests that cannot run against workerd, by name, and why. They run on Bun and are skipped only on
 * workerd, by the `test` below, which the integration suites import instead of bun:test's own.
 */
export const WORKERD_SKIPS: Readonly<Record<string, string>> = {
  'a lone stream catches up more events than it may have waiting, all of them, once':
    "watches the live-event poller go idle through the Bun API's in-process services; workerd's are inside its isolate",
  'the lock holds across API instances sharing the database':
    'needs a second API instance on the same database; one wrangler dev serves a test file',
  'failures spread over time: only those inside the window count':
    'needs a second API with other settings (LOGIN_FAILURE_WINDOW)',
  '30 wrong passwords at once: at most MAX_FAILED_LOGIN_ATTEMPTS are checked, and the right one sent among them is refused':
    "holds and counts password checks inside the Bun API's hasher",
  'a right password among guesses in flight lifts no lock and frees no slot for more guesses':
    "holds and counts password checks inside the Bun API's hasher",
  'keeps no one else out: other accounts log in from the flooding address and from others':
    "holds password checks inside the Bun API's hasher, with other settings (PASSWORD_HASH_QUEUE)",
  'many failures from one address slow that address without locking it: another account gets in after Retry-After':
    'needs a second API with other settings (MAX_FAILED_LOGINS_PER_ADDRESS, TRUST_PROXY)',
  'without a trusted proxy, X-Forwarded-For is ignored':
    'Workers take the client address from CF-Connecting-IP (unit-tested in api/lib/client-address.test.ts)',
  'TRUST_PROXY takes the right-most X-Forwarded-For address, which the proxy wrote, not one the client wrote':
    'needs a second API with other settings (TRUST_PROXY, TRUST_PROXY_HOPS)',
  'TRUSTED_PROXIES: the right-most address that is not one of them':
    'needs a second API with other settings (TRUSTED_PROXIES)',
  'a hash in progress does not stall other requests':
    'checks that Bun hashes on worker threads; in workerd bcrypt runs in the isolate itself',
  'a burst of logins beyond the hashing capacity answers 503 busy, and busy logins do not count as failures':
    'needs a second API with other settings (PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE)',
  'originates above RATE_LIMIT_REQUESTS per window answer 429 with Retry-After; replays and refused requests do not count':
    'needs a second API with other settings (RATE_LIMIT_REQUESTS)',
  'the original names, with route templates as labels':
    'Workers have no metrics registry: /metrics answers 404 there (checked instead)',
  'METRICS_ENABLED=false turns /metrics off':
    'needs a second API with other settings (METRICS_ENABLED, DOCS_ENABLED)',
  'cannot be demoted or deactivated': 'needs a second API on an empty database of its own',
  'two admins demoting or deactivating each other at once always leave one':
    'needs a second API on an empty database of its own',
  'bodies over 64 KiB: with Content-Length and chunked':
    "wrangler dev's local proxy fails the request after one whose chunked body the Worker stopped reading; " +
    "Cloudflare's edge discards such a body",
  'that stops reading is dropped instead of buffering without end, and can resume':
    'needs a second API with other settings (SSE_MAX_BUFFERED) and in-process requests',
  'a client resumes on a new API instance with no gap and no duplicate':
    'stops one API instance and starts another on the same database',
  'the cap holds across API instances sharing the database':
    'needs a second API instance on the same database; one wrangler dev serves a test file',
  'a name that resolves to a private or metadata address is refused at delivery, and not retried':
    "replaces the Bun API's DNS resolution (resolveHost); on Workers the platform resolves names itself",
  'a chunked CSV import whose client goes away mid-upload keeps none of its rows':
    "wrangler dev's local proxy ends a chunked request body whose client went away as if it were complete, " +
    'and a CSV has no end mark (a JSON array has its closing ], tested on workerd too; an announced Content-Length is checked)',
  'an endpoint gets at most WEBHOOK_ENDPOINT_CONCURRENCY attempts at once, however many calls report to it':
    "the webhook limits hold per invocation on Workers: each request's work delivers what is due on its own",
  'no key this file was shown is in any log line; key requests are logged with their key id':
    "reads the Bun API's log lines (the logger it is given); workerd's go to its own process",
};

/** bun:test's `test`, except that on workerd the tests in WORKERD_SKIPS are skipped, with the reason. */
export const test: typeof bunTest = new Proxy(bunTest, {
  apply(target, thisArg, args: unknown[]) {
    const [name, ...rest] = args;
    const reason = TARGET === 'workerd' && typeof name === 'string' ? WORKERD_SKIPS[name] : undefined;
    if (reason)
      return Reflect.apply(target.skip, thisArg, [`${name} [skipped on workerd: ${reason}]`, ...rest]);
    return Reflect.apply(target, thisArg, args);
  },
  // test.if, test.each, …: bun:test checks what they are called on.
  get(target, property) {
    const value = Reflect.get(target, property, target);
    return typeof value === 'function' ? value.bind(target) : value;
  },
});

export interface TestUser {
  id: string;
  username: string;
  password: string;
  role: Role;
  token: string;
  /** The refresh token of the login that gave `token`. */
  refreshToken: string;
  auth: Record<string, string>;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  json?: unknown;
  body?: BodyInit;
  token?: string;
}

export interface TestStack {
  readonly target: Target;
  /** The API's base URL. */
  readonly url: string;
  /** The configuration the API runs with, parsed as the API parses it. */
  readonly config: Config;
  /** The API's signing key (tests forge tokens with it). */
  readonly keys: { signing: SigningKey };
  /** The Bun API's internals; on workerd only its `url` and `port`. */
  readonly api: StartedApi;
  database: Database;
  sidecar: SidecarDouble;
  /** More sidecar doubles (option `moreSidecars`), by id: with them the API runs with SIDECARS. */
  sidecars: ReadonlyMap<string, SidecarDouble>;
  request(mode: Mode, path: string, options?: RequestOptions): Promise<Response>;
  /** The typed client (api/client), with `token` if given, reaching the API the way `mode` says. */
  client(token?: string, mode?: Mode): OutdialClient;
  /** A new user with a random name, and a token for it. */
  user(role?: Role): Promise<TestUser>;
  login(username: string, password: string, mode?: Mode): Promise<Response>;
  stop(): Promise<void>;
}

export async function startTestStack(
  options: {
    env?: Record<string, string>;
    database?: Database;
    /** Replaces DNS resolution for webhook targets (Bun only: workerd resolves on its own). */
    resolveHost?: (host: string) => Promise<Array<{ address: string; family: number }>>;
    /** Replaces the API's bcrypt inside its limiter (Bun only), e.g. to hold password checks. */
    passwordHasher?: PasswordHasher;
    /** Where the Bun API logs (default: nowhere); workerd's logs stay in its own process. */
    logger?: Logger;
    /**
     * Ids of more sidecar doubles: the API then runs with SIDECARS (`test-sidecar` first, then
     * these) and a JWKS in SIDECAR_PUBLIC_KEY giving each its key by `kid`.
     */
    moreSidecars?: string[];
  } = {},
): Promise<TestStack> {
  if (TARGET === 'workerd' && process.env.TEST_DB !== 'postgres') {
    throw new Error('TEST_TARGET=workerd needs TEST_DB=postgres (workerd cannot open the embedded database)');
  }
  const database = (options.database ?? (await createTestDatabase())) as TestDatabase;
  const sidecarKey = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
  const sidecar = await startSidecarDouble({ id: 'test-sidecar', key: sidecarKey });
  const sidecars = new Map<string, SidecarDouble>([[sidecar.id, sidecar]]);
  for (const id of options.moreSidecars ?? []) {
    const key = await loadSigningKey(JSON.stringify(await generateSigningJwk()), id);
    sidecars.set(id, await startSidecarDouble({ id, key }));
  }
  const fleetEnv: Record<string, string> =
    sidecars.size > 1
      ? {
          SIDECARS: [...sidecars.values()].map((d) => `${d.id}=${d.url}`).join(','),
          SIDECAR_PUBLIC_KEY: JSON.stringify({ keys: [...sidecars.values()].map((d) => d.key.publicJwk) }),
        }
      : {};
  const env: Record<string, string> = {
    APP_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    BCRYPT_COST: '4',
    LOG_LEVEL: 'error',
    METRICS_ENABLED: 'true',
    JWT_PRIVATE_KEY: JSON.stringify(await generateSigningJwk()),
    SIDECAR_ID: 'test-sidecar',
    SIDECAR_URL: sidecar.url,
    SIDECAR_PUBLIC_KEY: JSON.stringify(sidecarKey.publicJwk),
    SIDECAR_TIMEOUT_MS: '1500',
    RATE_LIMIT_REQUESTS: '100000',
    DATA_DIR: '/nonexistent-outdial-test-data',
    ...fleetEnv,
    ...options.env,
  };
  const config = loadConfig(env);
  const signing = await loadSigningKey(env.JWT_PRIVATE_KEY!, config.JWT_KEY_ID);
  for (const double of sidecars.values())
    double.trust(await createPublicKeySet([signing.publicJwk]), config.JWT_ISSUER);

  let bunApi: StartedApi | null = null;
  let workerd: WorkerdApi | null = null;
  let url: string;
  try {
    if (TARGET === 'workerd') {
      if (!database.url) throw new Error('the database for workerd must be reachable by URL');
      workerd = await startWorkerdApi(env, database.url);
      url = workerd.url;
    } else {
      bunApi = await startApi(env, {
        database,
        logger: options.logger ?? silentLogger,
        ...(options.resolveHost ? { resolveHost: options.resolveHost } : {}),
        ...(options.passwordHasher ? { passwordHasher: options.passwordHasher } : {}),
      });
      url = bunApi.url;
    }
  } catch (error) {
    for (const double of sidecars.values()) await double.stop();
    if (!options.database) await database.close();
    throw error;
  }
  const hasher = createBunPasswordHasher(config.BCRYPT_COST);
  const inProcess = (): StartedApi => {
    if (!bunApi)
      throw new Error('in-process requests need the Bun API; TEST_TARGET=workerd runs it elsewhere');
    return bunApi;
  };
  // On workerd only the API's address is known here; anything else of StartedApi is an error.
  const apiView = (): StartedApi =>
    bunApi ??
    (new Proxy({ url, port: Number(new URL(url).port) } as StartedApi, {
      get(target, property) {
        if (property in target) return target[property as keyof StartedApi];
        throw new Error(
          `stack.api.${String(property)} is the Bun API's; use stack.url, stack.config or stack.keys`,
        );
      },
    }) as StartedApi);

  async function request(mode: Mode, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] ??= 'application/json';
    }
    const init: RequestInit = { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers };
    if (body !== undefined) init.body = body;
    if (mode === 'http') return fetch(`${url}${path}`, init);
    return inProcess().app.request(path, init);
  }

  function client(token?: string, mode: Mode = 'http'): OutdialClient {
    return createOutdialClient({
      baseUrl: url,
      ...(token ? { token } : {}),
      ...(mode === 'in-process' ? { fetch: async (req: Request) => inProcess().app.request(req) } : {}),
    });
  }

  async function login(username: string, password: string, mode: Mode = 'http') {
    return request(mode, '/api/v2/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username, password }).toString(),
    });
  }

  async function user(role: Role = 'operator'): Promise<TestUser> {
    const username = `${role}-${crypto.randomUUID().slice(0, 8)}`;
    const password = `pw-${crypto.randomUUID()}`;
    const row = await createUser(database.db, { username, passwordHash: await hasher.hash(password), role });
    let token: TokenResponse;
    try {
      // Tests log users in side by side; a 503 busy (the password checks' queue full on a slow
      // machine) is waited out as its Retry-After says, as any client would.
      token = await clientLogin(client(undefined, MODES[0]), username, password, { retries: 10 });
    } catch (error) {
      throw new Error(`login failed for the test user: ${error}`);
    }
    return {
      id: row!.id,
      username,
      password,
      role,
      token: token.access_token,
      refreshToken: token.refresh_token,
      auth: { Authorization: `Bearer ${token.access_token}` },
    };
  }

  return {
    target: TARGET,
    url,
    config,
    keys: { signing },
    get api() {
      return apiView();
    },
    database,
    sidecar,
    sidecars,
    request,
    client,
    user,
    login,
    async stop() {
      await bunApi?.stop();
      await workerd?.stop();
      for (const double of sidecars.values()) await double.stop();
      if (!options.database) await database.close();
    },
  };
}

/** Asserts a problem+json body and returns it. */
export async function expectProblem(res: Response, status: number, code?: string) {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  if (!res.headers.get('content-type')?.startsWith('application/problem+json')) {
    throw new Error(`expected problem+json, got ${res.headers.get('content-type')}: ${text}`);
  }
  const body = JSON.parse(text) as {
    code: string;
    status: number;
    detail: string;
    type: string;
    title: string;
    request_id: string | null;
    errors?: { path: string; message: string; code: string; pointer?: string; parameter?: string }[];
  };
  if (body.status !== status) throw new Error(`problem status ${body.status} != ${status}`);
  if (code && body.code !== code) throw new Error(`expected code ${code}, got ${body.code}: ${text}`);
  if (!body.type || !body.title || typeof body.detail !== 'string' || !body.request_id) {
    throw new Error(`incomplete problem: ${text}`);
  }
  return body;
}
