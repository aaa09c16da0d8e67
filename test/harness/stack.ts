import { generateSigningJwk, loadSigningKey } from '../../api/channel/keys.ts';
import { type StartedApi, startApi } from '../../api/entry/bun.ts';
import { silentLogger } from '../../api/lib/logger.ts';
import { createUser } from '../../db/queries/users.ts';
import type { Role } from '../../db/schema.ts';
import type { Database } from '../../db/types.ts';
import { createTestDatabase } from './database.ts';
import { type SidecarDouble, startSidecarDouble } from './sidecar-double.ts';

/** How a test reaches the API: through `app.request()` in the same process, or over real HTTP. */
export type Mode = 'in-process' | 'http';
export const MODES: Mode[] = ['in-process', 'http'];

export interface TestUser {
  id: string;
  username: string;
  password: string;
  role: Role;
  token: string;
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
  api: StartedApi;
  database: Database;
  sidecar: SidecarDouble;
  request(mode: Mode, path: string, options?: RequestOptions): Promise<Response>;
  /** A new user with a random name, and a token for it. */
  user(role?: Role): Promise<TestUser>;
  login(username: string, password: string, mode?: Mode): Promise<Response>;
  stop(): Promise<void>;
}

export async function startTestStack(
  options: {
    env?: Record<string, string>;
    database?: Database;
    resolveHost?: (host: string) => Promise<Array<{ address: string; family: number }>>;
  } = {},
): Promise<TestStack> {
  const database = options.database ?? (await createTestDatabase());
  const sidecarKey = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
  const sidecar = await startSidecarDouble({ id: 'test-sidecar', key: sidecarKey });
  const api = await startApi(
    {
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
      ...options.env,
    },
    { database, logger: silentLogger, ...(options.resolveHost ? { resolveHost: options.resolveHost } : {}) },
  );
  sidecar.trust(api.services.keys.verify, api.services.config.JWT_ISSUER);

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
    if (mode === 'http') return fetch(`${api.url}${path}`, init);
    return api.app.request(path, init);
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
    const row = await createUser(database.db, {
      username,
      passwordHash: await api.services.passwords.hash(password),
      role,
    });
    const res = await login(username, password, 'in-process');
    if (res.status !== 200)
      throw new Error(`login failed for the test user: ${res.status} ${await res.text()}`);
    const { access_token } = (await res.json()) as { access_token: string };
    return {
      id: row!.id,
      username,
      password,
      role,
      token: access_token,
      auth: { Authorization: `Bearer ${access_token}` },
    };
  }

  return {
    api,
    database,
    sidecar,
    request,
    user,
    login,
    async stop() {
      await api.stop();
      await sidecar.stop();
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
    errors?: { path: string }[];
  };
  if (body.status !== status) throw new Error(`problem status ${body.status} != ${status}`);
  if (code && body.code !== code) throw new Error(`expected code ${code}, got ${body.code}: ${text}`);
  if (!body.type || !body.title || typeof body.detail !== 'string' || !body.request_id) {
    throw new Error(`incomplete problem: ${text}`);
  }
  return body;
}
