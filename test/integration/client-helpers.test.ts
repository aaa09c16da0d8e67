import { afterAll, beforeAll, beforeEach, describe, expect } from 'bun:test';
import {
  type CallEvent,
  createOutdialClient,
  followCall,
  listCalls,
  listCampaignContacts,
  listUsers,
  type OutdialClient,
  placeCall,
  type StreamFrame,
  streamEvents,
  unwrap,
} from '../../api/client/index.ts';
import type { CallEventInput } from '../../api/shared/contract/index.ts';
import { startTestStack, type TestStack, type TestUser, test } from '../harness/stack.ts';

/**
 * The package's helpers for the long paths against the real API (api/client/pages.ts, calls.ts,
 * stream.ts): lists paged through to the end, each item once, in the order one big page gives; a
 * call placed twice with one Idempotency-Key rings once; a call followed on the live stream to its
 * end, whether it ends before or after the stream opens; the stream resumed after a cut with no gap
 * and no duplicate.
 */

let stack: TestStack;
let admin: TestUser;
let op: TestUser;

beforeAll(async () => {
  stack = await startTestStack({ env: { SSE_POLL_MS: '50' } });
  admin = await stack.user('admin');
  op = await stack.user('operator');
}, 60_000);
afterAll(() => stack.stop());
beforeEach(() => stack.sidecar.reset());

/** A client over HTTP that counts its requests and may rewrite answers. */
function countingClient(token: string, answer: (response: Response) => Response = (r) => r) {
  const requests: Request[] = [];
  const client = createOutdialClient({
    baseUrl: stack.url,
    token,
    fetch: async (request) => {
      requests.push(request.clone());
      return answer(await fetch(request));
    },
  });
  return { client, requests };
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function ev(callId: string, seq: number, type: CallEventInput['type'], status: CallEventInput['status']) {
  return {
    event_id: `${callId}:${type}`,
    call_id: callId,
    seq,
    type,
    status,
    occurred_at: new Date().toISOString(),
  } satisfies CallEventInput;
}

const finish = (id: string) => [
  ev(id, 1, 'ringing', 'ringing'),
  ev(id, 2, 'answered', 'answered'),
  { ...ev(id, 3, 'ended', 'completed'), reason: 'normal', hangup_cause: 16 },
];

async function placed(client: OutdialClient, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push((await placeCall(client, { phone_number: `+1555123400${i}` })).call.call_id);
  return ids;
}

describe('paging iterators', () => {
  test('listCalls pages through every call, newest first, each once', async () => {
    const user = await stack.user('operator');
    const ids = await placed(stack.client(user.token), 7);
    const { client, requests } = countingClient(user.token);
    const paged = await all(listCalls(client, { limit: 3 }));
    expect(paged.map((c) => c.call_id)).toEqual(ids.toReversed());
    expect(requests.length).toBe(3);
    expect(requests.map((r) => new URL(r.url).searchParams.has('cursor'))).toEqual([false, true, true]);
    // A filter goes with every page.
    const filtered = await all(listCalls(client, { limit: 2, phone_number: '+15551234003' }));
    expect(filtered.map((c) => c.call_id)).toEqual([ids[3]!]);
  });

  test('listUsers and listCampaignContacts give what one big page gives, in its order', async () => {
    const api = stack.client(admin.token);
    const big = unwrap(await api.GET('/api/v2/users', { params: { query: { limit: 100 } } }));
    expect(big.next_cursor).toBeNull();
    expect((await all(listUsers(api, { limit: 2 }))).map((u) => u.id)).toEqual(big.items.map((u) => u.id));

    const ops = stack.client(op.token);
    const campaign = unwrap(
      await ops.POST('/api/v2/campaigns', {
        body: {
          name: `paging ${crypto.randomUUID().slice(0, 8)}`,
          timezone: 'America/New_York',
          windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
        },
      }),
    );
    const numbers = Array.from({ length: 25 }, (_, i) => `+1202555${String(100 + i).padStart(4, '0')}`);
    const report = await ops.POST('/api/v2/campaigns/{campaign_id}/contacts', {
      params: { path: { campaign_id: campaign.campaign_id } },
      body: numbers.map((phone_number) => ({ phone_number })),
    });
    expect({ status: report.response.status, error: report.error }).toEqual({
      status: 200,
      error: undefined,
    });
    const contacts = await all(listCampaignContacts(ops, campaign.campaign_id, { limit: 10 }));
    expect(contacts.map((c) => c.phone_number)).toEqual(numbers);
  });

  test('break stops fetching', async () => {
    const user = await stack.user('operator');
    await placed(stack.client(user.token), 5);
    const { client, requests } = countingClient(user.token);
    for await (const _ of listCalls(client, { limit: 2 })) break;
    expect(requests.length).toBe(1);
  });
});

describe('placeCall', () => {
  test('one Idempotency-Key per call, made unless given; the same key again rings once', async () => {
    const api = stack.client(op.token);
    const a = await placeCall(api, { phone_number: '+15551234000' });
    const b = await placeCall(api, { phone_number: '+15551234000' });
    expect(a.idempotencyKey).not.toBe(b.idempotencyKey);
    expect(a.call.call_id).not.toBe(b.call.call_id);
    const again = await placeCall(
      api,
      { phone_number: '+15551234000' },
      { idempotencyKey: a.idempotencyKey },
    );
    expect(again.call.call_id).toBe(a.call.call_id);
    expect(stack.sidecar.originates.length).toBe(2);
  });

  test('a 503 (no sidecar could take the call) is retried with the same key, which the API released', async () => {
    const normal = stack.sidecar.originateBehaviour;
    stack.sidecar.originateBehaviour = 'http500';
    const answers: { status: number; key: string | null }[] = [];
    const client = createOutdialClient({
      baseUrl: stack.url,
      token: op.token,
      fetch: async (request) => {
        const key = request.headers.get('idempotency-key');
        const response = await fetch(request);
        answers.push({ status: response.status, key });
        // The sidecar is back for the retry.
        stack.sidecar.originateBehaviour = normal;
        return response;
      },
    });
    const { call, idempotencyKey } = await placeCall(client, { phone_number: '+15551234000' });
    expect(call.success).toBe(true);
    expect(answers).toEqual([
      { status: 503, key: idempotencyKey },
      { status: 200, key: idempotencyKey },
    ]);
  }, 20_000);
});

describe('followCall and streamEvents', () => {
  test('follows a call live to its end, and tells every event once, in order', async () => {
    const api = stack.client(op.token);
    const { call } = await placeCall(api, { phone_number: '+15551234000' });
    const seen: CallEvent[] = [];
    const following = followCall(api, call.call_id, { onEvent: (e) => seen.push(e) });
    await Bun.sleep(200);
    expect((await stack.sidecar.sendEvents(stack.url, finish(call.call_id))).status).toBe(200);
    const ended = await following;
    expect(ended).toMatchObject({ call_id: call.call_id, status: 'completed', reason: 'normal' });
    expect(seen.map((e) => e.sequence)).toEqual(seen.map((_, i) => i + 1));
    expect(seen.map((e) => e.status).slice(-3)).toEqual(['ringing', 'answered', 'completed']);
  });

  test('a call that ended before following began resolves at once, with its history', async () => {
    const api = stack.client(op.token);
    const { call } = await placeCall(api, { phone_number: '+15551234000' });
    expect((await stack.sidecar.sendEvents(stack.url, finish(call.call_id))).status).toBe(200);
    const seen: string[] = [];
    const ended = await followCall(api, call.call_id, { onEvent: (e) => seen.push(e.type) });
    expect(ended.status).toBe('completed');
    expect(seen.at(0)).toBe('created');
    expect(seen.at(-1)).toBe('ended');
  });

  test('a stream cut after its first call event resumes with Last-Event-ID: no gap, no duplicate', async () => {
    const user = await stack.user('operator');
    // Each stream's body is cut off right after the first call frame it carries.
    const cut = (response: Response) => {
      if (!response.headers.get('content-type')?.startsWith('text/event-stream') || !response.body)
        return response;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          text += decoder.decode(value, { stream: true });
          controller.enqueue(value);
          if (/event: call\n[\s\S]*?\n\n/.test(text)) {
            await reader.cancel();
            controller.error(new Error('cut'));
          }
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const { client, requests } = countingClient(user.token, cut);
    const ids = await placed(stack.client(user.token), 3);
    const stop = new AbortController();
    const frames: StreamFrame[] = [];
    // The id of the last call event delivered before each reconnection.
    const lastBeforeCut: (string | null)[] = [];
    const lastCall = () => frames.findLast((f) => f.event === 'call') as { id: string } | undefined;
    const reading = (async () => {
      for await (const frame of streamEvents(client, {
        signal: stop.signal,
        reconnectDelayMs: 1,
        lastEventId: '0',
        onReconnect: () => lastBeforeCut.push(lastCall()?.id ?? null),
      })) {
        frames.push(frame);
        if (frames.filter((f) => f.event === 'call').length === 15) stop.abort();
      }
    })();
    for (const id of ids) expect((await stack.sidecar.sendEvents(stack.url, finish(id))).status).toBe(200);
    await reading;
    const calls = frames.flatMap((f) => (f.event === 'call' ? [f] : []));
    // Five events per call (created, dialing, and the three sent), ids rising: nothing twice, nothing lost.
    const eventIds = calls.map((f) => Number(f.id));
    expect(eventIds).toEqual(eventIds.toSorted((a, b) => a - b));
    expect(new Set(eventIds).size).toBe(15);
    expect(frames.filter((f) => f.event === 'call').length).toBe(15);
    const sentIds = requests.map((r) => r.headers.get('last-event-id'));
    expect(sentIds[0]).toBe('0');
    expect(sentIds.length).toBeGreaterThan(1);
    expect(sentIds.slice(1)).toEqual(lastBeforeCut);
  });
});
