import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { eq } from 'drizzle-orm';
import { CallEventSchema, CallSchema, LegacyCallSchema } from '../../api/calls/bodies.ts';
import {
  type CallEventInput,
  EventBatchAck,
  type FlowEventDetail,
  recordingName,
} from '../../api/shared/contract/index.ts';
import { callRecordings, calls } from '../../db/schema.ts';
import { readSse } from '../harness/sse.ts';
import {
  expectProblem,
  MODES,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';
import { startWebhookReceiver } from '../harness/webhook-receiver.ts';

/**
 * A sidecar's flow events through the API: recorded once each in the call's log with their step,
 * folded into the call's answers, answered_by and flow end, never moving the status; on the live
 * stream and, when asked for, in call.flow webhooks.
 */

let stack: TestStack;
let op: TestUser;

beforeAll(async () => {
  stack = await startTestStack({ env: { WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_POLL_MS: '20' } });
  op = await stack.user('operator');
}, 60_000);
afterAll(() => stack.stop());

const FLOW = [
  { verb: 'amd' },
  { id: 'ask', verb: 'gather', name: 'choice', prompt: ['sound:please-press-1'], max_digits: 1 },
  { verb: 'branch', on: 'choice', cases: { '1': 'msg' }, default: 'bye' },
  { id: 'msg', verb: 'record', name: 'message', max_seconds: 30 },
  { id: 'bye', verb: 'hangup' },
];

/** A call placed through the API and given a flow, as POST /api/v2/calls with `flow` stores it. */
async function callWithFlow(body: Record<string, unknown> = {}): Promise<string> {
  const res = await stack.request('http', '/api/v2/calls', {
    token: op.token,
    json: { phone_number: '5551234000', ...body },
  });
  expect(res.status).toBe(200);
  const id = ((await res.json()) as { call_id: string }).call_id;
  await stack.database.db.update(calls).set({ flow: FLOW }).where(eq(calls.id, id));
  return id;
}

let seq = 100;
function milestone(
  callId: string,
  type: 'answered' | 'ended',
  status: 'answered' | 'completed',
): CallEventInput {
  return {
    event_id: `${callId}:${type}`,
    call_id: callId,
    seq: ++seq,
    type,
    status,
    occurred_at: new Date().toISOString(),
    ...(type === 'ended' ? { reason: 'normal', hangup_cause: 16, hangup_cause_txt: 'Normal Clearing' } : {}),
  };
}

function flowEvent(
  callId: string,
  type: 'step_started' | 'step_finished' | 'flow_ended',
  flow: Omit<FlowEventDetail, 'segment'> & { segment?: number },
): CallEventInput {
  return {
    event_id: `${callId}:${type}:${flow.run}`,
    call_id: callId,
    seq: ++seq,
    type,
    // What the sidecar believed the status was; a flow event moves nothing whatever it says.
    status: 'completed',
    occurred_at: new Date().toISOString(),
    flow,
  };
}

/** The example's run: amd (human), gather "1", branch, record, hang-up; then the call ends. */
function story(id: string): CallEventInput[] {
  const step = (run: number, step: number, step_id: string | null, verb: FlowEventDetail['verb']) => ({
    run,
    segment: 0,
    step,
    step_id,
    verb,
  });
  return [
    milestone(id, 'answered', 'answered'),
    flowEvent(id, 'step_started', step(1, 0, null, 'amd')),
    flowEvent(id, 'step_finished', { ...step(1, 0, null, 'amd'), answered_by: 'human' }),
    flowEvent(id, 'step_started', step(2, 1, 'ask', 'gather')),
    flowEvent(id, 'step_finished', {
      ...step(2, 1, 'ask', 'gather'),
      answer: { name: 'choice', value: '1' },
    }),
    flowEvent(id, 'step_started', step(3, 2, null, 'branch')),
    flowEvent(id, 'step_finished', step(3, 2, null, 'branch')),
    flowEvent(id, 'step_started', step(4, 3, 'msg', 'record')),
    flowEvent(id, 'step_finished', {
      ...step(4, 3, 'msg', 'record'),
      answer: { name: 'message', value: { recording: recordingName(id, 'message', 4), duration_ms: 4210 } },
    }),
    flowEvent(id, 'step_started', step(5, 4, 'bye', 'hangup')),
    flowEvent(id, 'flow_ended', { ...step(5, 4, 'bye', 'hangup'), outcome: 'finished', detail: 'hung up' }),
    milestone(id, 'ended', 'completed'),
  ];
}

async function send(events: CallEventInput[]) {
  const res = await stack.sidecar.sendEvents(stack.url, events);
  expect(res.status).toBe(200);
  return EventBatchAck.parse(await res.json());
}

async function getCall(id: string, mode: (typeof MODES)[number] = 'http') {
  const res = await stack.request(mode, `/api/v2/calls/${id}`, { token: op.token });
  expect(res.status).toBe(200);
  return CallSchema.parse(await res.json());
}

async function eventLog(id: string) {
  const res = await stack.request('http', `/api/v2/calls/${id}/events`, { token: op.token });
  return ((await res.json()) as { events: unknown[] }).events.map((e) => CallEventSchema.parse(e));
}

describe('flow events from the sidecar', () => {
  test('a flow run lands in the call: answers, answered_by, the flow end, each step in the log', async () => {
    const id = await callWithFlow();
    const ack = await send(story(id));
    expect(ack.results.every((r) => r.result === 'applied')).toBe(true);

    for (const mode of MODES) {
      const call = await getCall(id, mode);
      expect(call.status).toBe('completed');
      expect(call.answers).toEqual({
        choice: '1',
        message: { recording: recordingName(id, 'message', 4), duration_ms: 4210 },
      });
      expect(call.answered_by).toBe('human');
      expect(call.flow).toEqual({
        flow_id: null,
        flow_version: null,
        outcome: 'finished',
        ended_at_step: { index: 4, id: 'bye' },
        detail: 'hung up',
      });
    }

    const log = await eventLog(id);
    const flowEvents = log.filter((e) => e.flow !== null);
    expect(flowEvents.map((e) => [e.type, e.flow!.run])).toEqual([
      ['step_started', 1],
      ['step_finished', 1],
      ['step_started', 2],
      ['step_finished', 2],
      ['step_started', 3],
      ['step_finished', 3],
      ['step_started', 4],
      ['step_finished', 4],
      ['step_started', 5],
      ['flow_ended', 5],
    ]);
    // They never moved the status: each carries the one the call had.
    expect(flowEvents.every((e) => e.status === 'answered')).toBe(true);
    expect(flowEvents[3]!.flow!.answer).toEqual({ name: 'choice', value: '1' });
    expect(
      log.filter((e) => e.flow === null).every((e) => !['step_started', 'step_finished'].includes(e.type)),
    ).toBe(true);

    // The list shows the same; the replaced service's status routes keep their contract.
    const list = (await (
      await stack.request('http', '/api/v2/calls?limit=5', { token: op.token })
    ).json()) as {
      items: Array<{ call_id: string; answers: unknown }>;
    };
    expect(list.items.find((c) => c.call_id === id)?.answers).toEqual((await getCall(id)).answers);
    for (const path of [`/api/v2/status/${id}`, `/api/v2/interaction/${id}/status`]) {
      const legacy = (await (await stack.request('http', path, { token: op.token })).json()) as Record<
        string,
        unknown
      >;
      expect(LegacyCallSchema.strict().safeParse(legacy).success).toBe(true);
      expect('answers' in legacy || 'flow' in legacy || 'answered_by' in legacy).toBe(false);
    }
  });

  test('the same events again, reversed and resent under new ids after a restart, change nothing', async () => {
    const id = await callWithFlow();
    const events = story(id);
    await send(events);
    const before = { call: await getCall(id), log: await eventLog(id) };
    const again = await send([...events].reverse());
    expect(again.results.every((r) => r.result === 'duplicate')).toBe(true);
    const resent = await send(
      events.filter((e) => e.flow).map((e) => ({ ...e, event_id: `${e.event_id}:after-restart` })),
    );
    expect(resent.results.every((r) => r.result === 'duplicate')).toBe(true);
    const after = { call: await getCall(id), log: await eventLog(id) };
    expect({ ...after.call, updated_at: null }).toEqual({ ...before.call, updated_at: null });
    expect(after.log).toEqual(before.log);
  });

  test('in any order: flow events after the call ended are taken; the latest run of an answer name wins', async () => {
    const id = await callWithFlow();
    const events = story(id);
    const first = (run: number, value: string) =>
      flowEvent(id, 'step_finished', {
        run,
        step: 1,
        step_id: 'ask',
        verb: 'gather',
        answer: { name: 'choice', value },
      });
    // The call's end first; then a later run's answer of the same name; then the flow's events, newest
    // first, and a repeat of run 2 under another id.
    await send([events[0]!, events.at(-1)!]);
    await send([{ ...first(7, '2'), event_id: `${id}:run-7` }]);
    await send([...events.slice(1, -1)].reverse());
    await send([{ ...first(2, 'x'), event_id: `${id}:run-2-again` }]);
    const call = await getCall(id);
    expect(call.status).toBe('completed');
    expect(call.answers.choice).toBe('2');
    expect(call.answers.message).toEqual({ recording: recordingName(id, 'message', 4), duration_ms: 4210 });
    expect(call.flow?.outcome).toBe('finished');
  });

  test('the same batch posted 10 times at once records each event and each answer once', async () => {
    const id = await callWithFlow();
    const events = story(id);
    const acks = await Promise.all(Array.from({ length: 10 }, () => send(events)));
    for (let i = 0; i < events.length; i++) {
      const results = acks.map((a) => a.results[i]!.result);
      expect(results.filter((r) => r === 'applied')).toHaveLength(1);
    }
    const log = await eventLog(id);
    expect(log.map((e) => e.sequence)).toEqual(log.map((_, i) => i + 1));
    expect(log.filter((e) => e.flow?.answer?.name === 'choice')).toHaveLength(1);
    const rows = await stack.database.db.select().from(callRecordings).where(eq(callRecordings.callId, id));
    expect(rows.map((r) => [r.name, r.recording, r.sidecarId])).toEqual([
      ['message', recordingName(id, 'message', 4), stack.sidecar.id],
    ]);
  });

  test("a flow event for a call that is not this sidecar's is unknown_call and changes nothing", async () => {
    const id = await callWithFlow();
    await stack.database.db.update(calls).set({ sidecarId: 'another-sidecar' }).where(eq(calls.id, id));
    const ack = await send(story(id).slice(1, 5));
    expect(ack.results.every((r) => r.result === 'unknown_call')).toBe(true);
    const call = await getCall(id);
    expect(call.answers).toEqual({});
    expect(call.answered_by).toBeNull();
    expect((await eventLog(id)).some((e) => e.flow)).toBe(false);
  });

  test('a flow event without its step, or a milestone with one, is refused naming the field, and changes nothing', async () => {
    const id = await callWithFlow();
    const events = story(id);
    const bad = [[events[0]!, { ...events[1]!, flow: null }], [{ ...events[0]!, flow: events[1]!.flow }]];
    for (const batch of bad) {
      const res = await stack.sidecar.sendEvents(stack.url, batch);
      const problem = await expectProblem(res, 422, 'validation_error');
      expect(problem.detail).toMatch(/body\.events\.\d\.flow/);
    }
    expect((await eventLog(id)).map((e) => e.type)).toEqual(['created', 'dialing']);
  });

  test('the live stream delivers flow events with their step', async () => {
    const id = await callWithFlow();
    const res = await fetch(`${stack.url}/api/v2/events?call_id=${id}`, { headers: op.auth });
    expect(res.status).toBe(200);
    const sse = readSse(res);
    try {
      await send(story(id).slice(0, 5));
      const frames = await sse.events(5, 5000);
      const events = frames.map((f) => CallEventSchema.parse(JSON.parse(f.data!)));
      expect(events.map((e) => e.type)).toEqual([
        'answered',
        'step_started',
        'step_finished',
        'step_started',
        'step_finished',
      ]);
      expect(events[2]!.flow).toMatchObject({ run: 1, verb: 'amd', answered_by: 'human' });
      expect(events[4]!.flow?.answer).toEqual({ name: 'choice', value: '1' });
    } finally {
      sse.close();
    }
  });

  test('call.flow webhooks only for the flow event types listed in status_callback_events', async () => {
    const receiver = startWebhookReceiver();
    try {
      const listed = await callWithFlow({
        status_callback: receiver.url,
        status_callback_events: ['completed', 'step_finished', 'flow_ended'],
      });
      const unlisted = await callWithFlow({ status_callback: receiver.url });
      await send(story(listed));
      await send(story(unlisted));
      // unlisted: pending, dialing, answered, completed; listed: completed, 4 step_finished, flow_ended.
      const hooks = await receiver.waitFor(10, 10_000);
      await Bun.sleep(300);
      expect(receiver.received).toHaveLength(10);
      const payloads = hooks.map(
        (h) =>
          JSON.parse(h.body) as {
            type: string;
            call: { call_id: string };
            event: { type: string; flow: unknown };
          },
      );
      const of = (id: string) => payloads.filter((p) => p.call.call_id === id);
      expect(of(unlisted).every((p) => p.type === 'call.status')).toBe(true);
      expect(
        of(listed)
          .map((p) => `${p.type} ${p.event.type}`)
          .sort(),
      ).toEqual(
        [
          'call.flow flow_ended',
          'call.flow step_finished',
          'call.flow step_finished',
          'call.flow step_finished',
          'call.flow step_finished',
          'call.status ended',
        ].sort(),
      );
      expect(of(listed).every((p) => p.type !== 'call.flow' || p.event.flow !== null)).toBe(true);
    } finally {
      receiver.stop();
    }
  });
});

describe('an optout step', () => {
  const optout = (id: string, run: number) => {
    const step = { run, segment: 0, step: 0, step_id: null, verb: 'optout' as const };
    return [flowEvent(id, 'step_started', step), flowEvent(id, 'step_finished', step)];
  };
  async function listed(phone: string) {
    const res = await stack.request('http', `/api/v2/dnc/numbers/${encodeURIComponent(phone)}`, {
      token: op.token,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  test("puts the callee's number on the do-not-call list once, in E.164, whatever is resent", async () => {
    // The call has the number as written, national: the list holds it in E.164.
    const id = await callWithFlow({ phone_number: '5551234077' });
    expect((await listed('+15551234077')).status).toBe(404);
    // A started optout step lists nothing: only its end does.
    await send([milestone(id, 'answered', 'answered'), optout(id, 1)[0]!]);
    expect((await listed('+15551234077')).status).toBe(404);

    const ack = await send(optout(id, 1));
    expect(ack.results.map((r) => r.result)).toEqual(['duplicate', 'applied']);
    const first = await listed('+15551234077');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      phone_number: '+15551234077',
      source: 'flow',
      note: `opted out during call ${id}`,
    });

    // The same end again, and under a new id after a restart: duplicates, the entry as it was.
    const again = optout(id, 1)[1]!;
    expect(
      (await send([again, { ...again, event_id: `${id}:restarted` }])).results.map((r) => r.result),
    ).toEqual(['duplicate', 'duplicate']);
    expect(await listed('+15551234077')).toEqual(first);

    // Another call to the number that opts out keeps the first entry (who listed it, when, why).
    const other = await callWithFlow({ phone_number: '+15551234077' });
    expect(
      (await send([milestone(other, 'answered', 'answered'), ...optout(other, 1)])).results.map(
        (r) => r.result,
      ),
    ).toEqual(['applied', 'applied', 'applied']);
    expect(await listed('+15551234077')).toEqual(first);
  });

  test('a call whose flow never reached an optout step leaves its number off the list', async () => {
    const id = await callWithFlow({ phone_number: '+15551234078' });
    await send(story(id));
    expect((await listed('+15551234078')).status).toBe(404);
  });
});
