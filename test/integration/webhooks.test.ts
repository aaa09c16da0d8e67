import { afterAll, beforeAll, describe, expect } from 'bun:test';
import type { CallEventInput } from '../../api/channel/index.ts';
import { verifyWebhook } from '../../api/webhooks/signature.ts';
import { expectProblem, startTestStack, type TestStack, type TestUser, test } from '../harness/stack.ts';
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
    ]) {
      const res = await strict.request('http', '/api/v2/calls', {
        token: user.token,
        json: { phone_number: '5551234000', status_callback: url },
      });
      const problem = await expectProblem(res, 422, 'validation_error');
      expect(problem.errors?.[0]?.path).toBe('body.status_callback');
    }
    expect(strict.sidecar.originates).toHaveLength(0);
  });

  test('a name that resolves to a private or metadata address is refused at delivery, and not retried', async () => {
    for (const host of ['internal.example.test', 'metadata.example.test', 'mixed.example.test']) {
      const res = await strict.request('http', '/api/v2/calls', {
        token: user.token,
        json: {
          phone_number: '5551234000',
          status_callback: `https://${host}/hook`,
          status_callback_events: ['pending'],
        },
      });
      expect(res.status).toBe(200);
      const id = ((await res.json()) as { call_id: string }).call_id;
      let log: { deliveries: { state: string; attempts: { error: string }[] }[] } = { deliveries: [] };
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        log = (await (
          await strict.request('http', `/api/v2/calls/${id}/webhooks`, { token: user.token })
        ).json()) as typeof log;
        if (log.deliveries[0]?.state === 'failed') break;
        await Bun.sleep(20);
      }
      expect(log.deliveries[0]!.state).toBe('failed');
      expect(log.deliveries[0]!.attempts).toHaveLength(1);
      expect(log.deliveries[0]!.attempts[0]!.error).toContain('refused');
    }
  });
});
