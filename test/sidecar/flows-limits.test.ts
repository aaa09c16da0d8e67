import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { type CallEvent, Flow, type FlowStepInput } from '../../api/shared/contract/index.ts';
import { originateCommand } from '../harness/channel.ts';
import { type Stack, startStack } from './stack.ts';

/**
 * A flow's limits (steps run, time), and generated flows against the simulated callees: whatever
 * the steps, every call gets one flow_ended and one final status, in time.
 */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: {
      maxConcurrentCalls: 50,
      tuning: { flowMaxStepsRun: 6, flowMaxMs: 1500, flowPlaybackTimeoutMs: 1000, flowAmdMarginMs: 3000 },
    },
  });
});
afterAll(async () => {
  await stack.stop();
});

async function place(phone: string, flow: FlowStepInput[], on = stack): Promise<string> {
  const command = originateCommand(phone, { flow: Flow.parse(flow) });
  const reply = await on.signer.originate(command);
  expect((reply.json as { outcome: string }).outcome).toBe('dialing');
  return command.call_id;
}

async function settled(ids: string[], timeoutMs = 30_000, on = stack): Promise<Map<string, CallEvent[]>> {
  await on.api.waitFor(
    () =>
      ids.every(
        (id) => on.api.byCall(id).some((e) => e.type === 'flow_ended') && on.api.ended(id).length > 0,
      ),
    timeoutMs,
    'every flow and call ended',
  );
  return new Map(ids.map((id) => [id, on.api.byCall(id)]));
}

describe('limits', () => {
  test('a loop runs until the step limit: the flow ends `limit` and the call is hung up', async () => {
    const id = await place('+15557765', [
      { id: 'top', verb: 'set', name: 'x', value: '1' },
      { verb: 'goto', to: 'top' },
    ]);
    const events = (await settled([id])).get(id)!;
    const end = events.find((e) => e.type === 'flow_ended')!;
    expect(end.flow).toMatchObject({ outcome: 'limit', detail: 'the flow ran 6 steps' });
    expect(events.filter((e) => e.type === 'step_started')).toHaveLength(6);
    expect(events.at(-1)).toMatchObject({ type: 'ended', status: 'completed' });
  });

  test('a flow past its time: the step under way finishes, the flow ends `limit`', async () => {
    const id = await place('+15557765', [{ id: 'wait', verb: 'gather', name: 'd', timeout_ms: 30_000 }]);
    const events = (await settled([id])).get(id)!;
    const finished = events.filter((e) => e.type === 'step_finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]!.flow).toMatchObject({ step_id: 'wait', detail: 'the flow ran past 2 s' });
    expect(events.find((e) => e.type === 'flow_ended')!.flow).toMatchObject({ outcome: 'limit' });
    expect(events.at(-1)).toMatchObject({ type: 'ended', status: 'completed' });
  });
});

const MEDIA = fc.constantFrom(
  'sound:hello-world',
  'sound:beep',
  'sound:no-such-sound',
  'digits:12',
  'tone:ring',
);
const ID = (i: number) => `s${i}`;

/** A valid flow of n steps: jumps go forward only (so it cannot loop), to ids that exist. */
const flowArb = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc.tuple(
    ...Array.from({ length: n }, (_, i) => {
      const later = fc.integer({ min: i + 1, max: n }).map((j) => (j < n ? ID(j) : null));
      return fc
        .oneof(
          fc.array(MEDIA, { minLength: 1, maxLength: 2 }).map((media) => ({ verb: 'play', media })),
          fc.record({
            verb: fc.constant('gather'),
            name: fc.constant(`g${i}`),
            max_digits: fc.integer({ min: 1, max: 3 }),
            timeout_ms: fc.constant(500),
            attempts: fc.integer({ min: 1, max: 2 }),
          }),
          fc.record({ verb: fc.constant('record'), name: fc.constant(`r${i}`), max_seconds: fc.constant(1) }),
          fc.constant({ verb: 'set', name: `v${i}`, value: 'x' }),
          fc.constant({ verb: 'amd' }),
          later.map((to) => (to ? { verb: 'goto', to } : { verb: 'hangup' })),
          later.map((to) => ({ verb: 'branch', on: `g${Math.max(0, i - 1)}`, cases: to ? { '1': to } : {} })),
        )
        .map((step) => ({ id: ID(i), ...step }));
    }),
  ),
);
const PHONE = fc.constantFrom('+15557760', '+15557771', '+155577712', '+15557750', '+15557781', '+15557785');

describe('generated flows', () => {
  test('never leave a call stuck: one flow_ended, one final status, every step finished', async () => {
    // The limits of the real thing (only the playback wait is short: tone: never ends by itself).
    const own = await startStack({
      sharedSim: stack.sim,
      config: { tuning: { flowPlaybackTimeoutMs: 1000 } },
    });
    const cases = fc.sample(fc.tuple(PHONE, flowArb), { numRuns: 24, seed: 14 });
    const ids = await Promise.all(cases.map(([phone, flow]) => place(phone, flow as FlowStepInput[], own)));
    const byCall = await settled(ids, 60_000, own).finally(() => own.stop());
    for (const [i, id] of ids.entries()) {
      const events = byCall.get(id)!;
      const label = { i, phone: cases[i]![0] };
      expect({ ...label, ends: events.filter((e) => e.type === 'flow_ended').length }).toEqual({
        ...label,
        ends: 1,
      });
      expect({ ...label, ended: events.filter((e) => e.type === 'ended').length }).toEqual({
        ...label,
        ended: 1,
      });
      const started = events.filter((e) => e.type === 'step_started').map((e) => e.flow!.run);
      const finished = events.filter((e) => e.type === 'step_finished').map((e) => e.flow!.run);
      expect({ ...label, finished }).toEqual({ ...label, finished: started });
      expect(events.map((e) => e.seq)).toEqual(events.map((_, k) => k + 1));
    }
  }, 90_000);
});

describe('a graceful stop during a flow', () => {
  test('the flows stop where they are, writing nothing; the next start ends them interrupted and hangs up', async () => {
    // The silent callee stays 30 s here; the flows' time limit (1.5 s) passes while the sidecar is down.
    const own = await startStack({ sim: { timeScale: 0.5 }, config: { tuning: { flowMaxMs: 1500 } } });
    try {
      const flow: FlowStepInput[] = [
        { id: 'wait', verb: 'gather', name: 'digits', prompt: ['sound:demo-congrats'], timeout_ms: 30_000 },
        { verb: 'set', name: 'after', value: 'never' },
      ];
      const ids = await Promise.all([0, 1, 2].map(() => place('+15557769', flow, own)));
      const inGather = (id: string) => own.api.byCall(id).some((e) => e.type === 'step_started');
      await own.api.waitFor(() => ids.every(inGather), 10_000, 'every flow in its gather');
      await own.sidecar.stop();
      // Past the limit: a flow left running would now end itself on the closed store and throw.
      await Bun.sleep(2500);
      await own.restartSidecar();
      const byCall = await settled(ids, 15_000, own);
      for (const id of ids) {
        const events = byCall.get(id)!;
        const ends = events.filter((e) => e.type === 'flow_ended');
        expect(ends).toHaveLength(1);
        expect(ends[0]).toMatchObject({
          reason: 'flow_interrupted',
          flow: { outcome: 'interrupted', step_id: 'wait' },
        });
        expect(events.filter((e) => e.type === 'step_finished')).toHaveLength(1);
        expect(events.some((e) => e.flow?.answer)).toBe(false);
        expect(own.api.ended(id)[0]).toMatchObject({ status: 'completed', hangup_cause: 16 });
      }
    } finally {
      await own.stop();
    }
  }, 40_000);
});
