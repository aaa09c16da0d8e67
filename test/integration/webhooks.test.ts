import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { planWebhook } from '../../api/calls/webhook-plan.ts';
import type { CallEventInput } from '../../api/shared/contract/index.ts';
import { verifyWebhook } from '../../api/webhooks/signature.ts';
import { insertCall } from '../../db/queries/calls.ts';
import {
  expectProblem,
  startTestStack,
  TARGET,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../harness/webhook-receiver.ts';

let stack: TestStack;
let op: TestUser;
let receiver: WebhookReceiver;

beforeAll(async () => {
  stack = await startTestStack({
    env: {
      WEBHOOK_ALLOW_LOOPBACK: 'true',
      WEBHOOK_RETRY_BASE_MS: '40',
      WEBHOOK_RETRY_MAX_MS: '200',
      WEBHOOK_POLL_MS: '20',
      WEBHOOK_MAX_ATTEMPTS: '4',
      // A stalled endpoint's attempt stays in flight for as long as a test holds it.
      WEBHOOK_TIMEOUT_MS: '20000',
    },
  });
  op = await stack.user('operator');
}, 60_000);
afterAll(() => stack.stop());

interface Payload {
  type: string;
  event_id: string;
  call: { call_id: string; status: string };
  event: { sequence: number; status: string; type: string };
}

let seq = 1000;
const ev = (
  callId: string,
  type: CallEventInput['type'],
  status: CallEventInput['status'],
  extra: Partial<CallEventInput> = {},
): CallEventInput => ({
  event_id: `${callId}:${type}`,
  call_id: callId,
  seq: ++seq,
  type,
  status,
  occurred_at: new Date().toISOString(),
  ...extra,
});

async function place(body: Record<string, unknown>): Promise<string> {
  const res = await stack.request('http', '/api/v2/calls', {
    token: op.token,
    json: { phone_number: '5551234000', ...body },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { call_id: string }).call_id;
}

async function jwks() {
  return ((await (await fetch(`${stack.api.url}/.well-known/jwks.json`)).json()) as { keys: never[] }).keys;
}

async function deliveries(callId: string, token = op.token) {
  const res = await stack.request('http', `/api/v2/calls/${callId}/webhooks`, { token });
  return res;
}

describe('status webhooks', () => {
  test('every status change is delivered in order, signed, and every signature verifies', async () => {
    receiver = startWebhookReceiver();
    const id = await place({ status_callback: receiver.url });
    await stack.sidecar.sendEvents(stack.api.url, [
      ev(id, 'ringing', 'ringing'),
      ev(id, 'answered', 'answered'),
      ev(id, 'ended', 'completed', {
        reason: 'normal',
        hangup_cause: 16,
        hangup_cause_txt: 'Normal Clearing',
      }),
    ]);
    const got = await receiver.waitFor(5);
    const keys = await jwks();
    for (const hook of got) {
      const result = await verifyWebhook({
        header: hook.headers['outdial-signature'],
        body: hook.body,
        keys,
      });
      expect(result.ok).toBe(true);
      expect(hook.headers['content-type']).toBe('application/json');
      expect(hook.headers['outdial-attempt']).toBe('1');
    }
    const payloads = got.map((h) => JSON.parse(h.body) as Payload);
    expect(payloads.map((p) => p.call.status)).toEqual([
      'pending',
      'dialing',
      'ringing',
      'answered',
      'completed',
    ]);
    expect(payloads.map((p) => p.event.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(payloads.every((p) => p.type === 'call.status' && p.call.call_id === id)).toBe(true);
    await Bun.sleep(200);
    expect(receiver.received).toHaveLength(5);
    // A forged or replayed-late copy does not verify.
    const first = got[0]!;
    expect(
      (
        await verifyWebhook({
          header: first.headers['outdial-signature'],
          body: first.body.replace('pending', 'failed'),
          keys,
        })
      ).ok,
    ).toBe(false);
    expect(
      (
        await verifyWebhook({
          header: first.headers['outdial-signature'],
          body: first.body,
          keys,
          now: new Date(Date.now() + 3600_000),
        })
      ).ok,
    ).toBe(false);
    receiver.stop();
  });

  test('a receiver that answers 500 twice and then 200 gets the event three times and no more', async () => {
    receiver = startWebhookReceiver();
    receiver.script = [500, 500];
    const id = await place({ status_callback: receiver.url, status_callback_events: ['pending'] });
    await receiver.waitFor(3);
    await Bun.sleep(400);
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((h) => h.body)).size).toBe(1);
    expect(receiver.received.map((h) => h.headers['outdial-attempt'])).toEqual(['1', '2', '3']);
    const body = (await (await deliveries(id)).json()) as {
      deliveries: {
        state: string;
        status: string;
        attempts: { attempt: number; status_code: number | null; error: string | null }[];
      }[];
    };
    expect(body.deliveries).toHaveLength(1);
    expect(body.deliveries[0]).toMatchObject({ state: 'delivered', status: 'pending' });
    expect(body.deliveries[0]!.attempts.map((a) => [a.attempt, a.status_code])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    // The waits grew between attempts (exponential backoff with jitter, never zero).
    const gaps = receiver.received.slice(1).map((h, i) => h.at - receiver.received[i]!.at);
    expect(gaps.every((g) => g >= 15)).toBe(true);
    receiver.stop();
  });

  test('retries stop after WEBHOOK_MAX_ATTEMPTS; the delivery ends failed', async () => {
    receiver = startWebhookReceiver();
    receiver.fallback = 503;
    const id = await place({ status_callback: receiver.url, status_callback_events: ['pending'] });
    await receiver.waitFor(4);
    await Bun.sleep(500);
    expect(receiver.received).toHaveLength(4);
    const body = (await (await deliveries(id)).json()) as {
      deliveries: { state: string; attempts: unknown[] }[];
    };
    expect(body.deliveries[0]!.state).toBe('failed');
    expect(body.deliveries[0]!.attempts).toHaveLength(4);
    receiver.stop();
  });

  test('status_callback_events picks the statuses that are sent', async () => {
    receiver = startWebhookReceiver();
    const id = await place({ status_callback: receiver.url, status_callback_events: ['busy', 'completed'] });
    await stack.sidecar.sendEvents(stack.api.url, [
      ev(id, 'ringing', 'ringing'),
      ev(id, 'ended', 'busy', { reason: 'busy', hangup_cause: 17 }),
    ]);
    const [only] = await receiver.waitFor(1);
    await Bun.sleep(200);
    expect(receiver.received).toHaveLength(1);
    expect((JSON.parse(only!.body) as Payload).call.status).toBe('busy');
    receiver.stop();
  });

  test('redirects are not followed', async () => {
    receiver = startWebhookReceiver();
    const target = startWebhookReceiver();
    receiver.redirectTo = target.url;
    const id = await place({ status_callback: receiver.url, status_callback_events: ['pending'] });
    await receiver.waitFor(4);
    await Bun.sleep(300);
    expect(target.received).toHaveLength(0);
    const body = (await (await deliveries(id)).json()) as {
      deliveries: { state: string; attempts: { error: string }[] }[];
    };
    expect(body.deliveries[0]!.attempts[0]!.error).toContain('redirect (302) not followed');
    receiver.stop();
    target.stop();
  });

  test("another user's call's webhook log is a 404", async () => {
    const id = await place({});
    const other = await stack.user('operator');
    await expectProblem(await deliveries(id, other.token), 404, 'call_not_found');
    const mine = (await (await deliveries(id)).json()) as { deliveries: unknown[]; status_callback: null };
    expect(mine).toMatchObject({ deliveries: [], status_callback: null });
  });
});

/** Addresses a name may resolve to that a webhook must never reach, in every spelling a resolver may give. */
const RESOLVES_TO_BAD = [
  '127.0.0.1',
  '10.1.2.3',
  '172.16.0.1',
  '192.168.0.1',
  '100.64.0.1',
  '100.100.100.200',
  '169.254.169.254',
  '0.0.0.0',
  '224.0.0.1',
  '255.255.255.255',
  '198.18.0.1',
  '::1',
  '::',
  '::ffff:127.0.0.1',
  '::ffff:0:a9fe:a9fe',
  '::ffff:0:7f00:1',
  '64:ff9b::a00:1',
  '64:ff9b:1::808:808',
  '2002:a00:1::1',
  '2001:0:4136:e378:8000:63bf:3fff:fdd2',
  'fd00:ec2::254',
  'fc00::1',
  'fe80::1',
  'ff02::1',
];

describe('Cron Trigger', () => {
  test.if(TARGET === 'workerd')(
    "on Workers the Cron Trigger's deliveries to other endpoints go out while one endpoint stalls",
    async () => {
      const stalled = startWebhookReceiver();
      const other = startWebhookReceiver();
      stalled.stall();
      try {
        // Written straight to the database: only the Cron Trigger will find them.
        const owe = (url: string) =>
          insertCall(
            stack.database.db,
            {
              id: crypto.randomUUID(),
              ownerId: op.id,
              phoneNumber: '+15551234000',
              context: 'outbound-ivr',
              extension: 's',
              priority: 1,
              timeoutMs: 30_000,
              statusCallback: url,
            },
            { webhook: planWebhook },
          );
        const { call: held } = await owe(stalled.url);
        // More than one round of the old batch (20): the rest waited for the stalled endpoint.
        for (let i = 0; i < 25; i++) await owe(other.url);
        const cron = fetch(`${stack.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('* * * * *')}`);
        await other.waitFor(25, 15_000);
        // All of them while the stalled endpoint's attempt is still in flight, not yet given up on.
        expect(stalled.received).toHaveLength(1);
        expect(stalled.answered).toBe(0);
        const log = (await (await deliveries(held.id)).json()) as { deliveries: { attempts: unknown[] }[] };
        expect(log.deliveries[0]!.attempts).toHaveLength(0);
        stalled.release();
        expect((await cron).status).toBe(200);
      } finally {
        stalled.stop();
        other.stop();
      }
    },
    60_000,
  );
});

describe('SSRF guard (development switch off)', () => {
  let strict: TestStack;
  let user: TestUser;
  beforeAll(async () => {
    strict = await startTestStack({
      env: { WEBHOOK_POLL_MS: '20', WEBHOOK_RETRY_BASE_MS: '20' },
      resolveHost: async (host) => {
        if (host === 'internal.example.test') return [{ address: '10.1.2.3', family: 4 }];
        if (host === 'metadata.example.test') return [{ address: '169.254.169.254', family: 4 }];
        if (host === 'mixed.example.test')
          return [
            { address: '93.184.216.34', family: 4 },
            { address: '127.0.0.1', family: 4 },
          ];
        const bad = /^bad-(\d+)\.example\.test\.?$/.exec(host);
        const address = bad ? RESOLVES_TO_BAD[Number(bad[1])] : undefined;
        if (address) return [{ address, family: address.includes(':') ? 6 : 4 }];
        throw new Error(`unexpected lookup of ${host}`);
      },
    });
    user = await strict.user('operator');
  }, 60_000);
  afterAll(() => strict.stop());

  test('loopback, private, link-local, metadata and non-https targets are refused when the call is placed', async () => {
    for (const url of [
      'https://127.0.0.1/hook',
      'https://10.0.0.1/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://localhost/hook',
      'https://[::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://0.0.0.0/hook',
      'https://user:pw@example.com/hook',
      'http://example.com/hook',
      'https://intranet/hook',
      // Numeric spellings of loopback, which URL parsing turns into 127.0.0.1.
      'https://2130706433/hook',
      'https://0x7f.1/hook',
      'https://127.1/hook',
      'https://127.0.0.1./hook',
      // Special names, with trailing dots and in capitals.
      'https://localhost./hook',
      'https://localhost../hook',
      'https://LOCALHOST./hook',
      'https://api.localhost./hook',
      'https://metadata.google.internal/computeMetadata/v1/',
      'https://printer.local/hook',
      'https://router.home.arpa/hook',
      'https://./hook',
      'https://a..example.com/hook',
      // IPv6 forms that carry a loopback, private or metadata IPv4 address.
      'https://[::ffff:0:7f00:1]/hook',
      'https://[::ffff:0:127.0.0.1]/hook',
      'https://[::ffff:0:a9fe:a9fe]/hook',
      'https://[::ffff:0:10.0.0.1]/hook',
      'https://[::127.0.0.1]/hook',
      'https://[64:ff9b::a9fe:a9fe]/hook',
      'https://[64:ff9b::10.0.0.1]/hook',
      'https://[64:ff9b:1::808:808]/hook',
      'https://[2002:a9fe:a9fe::1]/hook',
      'https://[2002:c0a8:101::1]/hook',
      'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook',
      'https://[2001:0:a00:1::f7f7:f7f7]/hook',
      // Other special addresses: cloud metadata, CGNAT, unique local, link-local, multicast, documentation.
      'https://[fd00:ec2::254]/latest/meta-data',
      'https://100.100.100.200/latest/meta-data',
      'https://100.64.0.1/hook',
      'https://[fe80::1]/hook',
      'https://[ff02::1]/hook',
      'https://224.0.0.1/hook',
      'https://255.255.255.255/hook',
      'https://192.0.2.1/hook',
      'https://[2001:db8::1]/hook',
      // Ports outside WEBHOOK_ALLOWED_PORTS (443 by default).
      'https://example.com:8443/hook',
      'https://example.com:22/hook',
      'https://example.com:80/hook',
      'https://93.184.216.34:6379/hook',
      'https://[2606:4700:4700::1111]:8080/hook',
    ]) {
      const res = await strict.request('http', '/api/v2/calls', {
        token: user.token,
        json: { phone_number: '5551234000', status_callback: url },
      });
      const problem = await expectProblem(res, 422, 'validation_error');
      expect({ url, path: problem.errors?.[0]?.path }).toEqual({ url, path: 'body.status_callback' });
    }
    expect(strict.sidecar.originates).toHaveLength(0);
  });

  test('public names and addresses on an allowed port are accepted, a trailing dot and :443 included', async () => {
    for (const url of [
      'https://example.com/hook',
      'https://example.com./hook',
      'https://EXAMPLE.com:443/hook',
      'https://93.184.216.34/hook',
      'https://[2606:4700:4700::1111]/hook',
      'https://[::ffff:8.8.8.8]/hook',
    ]) {
      const res = await strict.request('http', '/api/v2/calls', {
        token: user.token,
        // Only a final status would be sent, and none comes: nothing is delivered.
        json: { phone_number: '5551234000', status_callback: url, status_callback_events: ['completed'] },
      });
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
    }
  });

  test('a name that resolves to a private or metadata address is refused at delivery, and not retried', async () => {
    const hosts = [
      'internal.example.test',
      'metadata.example.test',
      'mixed.example.test',
      ...RESOLVES_TO_BAD.map((_, i) => `bad-${i}.example.test`),
      'bad-0.example.test.',
    ];
    // All placed at once: each is refused on its own, whatever the others do.
    const placed = await Promise.all(
      hosts.map(async (host) => {
        const res = await strict.request('http', '/api/v2/calls', {
          token: user.token,
          json: {
            phone_number: '5551234000',
            status_callback: `https://${host}/hook`,
            status_callback_events: ['pending'],
          },
        });
        expect(res.status).toBe(200);
        return { host, id: ((await res.json()) as { call_id: string }).call_id };
      }),
    );
    const deadline = Date.now() + 10_000;
    for (const { host, id } of placed) {
      let log: { deliveries: { state: string; attempts: { error: string }[] }[] } = { deliveries: [] };
      while (Date.now() < deadline) {
        log = (await (
          await strict.request('http', `/api/v2/calls/${id}/webhooks`, { token: user.token })
        ).json()) as typeof log;
        if (log.deliveries[0]?.state === 'failed') break;
        await Bun.sleep(20);
      }
      expect({ host, state: log.deliveries[0]!.state }).toEqual({ host, state: 'failed' });
      expect(log.deliveries[0]!.attempts).toHaveLength(1);
      expect(log.deliveries[0]!.attempts[0]!.error).toContain('refused');
    }
  });
});

describe('a slow endpoint', () => {
  let iso: TestStack;
  let user: TestUser;
  beforeAll(async () => {
    iso = await startTestStack({
      env: {
        WEBHOOK_ALLOW_LOOPBACK: 'true',
        WEBHOOK_POLL_MS: '20',
        // Longer than the test holds the stalled endpoint: its attempts stay in flight throughout.
        WEBHOOK_TIMEOUT_MS: '30000',
        WEBHOOK_CONCURRENCY: '8',
        WEBHOOK_ENDPOINT_CONCURRENCY: '2',
      },
    });
    user = await iso.user('operator');
  }, 60_000);
  afterAll(() => iso.stop());

  const placeFor = async (url: string, events: string[]) => {
    const res = await iso.request('http', '/api/v2/calls', {
      token: user.token,
      json: { phone_number: '5551234000', status_callback: url, status_callback_events: events },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { call_id: string }).call_id;
  };

  test("an endpoint that stalls holds up no other endpoint's deliveries", async () => {
    const stalled = startWebhookReceiver();
    const others = [startWebhookReceiver(), startWebhookReceiver()];
    stalled.stall();
    try {
      for (let i = 0; i < 3; i++) await placeFor(stalled.url, ['pending']);
      await stalled.waitFor(1);
      // Meanwhile other endpoints get every status of their calls, in order, while it is still stalled.
      const ids: string[][] = [[], []];
      for (let i = 0; i < 5; i++) {
        for (const [n, receiver] of others.entries()) {
          const id = await placeFor(receiver.url, ['pending', 'ringing', 'answered']);
          ids[n]!.push(id);
          await iso.sidecar.sendEvents(iso.url, [
            ev(id, 'ringing', 'ringing'),
            ev(id, 'answered', 'answered'),
          ]);
        }
      }
      for (const receiver of others) await receiver.waitFor(15, 15_000);
      expect(stalled.answered).toBe(0);
      for (const [n, receiver] of others.entries()) {
        const byCall = new Map<string, string[]>();
        for (const hook of receiver.received) {
          const p = JSON.parse(hook.body) as Payload;
          byCall.set(p.call.call_id, [...(byCall.get(p.call.call_id) ?? []), p.call.status]);
        }
        expect(new Set(byCall.keys())).toEqual(new Set(ids[n]));
        for (const statuses of byCall.values()) expect(statuses).toEqual(['pending', 'ringing', 'answered']);
      }
      stalled.release();
      await stalled.waitFor(3, 15_000);
    } finally {
      stalled.stop();
      for (const receiver of others) receiver.stop();
    }
  }, 60_000);

  test('an endpoint gets at most WEBHOOK_ENDPOINT_CONCURRENCY attempts at once, however many calls report to it', async () => {
    const stalled = startWebhookReceiver();
    stalled.stall();
    try {
      await Promise.all(Array.from({ length: 6 }, () => placeFor(stalled.url, ['pending'])));
      await stalled.waitFor(2);
      await Bun.sleep(200);
      expect(stalled.received).toHaveLength(2);
      // Once it answers, the endpoint gets the rest, never more than two at a time.
      stalled.release();
      await stalled.waitFor(6, 15_000);
      expect(stalled.maxInFlight).toBe(2);
    } finally {
      stalled.stop();
    }
  }, 60_000);
});
