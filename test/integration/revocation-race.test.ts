import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { insertCall } from '../../db/queries/calls.ts';
import { startTestStack, type TestStack, type TestUser, test } from '../harness/stack.ts';

/**
 * Revocation holds on the very next request while many requests with the same credential are in
 * flight, against the real server over HTTP: a verified-token cache, or a read of the call that
 * brings the caller's state with it, must never let a request that starts after the revocation
 * answered through. Readers run before, during and after; each request notes when it started.
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ env: { RATE_LIMIT_REQUESTS: '1000000' } });
}, 60_000);
afterAll(() => stack.stop());

const READERS = 16;

interface Outcome {
  startedAt: number;
  status: number;
  path: string;
}

/**
 * Runs READERS loops of GETs with `credential` on the call route (one statement with the caller's
 * check), the legacy status route and /me, until `revoke` has answered and every reader has made
 * several requests after it. Answers when the revocation was acknowledged, and every outcome.
 */
async function raceRevocation(credential: string, callId: string, revoke: () => Promise<Response>) {
  const paths = [`/api/v2/calls/${callId}`, `/api/v2/status/${callId}`, '/api/v2/me'];
  const outcomes: Outcome[] = [];
  const state = { revokedAt: Number.POSITIVE_INFINITY, after: new Array<number>(READERS).fill(0) };
  const readers = Array.from({ length: READERS }, async (_, reader) => {
    for (let i = 0; state.after[reader]! < 5; i++) {
      const path = paths[(reader + i) % paths.length]!;
      const startedAt = performance.now();
      const res = await fetch(`${stack.url}${path}`, { headers: { Authorization: `Bearer ${credential}` } });
      await res.arrayBuffer();
      outcomes.push({ startedAt, status: res.status, path });
      if (startedAt > state.revokedAt) state.after[reader]! += 1;
    }
  });
  // Revoke once every reader is under way and the credential has been let in (any cache is warm).
  while (outcomes.filter((o) => o.status === 200).length < READERS * 3) await Bun.sleep(2);
  const res = await revoke();
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  state.revokedAt = performance.now();
  await Promise.all(readers);
  return { revokedAt: state.revokedAt, outcomes };
}

function expectRefusedAfter(race: { revokedAt: number; outcomes: Outcome[] }) {
  const before = race.outcomes.filter((o) => o.startedAt < race.revokedAt);
  const after = race.outcomes.filter((o) => o.startedAt > race.revokedAt);
  expect(before.some((o) => o.status === 200)).toBe(true);
  expect(after.length).toBeGreaterThanOrEqual(READERS * 5);
  // Requests in flight across the revocation may answer either way; every later one is refused.
  expect(after.filter((o) => o.status !== 401)).toEqual([]);
  for (const o of before) expect([200, 401]).toContain(o.status);
}

async function callOf(user: TestUser): Promise<string> {
  const { call } = await insertCall(stack.database.db, {
    id: crypto.randomUUID(),
    ownerId: user.id,
    phoneNumber: '+15551234000',
    context: 'outbound-ivr',
    extension: 's',
    priority: 1,
    timeoutMs: 30_000,
  });
  return call.id;
}

describe('revocation while requests with the credential are in flight', () => {
  test('a deactivated user: every request started after the change answers 401', async () => {
    const admin = await stack.user('admin');
    const u = await stack.user('operator');
    const race = await raceRevocation(u.token, await callOf(u), () =>
      stack.request('http', `/api/v2/users/${u.id}`, {
        method: 'PATCH',
        token: admin.token,
        json: { is_active: false },
      }),
    );
    expectRefusedAfter(race);
  });

  test('the token revoked by its holder: every later request with it answers 401', async () => {
    const u = await stack.user('operator');
    const race = await raceRevocation(u.token, await callOf(u), () =>
      stack.request('http', '/api/v2/token/revoke', { method: 'POST', token: u.token }),
    );
    expectRefusedAfter(race);
  });

  test('"log out everywhere" (the token version moves on): every later request answers 401', async () => {
    const u = await stack.user('operator');
    const second = (await (await stack.login(u.username, u.password)).json()) as { access_token: string };
    const race = await raceRevocation(u.token, await callOf(u), () =>
      stack.request('http', '/api/v2/token/revoke', {
        method: 'POST',
        token: second.access_token,
        json: { all: true },
      }),
    );
    expectRefusedAfter(race);
  });

  test("an API key's user deactivated: every later request with the key answers 401", async () => {
    const admin = await stack.user('admin');
    const u = await stack.user('operator');
    const created = await stack.request('http', '/api/v2/keys', {
      token: u.token,
      json: { name: 'race', scopes: ['calls:read'] },
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    const race = await raceRevocation(key, await callOf(u), () =>
      stack.request('http', `/api/v2/users/${u.id}`, {
        method: 'PATCH',
        token: admin.token,
        json: { is_active: false },
      }),
    );
    expectRefusedAfter(race);
  });
});
