import { expect, test } from 'bun:test';
import { busiestWindow, eventLogProblem } from '../harness/checks.ts';
import { startE2EStack } from '../harness/e2e.ts';
import { startSimulatorProcess } from '../harness/sim-process.ts';

/**
 * 100 calls submitted through the API at once with ORIGINATE_CPS=10: the simulator never sees
 * more than 10 originates in any one-second window; the calls over the rate answer `pending`,
 * and every one of them is dialled in the end.
 *
 * The sidecar and the simulator run as their own processes, as they do beside a PBX: the API
 * working through 100 requests in this process must not delay the originates the sidecar sends,
 * nor the instant at which the simulator notes their arrival.
 */

test('100 calls at once with ORIGINATE_CPS=10: at most 10 originates in any second, the rest pending, all dialled', async () => {
  const sim = await startSimulatorProcess({ timeScale: 0.05 });
  const stack = await startE2EStack({
    ari: sim,
    sidecarMode: 'process',
    sidecar: { originateCps: 10, maxConcurrentCalls: 200 },
  });
  try {
    const op = await stack.user('operator');
    // Digit 7 fails at once (unallocated number): capacity is never what holds a call back.
    const replies = await Promise.all(
      Array.from({ length: 100 }, () => stack.placeCall(op, { phone_number: '5551234007' })),
    );
    for (const r of replies) expect(r.status).toBe(200);
    const ids = replies.map((r) => r.body.call_id as string);
    const statuses = replies.map((r) => r.body.status as string);
    const dialing = statuses.filter((s) => s === 'dialing').length;
    const pending = statuses.filter((s) => s === 'pending').length;
    expect(dialing + pending).toBe(100);
    // The first second's ten go at once; the calls keep coming faster than ten a second, so the
    // queue never empties while they arrive and everything after those ten waits its turn.
    expect(dialing).toBe(10);
    expect(pending).toBe(90);
    const queued = ids.filter((_, i) => statuses[i] === 'pending');
    expect((await stack.getCall(op, queued.at(-1)!)).status).toBe('pending');

    const final = await stack.waitFinal(op, ids, 30_000);
    for (const id of ids) {
      expect([final.get(id)!.status, final.get(id)!.reason]).toEqual(['failed', 'invalid_number']);
    }
    const mine = new Set(ids);
    const times = (await sim.originates()).filter((o) => mine.has(o.channelId ?? '')).map((o) => o.at);
    expect(times.length).toBe(100);
    expect(busiestWindow(times, 1000)).toBeLessThanOrEqual(10);
    // Ten seconds' worth of originates, at least: the rate held from start to end.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(9000);

    for (const id of queued) {
      const log = await stack.events(op, id);
      expect(eventLogProblem(log)).toBeNull();
      // Pending at the API until the sidecar reported the dial.
      expect(log.slice(0, 2).map((e) => [e.type, e.status, e.source.split(':')[0]])).toEqual([
        ['created', 'pending', 'api'],
        ['dialing', 'dialing', 'sidecar'],
      ]);
    }
  } finally {
    await stack.stop();
    await sim.stop();
  }
}, 60_000);
