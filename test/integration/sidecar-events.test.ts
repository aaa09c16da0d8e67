import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { CallEventSchema, CallSchema } from '../../api/calls/bodies.ts';
import { generateSigningJwk, loadSigningKey } from '../../api/shared/base/keys.ts';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import {
  API_EVENTS_PATH,
  type CallEventInput,
  EventBatchAck,
  TYP_COMMAND,
} from '../../api/shared/contract/index.ts';
import { callStory, deliveries, storyEvents } from '../harness/call-story.ts';
import { timelineProblem } from '../harness/checks.ts';
import {
  expectProblem,
  MODES,
  type Mode,
  startTestStack,
  type TestStack,
  type TestUser,
} from '../harness/stack.ts';

let stack: TestStack;
let op: TestUser;

beforeAll(async () => {
  stack = await startTestStack();
  op = await stack.user('operator');
}, 60_000);
afterAll(() => stack.stop());
beforeEach(() => stack.sidecar.reset());

async function placeCall(mode: Mode = 'http'): Promise<string> {
  const res = await stack.request(mode, '/api/v2/calls', {
    token: op.token,
    json: { phone_number: '5551234000' },
  });
  return ((await res.json()) as { call_id: string }).call_id;
}

async function getCall(id: string, mode: Mode = 'http') {
  return CallSchema.parse(
    await (await stack.request(mode, `/api/v2/calls/${id}`, { token: op.token })).json(),
  );
}

async function timeline(id: string, mode: Mode = 'http') {
  const res = await stack.request(mode, `/api/v2/calls/${id}/events`, { token: op.token });
  const events = ((await res.json()) as { events: unknown[] }).events.map((e) => CallEventSchema.parse(e));
  return { call: await getCall(id, mode), events };
}

async function eventLog(id: string) {
  const res = await stack.request('http', `/api/v2/calls/${id}/events`, { token: op.token });
  return (
    (await res.json()) as { events: { sequence: number; type: string; status: string; source: string }[] }
  ).events;
}

let seq = 0;
function ev(
  callId: string,
  type: CallEventInput['type'],
  status: CallEventInput['status'],
  extra: Partial<CallEventInput> = {},
): CallEventInput {
  seq++;
  return {
    event_id: `${callId}:${type}`,
    call_id: callId,
    seq,
    type,
    status,
    occurred_at: new Date().toISOString(),
    ...extra,
  };
}

describe('event batches from the sidecar', () => {
  test('a signed batch moves the call through its statuses, in order, with its outcome', async () => {
    const id = await placeCall();
    const res = await stack.sidecar.sendEvents(stack.url, [
      ev(id, 'ringing', 'ringing', { dial_status: 'RINGING' }),
      ev(id, 'answered', 'answered', { dial_status: 'ANSWER' }),
      ev(id, 'ended', 'completed', {
        reason: 'normal',
        hangup_cause: 16,
        hangup_cause_txt: 'Normal Clearing',
        dial_status: 'ANSWER',
      }),
    ]);
    expect(res.status).toBe(200);
    const ack = EventBatchAck.parse(await res.json());
    expect(ack.results.map((r) => r.result)).toEqual(['applied', 'applied', 'applied']);
    const call = await getCall(id);
    expect(call).toMatchObject({
      status: 'completed',
      reason: 'normal',
      hangup_cause: 16,
      hangup_cause_txt: 'Normal Clearing',
      dial_status: 'ANSWER',
      is_completed: true,
      failure_reason: null,
    });
    expect(call.answered_at).not.toBeNull();
    expect(call.ended_at).not.toBeNull();
    expect(call.duration).toBeGreaterThanOrEqual(0);
    expect((await eventLog(id)).map((e) => [e.sequence, e.type, e.status])).toEqual([
      [1, 'created', 'pending'],
      [2, 'dialing', 'dialing'],
      [3, 'ringing', 'ringing'],
      [4, 'answered', 'answered'],
      [5, 'ended', 'completed'],
    ]);
  });

  test('applying a batch twice changes nothing; a late event never moves a finished call', async () => {
    const id = await placeCall();
    const batch = [
      ev(id, 'ringing', 'ringing'),
      ev(id, 'ended', 'busy', { reason: 'busy', hangup_cause: 17, dial_status: 'BUSY' }),
    ];
    const first = EventBatchAck.parse(
      await (await stack.sidecar.sendEvents(stack.url, batch, { batchId: 'b1' })).json(),
    );
    const second = EventBatchAck.parse(
      await (await stack.sidecar.sendEvents(stack.url, batch, { batchId: 'b1' })).json(),
    );
    expect(first.results.map((r) => r.result)).toEqual(['applied', 'applied']);
    expect(second.results.map((r) => r.result)).toEqual(['duplicate', 'duplicate']);
    const late = EventBatchAck.parse(
      await (
        await stack.sidecar.sendEvents(stack.url, [
          ev(id, 'answered', 'answered', { event_id: `${id}:late-answer` }),
        ])
      ).json(),
    );
    expect(late.results[0]!.result).toBe('stale');
    expect(await getCall(id)).toMatchObject({
      status: 'busy',
      reason: 'busy',
      hangup_cause: 17,
      answered_at: null,
    });
    expect(await eventLog(id)).toHaveLength(4);
  });

  test('a status never goes backwards', async () => {
    const id = await placeCall();
    await stack.sidecar.sendEvents(stack.url, [ev(id, 'answered', 'answered')]);
    const ack = EventBatchAck.parse(
      await (await stack.sidecar.sendEvents(stack.url, [ev(id, 'ringing', 'ringing')])).json(),
    );
    expect(ack.results[0]!.result).toBe('stale');
    expect((await getCall(id)).status).toBe('answered');
  });

  test('events for unknown calls are acknowledged as such and stored nowhere', async () => {
    const ghost = crypto.randomUUID();
    const ack = EventBatchAck.parse(
      await (await stack.sidecar.sendEvents(stack.url, [ev(ghost, 'ringing', 'ringing')])).json(),
    );
    expect(ack.results[0]!.result).toBe('unknown_call');
  });

  describe("the originate's answer and the sidecar's own batch", () => {
    // The sidecar sends the call's first events as ARI reports them, often before its answer to the
    // originate command; the API then answers from what that batch recorded.
    async function placeWith(before: (callId: string) => Promise<void>) {
      stack.sidecar.beforeDialingReply = (command) => before(command.call_id);
      const res = await stack.request('http', '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '5551234000' },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { call_id: string; status: string };
    }

    test('written before the answer: the answer says dialing, the call is as that batch left it, its milestones once', async () => {
      const answer = await placeWith(async (id) => {
        const res = await stack.sidecar.sendEvents(stack.url, [
          ev(id, 'dialing', 'dialing', { event_id: `${id}:sc-dialing` }),
          ev(id, 'ringing', 'ringing', { event_id: `${id}:sc-ringing` }),
        ]);
        expect(res.status).toBe(200);
      });
      // The originate's answer says what the originate did (the contract's `dialing`); a read shows
      // where the call's events took it.
      expect(answer.status).toBe('dialing');
      expect((await getCall(answer.call_id)).status).toBe('ringing');
      const log = await eventLog(answer.call_id);
      expect(log.map((e) => `${e.type}:${e.source}`)).toEqual([
        'created:api',
        `dialing:sidecar:${stack.sidecar.id}`,
        `ringing:sidecar:${stack.sidecar.id}`,
      ]);
    });

    test('ended before the answer (the callee was busy): the answer gives the final status', async () => {
      const answer = (await placeWith(async (id) => {
        const res = await stack.sidecar.sendEvents(stack.url, [
          ev(id, 'dialing', 'dialing', { event_id: `${id}:sc-dialing` }),
          ev(id, 'ended', 'busy', { reason: 'busy', hangup_cause: 17, dial_status: 'BUSY' }),
        ]);
        expect(res.status).toBe(200);
      })) as { call_id: string; status: string; success: boolean; message: string };
      expect([answer.status, answer.success, answer.message]).toEqual(['busy', true, 'Call already busy']);
      expect((await getCall(answer.call_id)).status).toBe('busy');
    });

    test('still being written as the answer comes: read right after, the call is at dialing or beyond', async () => {
      const sent: Promise<Response>[] = [];
      const answer = await placeWith(async (id) => {
        sent.push(
          stack.sidecar.sendEvents(stack.url, [
            ev(id, 'dialing', 'dialing', { event_id: `${id}:sc-dialing` }),
          ]),
        );
      });
      expect(answer.status).toBe('dialing');
      expect((await getCall(answer.call_id)).status).toBe('dialing');
      expect((await Promise.all(sent))[0]!.status).toBe(200);
      const log = await eventLog(answer.call_id);
      expect(log.map((e) => e.type)).toEqual(['created', 'dialing']);
    });

    test('refused (a forged signature): the API records the dialing itself', async () => {
      const stranger = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
      const answer = await placeWith(async (id) => {
        const res = await stack.sidecar.sendEvents(
          stack.url,
          [ev(id, 'dialing', 'dialing', { event_id: `${id}:sc-dialing` })],
          { key: stranger },
        );
        expect(res.status).toBe(401);
      });
      expect(answer.status).toBe('dialing');
      const log = await eventLog(answer.call_id);
      expect(log.map((e) => `${e.type}:${e.source}`)).toEqual(['created:api', 'dialing:api']);
    });
  });

  describe('refused batches change nothing', () => {
    async function expectRefused(res: Response, id: string, status = 401) {
      await expectProblem(res, status);
      expect((await getCall(id)).status).toBe('dialing');
      expect(await eventLog(id)).toHaveLength(2);
    }

    test('forged: signed by a key the API does not know', async () => {
      const id = await placeCall();
      const stranger = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
      await expectRefused(
        await stack.sidecar.sendEvents(stack.url, [ev(id, 'ended', 'failed')], { key: stranger }),
        id,
      );
    });

    test('forged: a known kid with another key, and an unknown sidecar', async () => {
      const id = await placeCall();
      const stranger = await loadSigningKey(
        JSON.stringify(await generateSigningJwk()),
        stack.sidecar.key.kid,
      );
      await expectRefused(
        await stack.sidecar.sendEvents(stack.url, [ev(id, 'ended', 'failed')], { key: stranger }),
        id,
      );
      await expectRefused(
        await stack.sidecar.sendEvents(stack.url, [ev(id, 'ended', 'failed')], {
          issuer: 'sidecar:other',
        }),
        id,
      );
    });

    test('replayed: the same signed request sent twice', async () => {
      const id = await placeCall();
      const body = JSON.stringify({
        sidecar_id: stack.sidecar.id,
        batch_id: 'r1',
        events: [ev(id, 'ringing', 'ringing')],
      });
      const token = await signChannelMessage({
        key: stack.sidecar.key,
        issuer: `sidecar:${stack.sidecar.id}`,
        audience: 'outdial',
        typ: 'outdial-events+jwt',
        method: 'POST',
        path: API_EVENTS_PATH,
        body,
      });
      const send = () =>
        fetch(`${stack.url}${API_EVENTS_PATH}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body,
        });
      expect((await send()).status).toBe(200);
      const replay = await send();
      await expectProblem(replay, 401, 'invalid_signature');
      expect(((await (await send()).json()) as { detail: string }).detail).toContain('replayed');
    });

    test('expired, and signed to live too long', async () => {
      const id = await placeCall();
      await expectRefused(
        await stack.sidecar.sendEvents(stack.url, [ev(id, 'ended', 'failed')], {
          now: new Date(Date.now() - 120_000),
        }),
        id,
      );
      await expectRefused(
        await stack.sidecar.sendEvents(stack.url, [ev(id, 'ended', 'failed')], { ttlSeconds: 3600 }),
        id,
      );
    });

    test('body tampered after signing', async () => {
      const id = await placeCall();
      const tampered = JSON.stringify({
        sidecar_id: stack.sidecar.id,
        batch_id: 't',
        events: [ev(id, 'ended', 'completed')],
      });
      await expectRefused(
        await stack.sidecar.sendEvents(stack.url, [ev(id, 'ringing', 'ringing')], {
          tamperedBody: tampered,
        }),
        id,
      );
    });

    test('a command token (another typ and audience) is not an event token', async () => {
      const id = await placeCall();
      const body = JSON.stringify({
        sidecar_id: stack.sidecar.id,
        batch_id: 'c',
        events: [ev(id, 'ended', 'failed')],
      });
      const token = await signChannelMessage({
        key: stack.keys.signing,
        issuer: 'outdial',
        audience: 'outdial',
        typ: TYP_COMMAND,
        method: 'POST',
        path: API_EVENTS_PATH,
        body,
      });
      await expectRefused(await stack.sidecar.sendEvents(stack.url, [], { token, tamperedBody: body }), id);
    });

    test('no signature, or a user access token', async () => {
      const id = await placeCall();
      const body = JSON.stringify({
        sidecar_id: stack.sidecar.id,
        batch_id: 'n',
        events: [ev(id, 'ended', 'failed')],
      });
      const plain = await fetch(`${stack.url}${API_EVENTS_PATH}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      await expectRefused(plain, id);
      await expectRefused(
        await stack.sidecar.sendEvents(stack.url, [], { token: op.token, tamperedBody: body }),
        id,
      );
    });

    test('a malformed batch is 422 and nothing of it is applied', async () => {
      const id = await placeCall();
      const res = await stack.sidecar.sendEvents(stack.url, [
        ev(id, 'ringing', 'ringing'),
        { ...ev(id, 'ended', 'completed'), status: 'exploded' as never },
      ]);
      await expectRefused(res, id, 422);
    });

    test('a sidecar cannot report on a call handed to another sidecar', async () => {
      const id = await placeCall();
      const otherKey = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
      const { upsertSidecar } = await import('../../db/queries/misc.ts');
      await upsertSidecar(stack.database.db, {
        id: 'other',
        url: 'http://127.0.0.1:1',
        publicKey: otherKey.publicJwk as JsonWebKey,
      });
      const body = JSON.stringify({
        sidecar_id: 'other',
        batch_id: 'o',
        events: [ev(id, 'ended', 'failed')],
      });
      const token = await signChannelMessage({
        key: otherKey,
        issuer: 'sidecar:other',
        audience: 'outdial',
        typ: 'outdial-events+jwt',
        method: 'POST',
        path: API_EVENTS_PATH,
        body,
      });
      const res = await stack.sidecar.sendEvents(stack.url, [], { token, tamperedBody: body });
      expect(res.status).toBe(200);
      expect(EventBatchAck.parse(await res.json()).results[0]!.result).toBe('unknown_call');
      expect((await getCall(id)).status).toBe('dialing');
    });
  });
});

/** `ms` after `base` (an ISO time), as ISO. */
const after = (base: string, ms: number) => new Date(Date.parse(base) + ms).toISOString();

for (const mode of MODES) {
  describe(`call times come from the sidecar's clock and stay in order (${mode})`, () => {
    test("with the sidecar's clock ahead of the API's, every time is the sidecar's, unchanged", async () => {
      stack.sidecar.clockSkewMs = 10 * 60_000;
      const id = await placeCall(mode);
      const dialed = stack.sidecar.dialedAt.get(id)!;
      const sent = [
        ev(id, 'ringing', 'ringing', { occurred_at: after(dialed, 40) }),
        ev(id, 'answered', 'answered', { occurred_at: after(dialed, 900) }),
        ev(id, 'ended', 'completed', { reason: 'normal', occurred_at: after(dialed, 5000) }),
      ];
      await stack.sidecar.sendEvents(stack.url, sent);
      const { call, events } = await timeline(id, mode);
      expect(call.dialed_at).toBe(dialed);
      expect(events.find((e) => e.type === 'ringing')!.time).toBe(sent[0]!.occurred_at);
      expect(call.answered_at).toBe(sent[1]!.occurred_at);
      expect(call.ended_at).toBe(sent[2]!.occurred_at);
      expect(timelineProblem(call, events)).toBeNull();
    });

    test("with the sidecar's clock behind the API's, the times are raised to keep their order", async () => {
      stack.sidecar.clockSkewMs = -10 * 60_000;
      const id = await placeCall(mode);
      const dialed = stack.sidecar.dialedAt.get(id)!;
      await stack.sidecar.sendEvents(stack.url, [
        ev(id, 'ringing', 'ringing', { occurred_at: after(dialed, 40) }),
        ev(id, 'answered', 'answered', { occurred_at: after(dialed, 900) }),
        ev(id, 'ended', 'completed', { reason: 'normal', occurred_at: after(dialed, 5000) }),
      ]);
      const { call, events } = await timeline(id, mode);
      expect(timelineProblem(call, events)).toBeNull();
      // Every time the sidecar reported is older than the call: each is raised to the creation.
      expect(call.dialed_at).toBe(call.created_at);
      expect(call.ended_at).toBe(call.created_at);
      expect(events.map((e) => e.time)).toEqual(events.map(() => call.created_at));
    });

    test('an originate reply that comes back after the call rang keeps the time the sidecar dialed', async () => {
      // The reply is held on the way back while the call rings, is answered and ends.
      stack.sidecar.replyDelayMs = 300;
      const before = stack.sidecar.dialedAt.size;
      const placing = placeCall(mode);
      const deadline = Date.now() + 5000;
      while (stack.sidecar.dialedAt.size === before && Date.now() < deadline) await Bun.sleep(10);
      const [id, dialed] = [...stack.sidecar.dialedAt.entries()].at(-1)!;
      const placed = await placing;
      expect(placed).toBe(id);
      await stack.sidecar.sendEvents(stack.url, [
        ev(id, 'ringing', 'ringing', { occurred_at: after(dialed, 20) }),
        ev(id, 'answered', 'answered', { occurred_at: after(dialed, 60) }),
        ev(id, 'ended', 'completed', { reason: 'normal', occurred_at: after(dialed, 90) }),
      ]);
      const { call, events } = await timeline(id, mode);
      expect(call.dialed_at).toBe(dialed);
      expect(call.answered_at).toBe(after(dialed, 60));
      expect(timelineProblem(call, events)).toBeNull();
    });
  });
}

describe('call times through the route, generated', () => {
  test("any order, batching, repeats and clock skew of a call's events: its times stay in order", async () => {
    await fc.assert(
      fc.asyncProperty(callStory(), async (story) => {
        stack.sidecar.reset();
        stack.sidecar.clockSkewMs = story.skewMs;
        stack.sidecar.originateBehaviour = story.reply ? 'dialing' : 'queued';
        const id = await placeCall();
        const dialed = stack.sidecar.dialedAt.get(id);
        // The sidecar's dialing event is the instant its reply reported.
        const base = dialed
          ? new Date(Date.parse(dialed) - story.skewMs - story.dialAfterMs)
          : new Date((await getCall(id)).created_at);
        const sent: CallEventInput[] = storyEvents(story, id, base, 'sidecar').map((e, i) => ({
          event_id: e.eventId,
          call_id: id,
          seq: i + 1,
          type: e.type as CallEventInput['type'],
          status: e.status!,
          occurred_at: e.occurredAt.toISOString(),
          reason: e.reason,
        }));
        for (const batch of deliveries(story, sent)) {
          expect((await stack.sidecar.sendEvents(stack.url, batch)).status).toBe(200);
        }
        const { call, events } = await timeline(id);
        expect(timelineProblem(call, events)).toBeNull();
        const times = events.filter((e) => e.type !== 'hangup_requested').map((e) => Date.parse(e.time));
        expect(times).toEqual([...times].sort((a, b) => a - b));
        expect(call.status).toBe(events.at(-1)!.status);
      }),
      { numRuns: 20 },
    );
  });
});
