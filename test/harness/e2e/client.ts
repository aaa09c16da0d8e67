import type { z } from 'zod';
import { CallEventSchema, CallSchema } from '../../../api/calls/bodies.ts';
import { createOutdialClient, login } from '../../../api/client/index.ts';
import { createUser } from '../../../db/queries/users.ts';
import type { Role } from '../../../db/schema.ts';
import type { Database } from '../../../db/types.ts';
import { FINAL_STATUSES } from '../checks.ts';
import type { TestUser } from '../stack.ts';

/** The e2e stack's view of the API as a client: users, calls placed and read back over HTTP. */

export type CallBody = z.infer<typeof CallSchema>;
export type CallEventBody = z.infer<typeof CallEventSchema>;

export interface E2EClient {
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
}

/**
 * A client of the API at `apiUrl`. Users are written straight into `database`, their passwords
 * hashed by `hash` (the running API's hasher), and then log in over HTTP.
 */
export function e2eClient(
  apiUrl: string,
  database: Database,
  hash: (password: string) => Promise<string>,
): E2EClient {
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

  return {
    user: (role = 'operator') => newUser(apiUrl, database, hash, role),
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
    waitFinal: (user, callIds, timeoutMs = 15_000) => waitAllFinal(getCall, user, callIds, timeoutMs),
  };
}

/** A user written straight into the database, logged in over HTTP. */
async function newUser(
  apiUrl: string,
  database: Database,
  hash: (password: string) => Promise<string>,
  role: Role,
): Promise<TestUser> {
  const username = `${role}-${crypto.randomUUID().slice(0, 8)}`;
  const password = `pw-${crypto.randomUUID()}`;
  const row = await createUser(database.db, { username, passwordHash: await hash(password), role });
  // Tests log users in side by side; a 503 busy (the password checks' queue full on a slow machine)
  // is waited out as its Retry-After says, as any client would.
  const { access_token, refresh_token } = await login(
    createOutdialClient({ baseUrl: apiUrl }),
    username,
    password,
    { retries: 10 },
  );
  return {
    id: row!.id,
    username,
    password,
    role,
    token: access_token,
    refreshToken: refresh_token,
    auth: { Authorization: `Bearer ${access_token}` },
  };
}

/** Polls until every call has a final status. */
async function waitAllFinal(
  getCall: (user: TestUser, callId: string) => Promise<CallBody>,
  user: TestUser,
  callIds: string[],
  timeoutMs: number,
): Promise<Map<string, CallBody>> {
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
}
