import { expect, test } from 'bun:test';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import { eventLogProblem, FINAL_STATUSES } from '../harness/checks.ts';
import { startE2EStack } from '../harness/e2e.ts';
import { waitFor } from '../harness/util.ts';

/**
 * `kill -9` of the sidecar process (`bun sidecar/main.ts`) with 50 live calls, then a restart on
 * the same data directory: every call reaches exactly one final status through the API, and no
 * call is originated twice at ARI. And a graceful restart, which must lose nothing at all.
 */

test('kill -9 with 50 live calls and a restart: one final status each, no originate repeated', async () => {
  // Digit 5 (stasis style) stays up 61 s, 15.25 s here; digit 2 rings until its 20 s timeout, 5 s here.
  // The calls that stay must outlive the kill, the ringing ones' timeout and the restart even on a
  // busy machine: one that ends while no sidecar listens is rightly `lost`, not hung up by the API.
  const sim = await startAriSimulator({ port: 0, timeScale: 0.25 });
  const stack = await startE2EStack({
    ari: sim,
    sidecarMode: 'process',
    sidecar: {
      ariOriginateStyle: 'stasis',
      originateCps: 200,
      maxConcurrentCalls: 100,
      reconcileIntervalMs: 1000,
    },
  });
  try {
    const op = await stack.user('operator');
    const bodies = [
      ...Array.from({ length: 40 }, () => ({ phone_number: '5551234005' })),
      ...Array.from({ length: 10 }, () => ({ phone_number: '5551234002', timeout: 40_000 })),
    ];
    const replies = await Promise.all(bodies.map((b) => stack.placeCall(op, b)));
    for (const r of replies) expect([r.status, r.body.status]).toEqual([200, 'dialing']);
    const ids = replies.map((r) => r.body.call_id as string);
    const stay = ids.slice(0, 40);
    const ring = ids.slice(40);

    // Live, and known so at the API: the answers and ringing of before the kill are delivered.
    // All at once: the ringing calls time out at ARI a few seconds after they were placed.
    await Promise.all([
      ...stay.map((id) => stack.waitCall(op, id, (c) => c.status === 'answered', 5000, 'answered')),
      ...ring.map((id) => stack.waitCall(op, id, (c) => c.status === 'ringing', 5000, 'ringing')),
    ]);
    expect((await stack.sidecar.status()).live_calls).toBe(50);
    expect(sim.liveChannels()).toBe(100);
    const pid = stack.sidecar.pid;
    await stack.sidecar.kill();
    expect(stack.sidecar.isUp()).toBe(false);
    expect(pid).not.toBeNull();
    // The ringing calls time out at ARI while nobody listens; the others stay up.
    await waitFor(() => sim.liveChannels() === 80, 10_000, 'the ringing calls to time out');
    await stack.sidecar.start();
    expect(stack.sidecar.pid).not.toBe(pid);

    // A quarter of the surviving calls are hung up through the API, the restarted sidecar
    // following calls it only knows from its database.
    const hungUp = stay.slice(0, 10);
    for (const id of hungUp) expect((await stack.hangup(op, id)).status).toBe(202);

    const final = await stack.waitFinal(op, ids, 20_000);
    for (const id of ids) expect(FINAL_STATUSES.has(final.get(id)!.status)).toBe(true);
    for (const id of hungUp) {
      const c = final.get(id)!;
      expect({ id, got: [c.status, c.reason, c.hangup_cause] }).toEqual({
        id,
        got: ['completed', 'hangup_requested', 16],
      });
    }
    for (const id of stay.slice(10)) {
      expect([final.get(id)!.status, final.get(id)!.reason, final.get(id)!.hangup_cause]).toEqual([
        'completed',
        'normal',
        16,
      ]);
    }
    // Their end came while the sidecar was dead: the restarted one finds the channels gone.
    for (const id of ring) expect([final.get(id)!.status, final.get(id)!.reason]).toEqual(['failed', 'lost']);

    for (const id of ids) {
      const log = await stack.events(op, id);
      expect({ id, problem: eventLogProblem(log) }).toEqual({ id, problem: null });
    }
    for (const id of ids) expect(sim.originates.filter((o) => o.channelId === id).length).toBe(1);
    const status = await stack.sidecar.status();
    expect([status.live_calls, status.queued_calls, status.outbox_depth]).toEqual([0, 0, 0]);
  } finally {
    await stack.stop();
    await sim.stop();
  }
}, 60_000);

test('a graceful restart with live calls: they are followed to their normal end', async () => {
  // Digit 5 (stasis style) stays up 61 s, 3 s here.
  const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
  const stack = await startE2EStack({ ari: sim, sidecar: { ariOriginateStyle: 'stasis' } });
  try {
    const op = await stack.user('operator');
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => stack.placeCall(op, { phone_number: '5551234005' })),
    );
    const ids = replies.map((r) => r.body.call_id as string);
    for (const id of ids) await stack.waitCall(op, id, (c) => c.status === 'answered', 5000, 'answered');
    await stack.sidecar.restart();
    const final = await stack.waitFinal(op, ids, 10_000);
    for (const id of ids) {
      expect([final.get(id)!.status, final.get(id)!.reason, final.get(id)!.hangup_cause]).toEqual([
        'completed',
        'normal',
        16,
      ]);
      expect(eventLogProblem(await stack.events(op, id))).toBeNull();
    }
  } finally {
    await stack.stop();
    await sim.stop();
  }
});
