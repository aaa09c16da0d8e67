import { expect, test } from 'bun:test';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import { eventLogProblem } from '../harness/checks.ts';
import { type CallEventBody, startE2EStack } from '../harness/e2e.ts';

/**
 * `kill -9` of the sidecar process in the middle of flows, then a restart on the same data
 * directory: every call's flow ends (interrupted, or finished if it was resumed), every call
 * reaches a final status long before its callee would have hung up, no channel is left at the
 * PBX, and no step's answer is recorded twice.
 */

test('kill -9 mid-flow: every flow ends, no callee left in silence, no answer twice', async () => {
  // Half speed: the silent callees (+1555776…) stay 30 s, and so do the ones who press keys first.
  const sim = await startAriSimulator({ port: 0, timeScale: 0.5 });
  const stack = await startE2EStack({
    ari: sim,
    sidecarMode: 'process',
    sidecar: { reconcileIntervalMs: 1000 },
  });
  try {
    const op = await stack.user('operator');
    const silent = [
      { verb: 'set', name: 'before', value: 'yes' },
      { id: 'wait', verb: 'gather', name: 'never', timeout_ms: 60_000 },
      { verb: 'hangup' },
    ];
    // Presses 1, 2, 3, # at 1 s: the first gather answers, the second waits in silence.
    const pressing = [
      { id: 'code', verb: 'gather', name: 'code', max_digits: 4, finish_on_key: '#', timeout_ms: 10_000 },
      { id: 'wait', verb: 'gather', name: 'never', timeout_ms: 60_000 },
      { verb: 'hangup' },
    ];
    const bodies = [
      ...Array.from({ length: 6 }, (_, i) => ({ phone_number: `+1555776${i}`, flow: silent })),
      ...Array.from({ length: 3 }, () => ({ phone_number: '+1555777123', flow: pressing })),
    ];
    const replies = await Promise.all(bodies.map((b) => stack.placeCall(op, b)));
    for (const r of replies) expect([r.status, r.body.status]).toEqual([200, 'dialing']);
    const ids = replies.map((r) => r.body.call_id as string);

    // Every call is in its `wait` gather, and the API knows it.
    const inWait = (log: CallEventBody[]) =>
      log.some((e) => e.type === 'step_started' && e.flow?.step_id === 'wait');
    const deadline = Date.now() + 15_000;
    for (const id of ids) {
      while (!inWait(await stack.events(op, id))) {
        if (Date.now() > deadline) throw new Error(`call ${id} never reached its wait step`);
        await Bun.sleep(50);
      }
    }
    expect(sim.liveChannels()).toBe(ids.length * 2);

    await stack.sidecar.kill();
    await Bun.sleep(500);
    // Nobody hung the callees up meanwhile.
    expect(sim.liveChannels()).toBe(ids.length * 2);
    await stack.sidecar.start();

    // Well before the callees' own 30 s: the restarted sidecar ended them.
    const final = await stack.waitFinal(op, ids, 15_000);
    expect(sim.liveChannels()).toBe(0);
    for (const id of ids) {
      const call = final.get(id)!;
      const log = await stack.events(op, id);
      expect({ id, problem: eventLogProblem(log) }).toEqual({ id, problem: null });
      const ends = log.filter((e) => e.type === 'flow_ended');
      expect(ends).toHaveLength(1);
      if (call.flow!.outcome === 'interrupted') {
        expect(ends[0]!.reason).toBe('flow_interrupted');
        expect(call.flow).toMatchObject({ ended_at_step: { index: 1, id: 'wait' } });
      } else expect(call.flow!.outcome).toBe('finished');

      // Each step started once and finished once, in order; each answer recorded by one step_finished.
      const runs = (type: string) => log.filter((e) => e.type === type).map((e) => e.flow!.run);
      expect({ id, finished: runs('step_finished') }).toEqual({ id, finished: runs('step_started') });
      expect(new Set(runs('step_started')).size).toBe(runs('step_started').length);
      const answers = log.flatMap((e) =>
        e.type === 'step_finished' && e.flow?.answer ? [e.flow.answer] : [],
      );
      expect(new Set(answers.map((a) => a.name)).size).toBe(answers.length);
      expect(call.answers).toEqual(Object.fromEntries(answers.map((a) => [a.name, a.value])));
    }
    for (const [i, body] of bodies.entries()) {
      const want: Record<string, string> = body.flow === silent ? { before: 'yes' } : { code: '123' };
      expect(final.get(ids[i]!)!.answers).toEqual(want);
    }
    for (const id of ids) expect(sim.originates.filter((o) => o.channelId === id).length).toBe(1);
    const status = await stack.sidecar.status();
    expect([status.live_calls, status.queued_calls, status.outbox_depth]).toEqual([0, 0, 0]);
  } finally {
    await stack.stop();
    await sim.stop();
  }
}, 60_000);
