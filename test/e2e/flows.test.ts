import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { CallEventSchema } from '../../api/calls/bodies.ts';
import { FLOW_EXAMPLE } from '../../api/shared/contract/index.ts';
import { eventLogProblem, FINAL_STATUSES } from '../harness/checks.ts';
import { type CallBody, type CallEventBody, type E2EStack, startE2EStack } from '../harness/e2e.ts';
import { readSse } from '../harness/sse.ts';
import type { TestUser } from '../harness/stack.ts';
import { startWebhookReceiver } from '../harness/webhook-receiver.ts';

/**
 * Flows end to end: placed through the real API (inline or saved), run by the real sidecar against
 * the simulator's callees by number (asterisk/sim/README.md), and read back through the API: the
 * call's answers, answered_by and flow end, its event log, the live stream, webhooks, recordings,
 * and a request step answered by a receiver of the client's own.
 */

let stack: E2EStack;
let op: TestUser;
/** What the client's request receiver answers, and what it got. */
let clientAnswer: (body: Record<string, unknown>) => unknown = () => ({ steps: [] });
const clientGot: Array<Record<string, unknown>> = [];
let client: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  client = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const body = (await req.json()) as Record<string, unknown>;
      clientGot.push(body);
      return Response.json(clientAnswer(body));
    },
  });
  // A quarter of real time: the silent callee stays 15 s, long enough for the example's two 5 s attempts.
  stack = await startE2EStack({
    sim: { timeScale: 0.25 },
    apiEnv: { WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_POLL_MS: '20' },
  });
  op = await stack.user('operator');
}, 60_000);
afterAll(async () => {
  await stack.stop();
  client.stop(true);
});

/** Places a call through the API; its id. */
async function place(body: Record<string, unknown>): Promise<string> {
  const res = await stack.placeCall(op, body);
  expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { success: true } });
  return res.body.call_id as string;
}

/** Waits until the call is final and its flow ended; the call and its event log. */
async function settled(id: string, timeoutMs = 30_000): Promise<{ call: CallBody; log: CallEventBody[] }> {
  const call = await stack.waitCall(
    op,
    id,
    (c) => FINAL_STATUSES.has(c.status) && c.flow?.outcome != null,
    timeoutMs,
    'the call final with its flow ended',
  );
  const log = await stack.events(op, id);
  expect({ id, problem: eventLogProblem(log) }).toEqual({ id, problem: null });
  return { call, log };
}

const flowEvents = (log: CallEventBody[]) => log.filter((e) => e.flow !== null);
const finished = (log: CallEventBody[]) => log.filter((e) => e.type === 'step_finished').map((e) => e.flow!);

/** Every step started then finished before the next, runs 1..n, one flow_ended last of the flow's events. */
function expectWellFormedFlow(log: CallEventBody[]): void {
  const events = flowEvents(log);
  const ends = events.filter((e) => e.type === 'flow_ended');
  expect(ends).toHaveLength(1);
  expect(events.at(-1)!.type).toBe('flow_ended');
  const steps = events.slice(0, -1);
  expect(steps.map((e) => e.type)).toEqual(steps.map((_, i) => (i % 2 ? 'step_finished' : 'step_started')));
  expect(steps.map((e) => e.flow!.run)).toEqual(steps.map((_, i) => Math.floor(i / 2) + 1));
  for (let i = 0; i < steps.length; i += 2) {
    const [a, b] = [steps[i]!.flow!, steps[i + 1]!.flow!];
    expect([b.segment, b.step, b.step_id, b.verb]).toEqual([a.segment, a.step, a.step_id, a.verb]);
  }
  // The flow's events come after the answer and before the call's end.
  const at = (type: string) => log.findIndex((e) => e.type === type);
  expect(at('answered')).toBeLessThan(log.indexOf(events[0]!));
  expect(log.indexOf(ends[0]!)).toBeLessThan(at('ended'));
}

describe('the issue example', () => {
  test('+15557771: choice "1", the message recorded and downloadable, every step in the log and on the stream', async () => {
    const stream = await fetch(`${stack.apiUrl}/api/v2/events`, { headers: op.auth });
    expect(stream.status).toBe(200);
    const sse = readSse(stream);
    const hooks = startWebhookReceiver();
    try {
      const id = await place({
        phone_number: '+15557771',
        flow: FLOW_EXAMPLE,
        status_callback: hooks.url,
        status_callback_events: ['completed', 'step_finished', 'flow_ended'],
      });
      const { call, log } = await settled(id);
      expect(call.status).toBe('completed');
      expect(call.answers.choice).toBe('1');
      const message = call.answers.message as { recording: string; duration_ms: number };
      expect(message).toEqual({ recording: expect.any(String), duration_ms: expect.any(Number) });
      // ARI reports whole seconds: the callee pressed # at once, so the length may be 0.
      expect(message.duration_ms % 1000).toBe(0);
      expect(call.flow).toEqual({
        flow_id: null,
        flow_version: null,
        outcome: 'finished',
        ended_at_step: { index: 4, id: 'bye' },
        detail: expect.any(String),
      });

      expectWellFormedFlow(log);
      expect(finished(log).map((s) => [s.step, s.verb])).toEqual([
        [0, 'play'],
        [1, 'gather'],
        [2, 'branch'],
        [3, 'record'],
        [4, 'hangup'],
      ]);
      expect(finished(log)[1]!.answer).toEqual({ name: 'choice', value: '1' });
      expect(finished(log)[3]!.answer).toEqual({ name: 'message', value: message });
      expect(flowEvents(log).at(-1)!.flow).toMatchObject({ outcome: 'finished', step_id: 'bye' });

      const list = await stack.request(`/api/v2/calls/${id}/recordings`, { token: op.token });
      expect(list.status).toBe(200);
      const { recordings } = (await list.json()) as { recordings: Array<Record<string, unknown>> };
      expect(recordings).toHaveLength(1);
      expect(recordings[0]).toMatchObject({
        name: 'message',
        recording: message.recording,
        duration_ms: message.duration_ms,
        format: 'wav',
      });
      const audio = await stack.request(`/api/v2/calls/${id}/recordings/message`, { token: op.token });
      expect(audio.status).toBe(200);
      expect(audio.headers.get('content-type')).toBe('audio/wav');
      const bytes = new Uint8Array(await audio.arrayBuffer());
      const text = (from: number, to: number) => new TextDecoder().decode(bytes.slice(from, to));
      expect([text(0, 4), text(8, 12)]).toEqual(['RIFF', 'WAVE']);
      // The RIFF size is the file's: a whole file, not a part.
      expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(bytes.length - 8);

      // The live stream carried the same flow events, in the same order.
      const streamed: CallEventBody[] = [];
      while (!streamed.some((e) => e.type === 'ended')) {
        const [frame] = await sse.events(1, 10_000);
        const event = CallEventSchema.parse(JSON.parse(frame!.data!));
        if (event.call_id === id) streamed.push(event);
      }
      expect(flowEvents(streamed).map((e) => e.id)).toEqual(flowEvents(log).map((e) => e.id));

      // And the webhooks: one call.flow per step_finished and the flow_ended.
      await hooks.waitFor(7, 10_000);
      const payloads = hooks.received.map(
        (h) => JSON.parse(h.body) as { type: string; event: { type: string; flow: unknown } },
      );
      const flowHooks = payloads.filter((p) => p.type === 'call.flow').map((p) => p.event.type);
      expect(flowHooks).toEqual([...Array(5).fill('step_finished'), 'flow_ended']);
    } finally {
      sse.close();
      hooks.stop();
    }
  }, 40_000);

  test('+15557760 stays silent: after both attempts the default branch, no choice, finished', async () => {
    const id = await place({ phone_number: '+15557760', flow: FLOW_EXAMPLE });
    const { call, log } = await settled(id);
    expectWellFormedFlow(log);
    expect(call.answers).toEqual({});
    expect(finished(log).map((s) => s.verb)).toEqual(['play', 'gather', 'branch', 'hangup']);
    expect(finished(log)[1]!.detail).toBe('no input after 2 attempt(s)');
    expect(call.flow).toMatchObject({ outcome: 'finished', ended_at_step: { index: 4, id: 'bye' } });
    const list = await stack.request(`/api/v2/calls/${id}/recordings`, { token: op.token });
    expect(((await list.json()) as { recordings: unknown[] }).recordings).toEqual([]);
  }, 40_000);
});

describe('amd', () => {
  test('+15557785 is a machine and +15557781 a person: answered_by on the call, the branch follows it', async () => {
    const flow = [
      { verb: 'amd' },
      { verb: 'branch', on: 'answered_by', cases: { human: 'hi', machine: 'vm' } },
      { id: 'hi', verb: 'set', name: 'path', value: 'human' },
      { verb: 'hangup' },
      { id: 'vm', verb: 'set', name: 'path', value: 'machine' },
    ];
    const cases = [
      ['+15557785', 'machine'],
      ['+15557781', 'human'],
    ] as const;
    const ids = await Promise.all(cases.map(([phone]) => place({ phone_number: phone, flow })));
    for (const [i, [phone, verdict]] of cases.entries()) {
      const { call, log } = await settled(ids[i]!);
      expectWellFormedFlow(log);
      expect({ phone, by: call.answered_by, answers: call.answers }).toEqual({
        phone,
        by: verdict,
        answers: { path: verdict },
      });
      expect(finished(log)[0]).toMatchObject({ verb: 'amd', answered_by: verdict });
      expect(call.flow?.outcome).toBe('finished');
    }
  }, 40_000);
});

describe('a callee who hangs up', () => {
  test('+15557750: the flow ends callee_hangup at the step it was in, the call completed', async () => {
    const id = await place({
      phone_number: '+15557750',
      flow: [
        { verb: 'set', name: 'first', value: 'yes' },
        { id: 'wait', verb: 'gather', name: 'never', timeout_ms: 30_000 },
        { verb: 'hangup' },
      ],
    });
    const { call, log } = await settled(id);
    expectWellFormedFlow(log);
    expect(call.status).toBe('completed');
    expect(call.flow).toMatchObject({ outcome: 'callee_hangup', ended_at_step: { index: 1, id: 'wait' } });
    expect(call.flow!.detail).toContain('callee hung up');
    expect(call.answers).toEqual({ first: 'yes' });
    expect(finished(log).at(-1)).toMatchObject({ step_id: 'wait', verb: 'gather' });
  }, 40_000);
});

describe('a saved flow with a request step', () => {
  test('the answers go to the client’s URL, the steps it returns run, the call names the flow’s version', async () => {
    const created = await stack.request('/api/v2/flows', {
      token: op.token,
      json: {
        name: 'Dynamic',
        steps: [
          { id: 'ask', verb: 'gather', name: 'choice', max_digits: 1, timeout_ms: 5000 },
          { id: 'hook', verb: 'request', url: `http://127.0.0.1:${client.port}/ivr`, timeout_ms: 5000 },
          { verb: 'set', name: 'never', value: 'run' },
        ],
      },
    });
    expect(created.status).toBe(201);
    const { flow_id, version } = (await created.json()) as { flow_id: string; version: number };
    clientGot.length = 0;
    clientAnswer = (body) => ({
      steps: [
        { verb: 'set', name: 'from_client', value: `heard ${(body.answers as { choice: string }).choice}` },
        { verb: 'hangup' },
      ],
    });
    const id = await place({ phone_number: '+15557771', flow_id });
    const { call, log } = await settled(id);
    expectWellFormedFlow(log);
    expect(clientGot).toHaveLength(1);
    expect(clientGot[0]).toMatchObject({
      type: 'flow.request',
      call_id: id,
      step_id: 'hook',
      answers: { choice: '1' },
    });
    expect(call.answers).toEqual({ choice: '1', from_client: 'heard 1' });
    expect(call.flow).toMatchObject({ flow_id, flow_version: version, outcome: 'finished' });
    expect(finished(log).map((s) => [s.segment, s.step, s.verb])).toEqual([
      [0, 0, 'gather'],
      [0, 1, 'request'],
      [1, 0, 'set'],
      [1, 1, 'hangup'],
    ]);
  }, 40_000);
});

describe('barge-in', () => {
  test('a key during a long prompt stops it and counts: the answer is the digits pressed', async () => {
    // demo-congrats is 30 s, 7.5 s here; three of them, 22.5 s. The callee presses 4, 2, # at 0.5 s.
    const prompt = ['sound:demo-congrats', 'sound:demo-congrats', 'sound:demo-congrats'];
    const id = await place({
      phone_number: '+155577742',
      flow: [{ id: 'code', verb: 'gather', name: 'code', prompt, max_digits: 4, finish_on_key: '#' }],
    });
    const { call, log } = await settled(id);
    expectWellFormedFlow(log);
    expect(call.answers).toEqual({ code: '42' });
    const [started, done] = log.filter((e) => e.type === 'step_started' || e.type === 'step_finished');
    expect(done!.flow).toMatchObject({
      step_id: 'code',
      detail: 'attempt 1, the prompt stopped by the first key',
    });
    // The step ended long before its prompt could have: the prompt was cut.
    expect(Date.parse(done!.time) - Date.parse(started!.time)).toBeLessThan(22_500);
  }, 40_000);
});

describe('generated flows through the API', () => {
  const ID = (i: number) => `s${i}`;
  const MEDIA = fc.constantFrom('sound:hello', 'sound:beep', 'sound:no-such-sound', 'digits:12', 'number:7');
  /** One step of each verb, as the contract shapes them; jumps go forward to ids that exist. */
  const stepArb = (i: number, n: number) => {
    const later = fc.integer({ min: i + 1, max: n }).map((j) => (j < n ? ID(j) : null));
    return fc
      .oneof(
        fc.array(MEDIA, { minLength: 1, maxLength: 2 }).map((media) => ({ verb: 'play', media })),
        fc.record(
          {
            verb: fc.constant('gather'),
            name: fc.constant(`g${i}`),
            prompt: fc.array(MEDIA, { minLength: 1, maxLength: 1 }),
            max_digits: fc.integer({ min: 1, max: 3 }),
            finish_on_key: fc.constant('#'),
            timeout_ms: fc.integer({ min: 500, max: 1000 }),
            attempts: fc.integer({ min: 1, max: 2 }),
          },
          { requiredKeys: ['verb', 'name', 'max_digits', 'timeout_ms', 'attempts'] },
        ),
        fc.record({
          verb: fc.constant('record'),
          name: fc.constant(`r${i}`),
          max_seconds: fc.integer({ min: 1, max: 2 }),
          finish_on_key: fc.constant('#'),
        }),
        fc.constant({ verb: 'set', name: `v${i}`, value: 'x' }),
        fc.constant({ verb: 'amd', total_analysis_time_ms: 2000 }),
        fc.constant({ verb: 'continue', context: 'outbound-ivr' }),
        fc.constant({ verb: 'request', url: `http://127.0.0.1:${client.port}/fuzz`, timeout_ms: 1000 }),
        later.map((to) => (to ? { verb: 'goto', to } : { verb: 'hangup' })),
        later.map((to) => ({ verb: 'branch', on: `g${Math.max(0, i - 1)}`, cases: to ? { '1': to } : {} })),
      )
      .map((step) => ({ id: ID(i), ...step }) as Record<string, unknown>);
  };
  /** What breaks a flow: each a way a client gets it wrong. */
  const MUTATIONS: Array<(steps: Array<Record<string, unknown>>, at: number) => unknown> = [
    (steps, at) => steps.map((s, i) => (i === at ? { ...s, id: 'not an id!' } : s)),
    (steps, at) => steps.map((s, i) => (i === at ? { ...s, id: steps[0]!.id } : s)),
    (steps, at) => [...steps.slice(0, at), { verb: 'goto', to: 'nowhere' }, ...steps.slice(at)],
    (steps, at) => steps.map((s, i) => (i === at ? { ...s, verb: 'dance' } : s)),
    (steps, at) => steps.map((s, i) => (i === at ? { ...s, volume: 11 } : s)),
    (steps, at) => [
      ...steps.slice(0, at),
      { id: 'spin', verb: 'set', name: 'x', value: '1' },
      { verb: 'goto', to: 'spin' },
    ],
    (steps, at) =>
      steps.map((s, i) => (i === at ? { verb: 'play', media: ['http://example.com/a.wav'] } : s)),
    (steps, at) => steps.map((s, i) => (i === at ? { verb: 'continue', context: 'from-trunk' } : s)),
    (steps, at) => steps.map((s, i) => (i === at ? { verb: 'gather', name: 'g', max_digits: '3' } : s)),
    () => [],
    () => ({ verb: 'hangup' }),
  ];
  const flowArb = fc.integer({ min: 1, max: 5 }).chain((n) =>
    fc.tuple(...Array.from({ length: n }, (_, i) => stepArb(i, n))).chain((steps) =>
      fc.oneof(
        fc.constant(steps as unknown),
        fc
          .tuple(fc.integer({ min: 0, max: MUTATIONS.length - 1 }), fc.integer({ min: 0, max: n - 1 }))
          .map(([m, at]) => MUTATIONS[m]!(steps, at)),
      ),
    ),
  );
  // Callees that end quickly: hangs up after 0.75 s, presses 1 or 12 then #.
  const PHONE = fc.constantFrom('+15557750', '+155577751', '+15557771', '+155577712');

  test('each answer is a call or a problem naming the flow, never a 5xx; every call placed ends, its flow too', async () => {
    clientAnswer = () => ({ steps: [{ verb: 'set', name: 'from_client', value: 'y' }, { verb: 'hangup' }] });
    const cases = fc.sample(fc.tuple(PHONE, flowArb), { numRuns: 60, seed: 1414 });
    const placed: string[] = [];
    let refused = 0;
    for (const [i, [phone, flow]] of cases.entries()) {
      const res = await stack.request('/api/v2/calls', {
        token: op.token,
        json: { phone_number: phone, flow },
      });
      const label = { i, flow: JSON.stringify(flow), status: res.status };
      if (res.status === 200) {
        placed.push(((await res.json()) as { call_id: string }).call_id);
        continue;
      }
      refused += 1;
      expect({ ...label, type: res.headers.get('content-type') }).toEqual({
        ...label,
        type: expect.stringMatching(/^application\/problem\+json/),
      });
      expect(label.status === 400 || label.status === 422).toBe(true);
      const problem = (await res.json()) as { errors?: Array<{ pointer?: string }> };
      expect({ ...label, pointers: problem.errors?.map((e) => e.pointer ?? '') }).toEqual({
        ...label,
        pointers: expect.arrayContaining([expect.stringMatching(/^\/flow/)]),
      });
    }
    // Both kinds were generated.
    expect(placed.length).toBeGreaterThan(5);
    expect(refused).toBeGreaterThan(5);

    const final = await stack.waitFinal(op, placed, 45_000);
    for (const id of placed) {
      const call = final.get(id)!;
      const log = await stack.events(op, id);
      expect({ id, problem: eventLogProblem(log) }).toEqual({ id, problem: null });
      // Every callee here answers: each flow ran and ended once, every step it started finished.
      const ends = log.filter((e) => e.type === 'flow_ended');
      expect({ id, ends: ends.length, outcome: call.flow?.outcome ?? null }).toEqual({
        id,
        ends: 1,
        outcome: expect.any(String),
      });
      expectWellFormedFlow(log);
    }
  }, 90_000);
});
