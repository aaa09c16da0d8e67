import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { planWebhook } from '../../api/calls/webhook-plan.ts';
import { loadConfig } from '../../api/config.ts';
import { noopMetrics } from '../../api/lib/metrics.ts';
import { generateSigningJwk, loadSigningKey, type SigningKey } from '../../api/shared/base/keys.ts';
import { silentLogger } from '../../api/shared/base/log.ts';
import { createWebhookPool, type DispatchServices } from '../../api/webhooks/dispatcher.ts';
import type { WebhookTransport } from '../../api/webhooks/transport.ts';
import { insertCall } from '../../db/queries/calls.ts';
import { createUser } from '../../db/queries/users.ts';
import { listDeliveriesForCall } from '../../db/queries/webhooks.ts';
import { createTestDatabase, type TestDatabase } from '../harness/database.ts';

/**
 * The dispatcher's pool on its own, on the test database (PGlite, or PostgreSQL with TEST_DB), with
 * transports written here: ones that hold requests until told, and one that never settles at all.
 */

let database: TestDatabase;
let signing: SigningKey;
let ownerId: string;

beforeAll(async () => {
  database = await createTestDatabase();
  signing = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
  const user = await createUser(database.db, {
    username: `pool-${crypto.randomUUID().slice(0, 8)}`,
    passwordHash: 'x',
    role: 'operator',
  });
  ownerId = user!.id;
}, 60_000);
afterAll(() => database.close());

function servicesWith(webhooks: WebhookTransport, env: Record<string, string>): DispatchServices {
  return {
    config: loadConfig({ APP_ENV: 'test', WEBHOOK_RETRY_BASE_MS: '60000', ...env }),
    db: database.db,
    keys: { signing },
    logger: silentLogger,
    metrics: noopMetrics,
    webhooks,
  };
}

/** A call whose creation owes one delivery to `url`. */
async function callReportingTo(url: string): Promise<string> {
  const { call } = await insertCall(
    database.db,
    {
      id: crypto.randomUUID(),
      ownerId,
      phoneNumber: '+15551234000',
      context: 'outbound-ivr',
      extension: 's',
      priority: 1,
      timeoutMs: 30_000,
      sidecarId: 'test-sidecar',
      statusCallback: url,
    },
    { webhook: planWebhook },
  );
  return call.id;
}

/** A transport that holds every request to a held endpoint until released, and records concurrency. */
function holdingTransport() {
  const held = new Set<string>();
  const waiting: Array<() => void> = [];
  const inFlight = new Map<string, number>();
  const most = new Map<string, number>();
  const answered: string[] = [];
  const transport: WebhookTransport = {
    exchange: () => Promise.reject(new Error('webhook deliveries only post')),
    async post(url) {
      const endpoint = new URL(url).host;
      inFlight.set(endpoint, (inFlight.get(endpoint) ?? 0) + 1);
      most.set(endpoint, Math.max(most.get(endpoint) ?? 0, inFlight.get(endpoint)!));
      if (held.has(endpoint)) await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight.set(endpoint, inFlight.get(endpoint)! - 1);
      answered.push(url);
      return { status: 200 };
    },
  };
  return {
    transport,
    hold: (endpoint: string) => held.add(endpoint),
    release() {
      held.clear();
      for (const resolve of waiting.splice(0)) resolve();
    },
    inFlight: (endpoint: string) => inFlight.get(endpoint) ?? 0,
    most: (endpoint: string) => most.get(endpoint) ?? 0,
    answered,
  };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const stateOf = async (callId: string) => (await listDeliveriesForCall(database.db, callId))[0]!.d.state;

describe('webhook pool', () => {
  test('a held endpoint keeps its own slots; every other delivery goes out meanwhile', async () => {
    const t = holdingTransport();
    t.hold('held.example.com');
    const pool = createWebhookPool(
      servicesWith(t.transport, { WEBHOOK_CONCURRENCY: '6', WEBHOOK_ENDPOINT_CONCURRENCY: '2' }),
    );
    const held = await Promise.all(
      Array.from({ length: 8 }, (_, i) => callReportingTo(`https://held.example.com/hooks/${i}`)),
    );
    const others = await Promise.all(
      Array.from({ length: 12 }, (_, i) => callReportingTo(`https://other-${i % 3}.example.com/hooks`)),
    );
    const drained = pool.drain();
    await until(
      () => t.answered.length === others.length && t.inFlight('held.example.com') === 2,
      "the other endpoints' deliveries",
    );
    expect(t.answered.some((url) => url.includes('held.example.com'))).toBe(false);
    // Their outcomes are recorded too, while the held endpoint still holds its two.
    for (const id of others)
      await until(async () => (await stateOf(id)) === 'delivered', `delivery of ${id}`);
    expect(t.inFlight('held.example.com')).toBe(2);
    t.release();
    await drained;
    expect(t.most('held.example.com')).toBe(2);
    for (const id of held) {
      const [delivery] = await listDeliveriesForCall(database.db, id);
      expect(delivery!.d.state).toBe('delivered');
    }
    await pool.close();
  }, 60_000);

  test('one endpoint never takes more than half of the slots, whatever WEBHOOK_ENDPOINT_CONCURRENCY says', async () => {
    const t = holdingTransport();
    t.hold('greedy.example.com');
    const pool = createWebhookPool(
      servicesWith(t.transport, { WEBHOOK_CONCURRENCY: '4', WEBHOOK_ENDPOINT_CONCURRENCY: '100' }),
    );
    await Promise.all(Array.from({ length: 6 }, () => callReportingTo('https://greedy.example.com/hooks')));
    const other = await callReportingTo('https://other.example.com/hooks');
    const drained = pool.drain();
    await until(
      () => t.answered.length === 1 && t.inFlight('greedy.example.com') === 2,
      "the other endpoint's delivery",
    );
    expect(t.answered).toEqual(['https://other.example.com/hooks']);
    await until(async () => (await stateOf(other)) === 'delivered', 'the delivery recorded');
    expect(t.inFlight('greedy.example.com')).toBe(2);
    t.release();
    await drained;
    expect(t.most('greedy.example.com')).toBe(2);
    await pool.close();
  }, 60_000);

  test('an attempt whose transport never settles is cut off at WEBHOOK_TIMEOUT_MS, recorded and left for a retry', async () => {
    let calls = 0;
    const never: WebhookTransport = {
      exchange: () => Promise.reject(new Error('webhook deliveries only post')),
      post(url) {
        if (url.includes('silent.example.com')) calls++;
        return new Promise(() => {}); // ignores its signal too
      },
    };
    const pool = createWebhookPool(servicesWith(never, { WEBHOOK_TIMEOUT_MS: '200' }));
    const id = await callReportingTo('https://silent.example.com/hooks');
    await pool.drain();
    expect(calls).toBe(1);
    const [delivery] = await listDeliveriesForCall(database.db, id);
    expect(delivery!.d.state).toBe('pending');
    expect(delivery!.d.lockedUntil).toBeNull();
    expect(delivery!.attempts.map((a) => a.error)).toEqual(['request failed: no answer within 200 ms']);
    await pool.close();
  }, 60_000);

  test('two pools on one database (two API instances) never send the same delivery twice', async () => {
    const t = holdingTransport();
    const services = servicesWith(t.transport, {
      WEBHOOK_CONCURRENCY: '8',
      WEBHOOK_ENDPOINT_CONCURRENCY: '4',
    });
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, i) => callReportingTo(`https://shared-${i % 5}.example.com/hooks/${i}`)),
    );
    const pools = [createWebhookPool(services), createWebhookPool(services)];
    await Promise.all(pools.map((pool) => pool.drain()));
    const sent = t.answered.filter((url) => url.includes('shared-'));
    expect(sent).toHaveLength(ids.length);
    expect(new Set(sent).size).toBe(ids.length);
    for (const id of ids) {
      const [delivery] = await listDeliveriesForCall(database.db, id);
      expect(delivery!.d.state).toBe('delivered');
      expect(delivery!.attempts).toHaveLength(1);
    }
    await Promise.all(pools.map((pool) => pool.close()));
  }, 60_000);
});
