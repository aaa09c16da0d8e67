import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { count, notInArray } from 'drizzle-orm';
import { generateSigningJwk, loadSigningKey } from '../../api/shared/base/keys.ts';
import { TERMINAL_STATUSES } from '../../api/shared/contract/index.ts';
import { type SimHandle, startAriSimulator } from '../../asterisk/sim/server.ts';
import { getCall } from '../../db/queries/calls.ts';
import { calls } from '../../db/schema.ts';
import type { Database } from '../../db/types.ts';
import { commandSigner, type KeyPair, keyPair } from '../harness/channel.ts';
import { eventLogProblem, FINAL_STATUSES } from '../harness/checks.ts';
import { type ApiControl, startStackApi } from '../harness/e2e/api.ts';
import { type E2EClient, e2eClient } from '../harness/e2e/client.ts';
import { stackDatabase } from '../harness/e2e/database.ts';
import { type E2ESidecar, stackSidecar, stackSidecarConfig } from '../harness/e2e/sidecar.ts';
import { expectProblem, type TestUser } from '../harness/stack.ts';
import { freePort, Teardown, tempDir } from '../harness/util.ts';

/**
 * Single calls over a fleet of two sidecars (SIDECARS), each a real `bun sidecar/main.ts` process
 * with a simulator of its own, behind one real API on PostgreSQL: calls spread over both and are
 * dialled once each; a sidecar killed with SIGKILL is skipped (readiness shows it down) while its
 * calls still reach one final status; a named sidecar is honoured, an unknown name refused, and with
 * both gone a call is refused in plain words and nothing stays unfinished.
 */

const IDS = ['east', 'west'] as const;
type Id = (typeof IDS)[number];

interface Member {
  sim: SimHandle;
  sidecar: E2ESidecar;
}

interface Readiness {
  status: string;
  sidecars: Array<{ id: string; state: string; load: number | null; capacity: number; error?: string }>;
}

const teardown = new Teardown();
let api: ApiControl;
let database: Database;
let client: E2EClient;
let op: TestUser;
const fleet = {} as Record<Id, Member>;

/** A key pair whose `kid` is the sidecar's id: SIDECAR_PUBLIC_KEY's JWKS gives each sidecar its key by it. */
async function namedKeyPair(kid: string): Promise<KeyPair> {
  const jwk = { ...(await generateSigningJwk()), kid };
  const key = await loadSigningKey(JSON.stringify(jwk));
  return { privateJson: JSON.stringify(jwk), publicJson: JSON.stringify(key.publicJwk), key };
}

beforeAll(async () => {
  const dir = tempDir('outdial-fleet-');
  teardown.add(() => dir.remove());
  ({ database } = await stackDatabase(false));
  teardown.add(() => database.close());
  const apiKey = await keyPair();
  const keys = { east: await namedKeyPair('east'), west: await namedKeyPair('west') };
  const ports = { api: await freePort(), east: await freePort(), west: await freePort() };
  const urlOf = (id: Id) => `http://127.0.0.1:${ports[id]}`;
  api = await startStackApi({
    port: ports.api,
    apiKey,
    sidecarKey: keys.east,
    sidecarId: 'east',
    sidecarUrl: urlOf('east'),
    dataDir: dir.path,
    database,
    databaseUrl: null,
    env: {
      SIDECARS: IDS.map((id) => `${id}=${urlOf(id)}`).join(','),
      SIDECAR_PUBLIC_KEY: JSON.stringify({ keys: IDS.map((id) => JSON.parse(keys[id].publicJson)) }),
    },
  });
  teardown.add(() => api.close());
  for (const id of IDS) {
    // Digit 5 (stasis style) stays up 61 s, 3 s here.
    const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
    teardown.add(() => sim.stop());
    const dataDir = join(dir.path, id);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const config = stackSidecarConfig({
      sidecarKey: keys[id],
      apiKey,
      apiUrl: api.url,
      ariHttpUrl: `${sim.url}/ari`,
      dataDir,
      sidecarId: id,
      port: ports[id],
      overrides: {
        ariOriginateStyle: 'stasis',
        originateCps: 200,
        maxConcurrentCalls: 40,
        reconcileIntervalMs: 1000,
      },
    });
    const sidecar = stackSidecar(
      config,
      'process',
      commandSigner(() => urlOf(id), id, apiKey.key),
    );
    teardown.add(() => sidecar.stop().catch(() => undefined));
    await sidecar.start();
    fleet[id] = { sim, sidecar };
  }
  client = e2eClient(api.url, database, (password) => api.current().services.passwords.hash(password));
  op = await client.user('operator');
}, 60_000);

afterAll(() => teardown.run());

async function readiness(): Promise<Readiness> {
  const res = await client.request('/readiness');
  expect(res.status).toBe(200);
  return (await res.json()) as Readiness;
}

const stateOf = (r: Readiness, id: Id) => r.sidecars.find((s) => s.id === id);

/** The sidecar each call is stored under, read from the database. */
async function sidecarOf(ids: string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const id of ids) out.set(id, (await getCall(database.db, id))?.sidecarId ?? null);
  return out;
}

/** Each sidecar's calls not yet final, as the database holds them. */
async function activeCalls(): Promise<Record<Id, number>> {
  const rows = await database.db
    .select({ sidecar: calls.sidecarId, n: count() })
    .from(calls)
    .where(notInArray(calls.status, [...TERMINAL_STATUSES]))
    .groupBy(calls.sidecarId);
  const of = (id: Id) => rows.find((r) => r.sidecar === id)?.n ?? 0;
  return { east: of('east'), west: of('west') };
}

/** Each call was originated exactly once, by the simulator behind the sidecar it is stored under. */
async function dialledOnceWhereStored(ids: string[]) {
  const stored = await sidecarOf(ids);
  for (const id of ids) {
    const at = IDS.map((sc) => fleet[sc].sim.originates.filter((o) => o.channelId === id).length);
    const where = stored.get(id) as Id;
    expect({ id, at, where }).toEqual({ id, at: IDS.map((sc) => (sc === where ? 1 : 0)), where });
  }
}

test('40 concurrent calls spread over both sidecars, each dialled once; readiness shows both up with their load', async () => {
  const ready = await readiness();
  expect(ready.status).toBe('ready');
  expect(ready.sidecars.map((s) => [s.id, s.state, s.capacity])).toEqual([
    ['east', 'up', 40],
    ['west', 'up', 40],
  ]);
  const replies = await Promise.all(
    Array.from({ length: 40 }, () => client.placeCall(op, { phone_number: '5551234005' })),
  );
  for (const r of replies) expect([r.status, r.body.status]).toEqual([200, 'dialing']);
  const ids = replies.map((r) => r.body.call_id as string);
  const stored = await sidecarOf(ids);
  const share = (id: Id) => [...stored.values()].filter((s) => s === id).length;
  expect(share('east') + share('west')).toBe(40);
  // Least loaded first, with calls in flight counted: neither takes much more than half.
  expect(Math.min(share('east'), share('west'))).toBeGreaterThanOrEqual(12);
  await dialledOnceWhereStored(ids);
  // Readiness counts each one's calls not yet final; they only end meanwhile, so its figure lies
  // between the counts taken before and after it.
  const before = await activeCalls();
  const live = await readiness();
  const after = await activeCalls();
  for (const id of IDS) {
    const load = stateOf(live, id)!.load!;
    expect(load).toBeLessThanOrEqual(before[id]);
    expect(load).toBeGreaterThanOrEqual(after[id]);
  }
  const final = await client.waitFinal(op, ids, 20_000);
  for (const id of ids) expect(final.get(id)!.status).toBe('completed');
}, 60_000);

test('a named sidecar takes the call; an unknown name is a 422 naming the field, and stores nothing', async () => {
  const named = await Promise.all(
    Array.from({ length: 3 }, () => client.placeCall(op, { phone_number: '5551234000', sidecar_id: 'west' })),
  );
  for (const r of named) expect(r.status).toBe(200);
  const ids = named.map((r) => r.body.call_id as string);
  expect([...(await sidecarOf(ids)).values()]).toEqual(['west', 'west', 'west']);
  await dialledOnceWhereStored(ids);

  const before = IDS.map((id) => fleet[id].sim.originates.length);
  const res = await client.request('/api/v2/calls', {
    token: op.token,
    json: { phone_number: '5551234000', sidecar_id: 'north' },
  });
  const problem = await expectProblem(res, 422, 'validation_error');
  expect(problem.detail).toContain('sidecar_id');
  expect(JSON.stringify(problem)).toContain('is not a configured sidecar');
  expect(IDS.map((id) => fleet[id].sim.originates.length)).toEqual(before);
  await client.waitFinal(op, ids, 20_000);
}, 60_000);

test('kill -9 of one sidecar mid-run: new calls go to the other, readiness shows it down, its calls end once', async () => {
  const { west, east } = fleet;
  // Calls live on both when west dies.
  const before = await Promise.all(
    Array.from({ length: 20 }, () => client.placeCall(op, { phone_number: '5551234005' })),
  );
  for (const r of before) expect(r.status).toBe(200);
  const beforeIds = before.map((r) => r.body.call_id as string);
  const onWest = [...(await sidecarOf(beforeIds)).entries()]
    .filter(([, s]) => s === 'west')
    .map(([id]) => id);
  expect(onWest.length).toBeGreaterThan(0);
  await Promise.all(
    beforeIds.map((id) => client.waitCall(op, id, (c) => c.status === 'answered', 10_000, 'answered')),
  );
  await west.sidecar.kill();

  // The first call may find west's port closed: refused at connect, it goes to east instead.
  const after = await Promise.all(
    Array.from({ length: 20 }, () => client.placeCall(op, { phone_number: '5551234000' })),
  );
  for (const r of after) expect([r.status, r.body.status]).toEqual([200, 'dialing']);
  const afterIds = after.map((r) => r.body.call_id as string);
  expect(new Set((await sidecarOf(afterIds)).values())).toEqual(new Set(['east']));
  await dialledOnceWhereStored(afterIds);

  const down = await readiness();
  expect(down.status).toBe('ready');
  expect(stateOf(down, 'east')!.state).toBe('up');
  expect(stateOf(down, 'west')!.state).not.toBe('up');
  expect(stateOf(down, 'west')!.error).toBeTruthy();

  // Named but down: a 503 in plain words; the call it stored ends failed, never left pending.
  const res = await client.request('/api/v2/calls', {
    token: op.token,
    json: { phone_number: '5551234000', sidecar_id: 'west' },
  });
  const problem = await expectProblem(res, 503, 'pbx_unavailable');
  expect(problem.detail).toContain('"west"');
  expect(res.headers.get('retry-after')).toBeTruthy();

  // West comes back on its data directory and settles the calls it had, as after any kill -9.
  await west.sidecar.start();
  const all = [...beforeIds, ...afterIds];
  const final = await client.waitFinal(op, all, 30_000);
  for (const id of all) {
    expect(FINAL_STATUSES.has(final.get(id)!.status)).toBe(true);
    expect({ id, problem: eventLogProblem(await client.events(op, id)) }).toEqual({ id, problem: null });
  }
  await dialledOnceWhereStored(all);
  expect(east.sidecar.isUp()).toBe(true);
  // Readiness checks it again and finds it up.
  const deadline = Date.now() + 10_000;
  while (stateOf(await readiness(), 'west')?.state !== 'up') {
    if (Date.now() > deadline) throw new Error('west is not up again after its restart');
    await Bun.sleep(100);
  }
}, 90_000);

test('both sidecars down: a clear 503, and no call is left unfinished', async () => {
  for (const id of IDS) await fleet[id].sidecar.kill();
  const res = await client.request('/api/v2/calls', {
    token: op.token,
    json: { phone_number: '5551234000' },
  });
  const problem = await expectProblem(res, 503, 'pbx_unavailable');
  expect(problem.detail).toContain('No sidecar can be reached');
  const degraded = await readiness();
  expect(degraded.status).toBe('degraded');
  expect(degraded.sidecars.map((s) => s.state).includes('up')).toBe(false);
  const [left] = await database.db
    .select({ n: count() })
    .from(calls)
    .where(notInArray(calls.status, [...TERMINAL_STATUSES]));
  expect(left!.n).toBe(0);
}, 60_000);
