import { expect, test } from 'bun:test';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import { eventLogProblem } from '../harness/checks.ts';
import { startE2EStack } from '../harness/e2e.ts';
import { waitFor } from '../harness/util.ts';

/**
 * The API is down for 30 s (stopped, then started again on the same port with the same database)
 * while calls finish. The sidecar keeps their events in its outbox; once the API is back every
 * event arrives, in order per call, and none is applied twice. This is the suite's one real-time
 * wait; everything else runs on a fast simulator.
 */

const OUTAGE_MS = 30_000;

const CALLEE: Record<number, [string, string, number, string]> = {
  0: ['completed', 'normal', 16, 'ANSWER'],
  1: ['busy', 'busy', 0, 'BUSY'],
  2: ['no_answer', 'timeout', 19, 'RINGING'],
  3: ['failed', 'congestion', 0, 'CONGESTION'],
  4: ['completed', 'normal', 16, 'ANSWER'],
  // Dialplan style: the IVR (outbound-ivr,s) hangs up 2 s after the answer.
  5: ['completed', 'normal', 16, 'ANSWER'],
  6: ['completed', 'normal', 16, 'ANSWER'],
  7: ['failed', 'invalid_number', 1, 'NOANSWER'],
  8: ['busy', 'rejected', 21, 'NOANSWER'],
  9: ['no_answer', 'no_answer', 19, 'NOANSWER'],
};

test(
  'the API down for 30 s while calls finish: every event arrives afterwards, in order, none twice',
  async () => {
    // Half speed: the calls take up to 3 s, all of it inside the outage. Events after the
    // originate reply, so that every reply says `dialing`.
    const sim = await startAriSimulator({ port: 0, timeScale: 0.5, eventsBeforeReply: 'never' });
    const stack = await startE2EStack({ ari: sim, tapEvents: true });
    try {
      const op = await stack.user('operator');
      const digits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
      const replies = await Promise.all(
        digits.map((d) => stack.placeCall(op, { phone_number: `55512340${d}`, timeout: 6000 })),
      );
      for (const r of replies) expect([r.status, r.body.status]).toEqual([200, 'dialing']);
      const ids = replies.map((r) => r.body.call_id as string);

      await stack.stopApi();
      const down = performance.now();
      expect(
        await fetch(`${stack.apiUrl}/health`).then(
          () => 'answered',
          () => 'refused',
        ),
      ).toBe('refused');
      // The calls finish at ARI; what they report piles up in the sidecar's outbox.
      await waitFor(() => sim.liveChannels() === 0, 15_000, 'every call to end at ARI');
      const during = await stack.sidecar.status();
      expect(during.live_calls).toBe(0);
      expect(during.outbox_depth).toBeGreaterThanOrEqual(ids.length);
      await Bun.sleep(Math.max(0, OUTAGE_MS - (performance.now() - down)));
      const delivered = stack.tap!.batches.length;

      await stack.startApi();
      const final = await stack.waitFinal(op, ids, 15_000);
      await waitFor(() => stack.sidecar.running!.status().outbox_depth === 0, 5000, 'an empty outbox');
      expect(stack.tap!.batches.length).toBeGreaterThan(delivered);

      for (const [i, id] of ids.entries()) {
        const call = final.get(id)!;
        expect({
          digit: digits[i],
          got: [call.status, call.reason, call.hangup_cause, call.dial_status],
        }).toEqual({
          digit: digits[i],
          got: CALLEE[digits[i]!]!,
        });
        // Ended at ARI during the outage, not when the API learnt it.
        expect(Date.parse(call.ended_at!)).toBeLessThan(Date.now() - OUTAGE_MS / 2);
      }

      // None applied twice: every event the sidecar sent was applied at most once, whatever
      // number of times it was delivered; every one of them was answered.
      const results = stack.tap!.results();
      const sent = new Map<string, { callId: string; seq: number; type: string }>();
      for (const batch of stack.tap!.batches) {
        for (const e of batch.events) sent.set(e.event_id, { callId: e.call_id, seq: e.seq, type: e.type });
      }
      expect(sent.size).toBeGreaterThan(0);
      for (const [eventId] of sent) {
        const r = results.get(eventId) ?? [];
        expect({ eventId, r: r.length > 0 }).toEqual({ eventId, r: true });
        expect(r.filter((x) => x === 'applied').length).toBeLessThanOrEqual(1);
        expect(r.filter((x) => x === 'stale' || x === 'unknown_call')).toEqual([]);
      }

      for (const id of ids) {
        const log = await stack.events(op, id);
        expect({ id, problem: eventLogProblem(log) }).toEqual({ id, problem: null });
        // Every event the sidecar sent for the call is in the log (a `dialing` may be the API's
        // own, written from the originate reply), and the sidecar's events appear in the order
        // the sidecar numbered them. Types occur once per call, so the type names the event.
        const seqOf = new Map(
          [...sent.values()].filter((e) => e.callId === id).map((e) => [e.type, e.seq] as const),
        );
        expect(seqOf.size).toBeGreaterThan(0);
        const types = new Set(log.map((e) => e.type));
        for (const type of seqOf.keys())
          expect({ id, type, logged: types.has(type) }).toEqual({ id, type, logged: true });
        const order = log.filter((e) => e.source.startsWith('sidecar:')).map((e) => seqOf.get(e.type) ?? -1);
        expect(order).toEqual([...order].sort((a, b) => a - b));
        expect(order).not.toContain(-1);
      }
    } finally {
      await stack.stop();
      await sim.stop();
    }
  },
  OUTAGE_MS + 60_000,
);
