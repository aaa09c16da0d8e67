import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type SimHandle, startAriSimulator } from '../../asterisk/sim/server.ts';
import { eventLogProblem, timelineProblem } from '../harness/checks.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';

/**
 * Every outcome digit of the recorded dialplan, placed through the API and read back through it,
 * for both dial contexts (sim-callee, sim-trunk) and both originate styles: the final status,
 * reason, hangup cause and dial status the docs give (asterisk/README.md, the API guide's "Statuses and outcomes"), and an event log that
 * is ordered and ends with exactly one `ended`.
 */

type Outcome = [status: string, reason: string, cause: number | null, dial: string | null];

const CALLEE: Record<number, Outcome> = {
  0: ['completed', 'normal', 16, 'ANSWER'],
  1: ['busy', 'busy', 0, 'BUSY'],
  2: ['no_answer', 'timeout', 19, 'RINGING'],
  3: ['failed', 'congestion', 0, 'CONGESTION'],
  4: ['completed', 'normal', 16, 'ANSWER'],
  // Stays on the line: hung up through the API once answered.
  5: ['completed', 'hangup_requested', 16, 'ANSWER'],
  6: ['completed', 'normal', 16, 'ANSWER'],
  7: ['failed', 'invalid_number', 1, 'NOANSWER'],
  8: ['busy', 'rejected', 21, 'NOANSWER'],
  9: ['no_answer', 'no_answer', 19, 'NOANSWER'],
};
// A trunk hangs up with the cause instead of playing the indication.
const TRUNK: Record<number, Outcome> = {
  ...CALLEE,
  1: ['busy', 'busy', 17, 'BUSY'],
  3: ['failed', 'congestion', 34, 'CONGESTION'],
};
// Hung up through the API while ringing (digit 2).
const CANCELED: Outcome = ['canceled', 'hangup_requested', 16, 'NOANSWER'];

const outcomeOf = (c: {
  status: string;
  reason: string | null;
  hangup_cause: number | null;
  dial_status: string | null;
}) => [c.status, c.reason, c.hangup_cause, c.dial_status];

// Half speed: in dialplan style the IVR hangs up 2 s after the answer, which leaves a 1 s window
// to hang digit 5 up through the API.
let sim: SimHandle;
beforeAll(async () => {
  sim = await startAriSimulator({ port: 0, timeScale: 0.5 });
});
afterAll(() => sim.stop());

for (const context of ['sim-callee', 'sim-trunk'] as const) {
  for (const style of ['dialplan', 'stasis'] as const) {
    describe(`${context}, ${style} originate, through the API`, () => {
      test('every digit ends with the documented status, reason, cause and dial status', async () => {
        const stack = await startE2EStack({
          ari: sim,
          sidecar: { ariDialContext: context, ariOriginateStyle: style },
        });
        try {
          const op = await stack.user('operator');
          const place = async (digit: number, timeout?: number) => {
            const res = await stack.placeCall(op, {
              phone_number: `55512340${digit}`,
              ...(timeout ? { timeout } : {}),
            });
            expect(res.status).toBe(200);
            expect(res.body.success).toBe(true);
            return res.body.call_id as string;
          };
          // Digit 2 rings 2 s here (4 s at half speed) before the originate timeout ends it.
          const ids = await Promise.all(
            Array.from({ length: 10 }, (_, digit) => place(digit, digit === 2 ? 4000 : undefined)),
          );
          const ringing = await place(2, 20_000);

          await stack.waitCall(op, ids[5]!, (c) => c.status === 'answered', 5000, 'digit 5 answered');
          expect((await stack.hangup(op, ids[5]!)).status).toBe(202);
          await stack.waitCall(op, ringing, (c) => c.status === 'ringing', 5000, 'digit 2 ringing');
          expect((await stack.hangup(op, ringing)).status).toBe(202);

          const final = await stack.waitFinal(op, [...ids, ringing], 20_000);
          const want = context === 'sim-trunk' ? TRUNK : CALLEE;
          for (const [digit, id] of ids.entries()) {
            expect({ digit, got: outcomeOf(final.get(id)!) }).toEqual({ digit, got: want[digit]! });
          }
          expect(outcomeOf(final.get(ringing)!)).toEqual(CANCELED);

          for (const id of [...ids, ringing]) {
            const log = await stack.events(op, id);
            expect({ id, problem: eventLogProblem(log) }).toEqual({ id, problem: null });
            expect({ id, times: timelineProblem(final.get(id)!, log) }).toEqual({ id, times: null });
          }
          const types = async (id: string) => (await stack.events(op, id)).map((e) => e.type);
          expect(await types(ids[0]!)).toEqual(['created', 'dialing', 'ringing', 'answered', 'ended']);
          expect(await types(ids[6]!)).toContain('progress');
          expect(await types(ids[5]!)).toEqual([
            'created',
            'dialing',
            'ringing',
            'answered',
            'hangup_requested',
            'ended',
          ]);
          // Answer times only for the answered ones.
          expect(final.get(ids[0]!)!.answered_at).not.toBeNull();
          expect(final.get(ids[1]!)!.answered_at).toBeNull();
          // One originate per call at ARI.
          for (const id of [...ids, ringing]) {
            expect(sim.originates.filter((o) => o.channelId === id).length).toBe(1);
          }
        } finally {
          await stack.stop();
        }
      });
    });
  }
}

describe('events that reach the sidecar before the originate reply', () => {
  let early: SimHandle;
  let stack: E2EStack;
  beforeAll(async () => {
    early = await startAriSimulator({ port: 0, timeScale: 0.05, eventsBeforeReply: 'always' });
    stack = await startE2EStack({ ari: early });
  });
  afterAll(async () => {
    await stack.stop();
    await early.stop();
  });

  test('are not lost: fast failures and answers end right through the API', async () => {
    const op = await stack.user('operator');
    const digits = [7, 1, 3, 4, 0, 7, 3, 1];
    const ids: string[] = [];
    for (const digit of digits) {
      const res = await stack.placeCall(op, { phone_number: `55512340${digit}` });
      expect(res.status).toBe(200);
      ids.push(res.body.call_id as string);
    }
    const final = await stack.waitFinal(op, ids);
    for (const [i, digit] of digits.entries()) {
      expect({ digit, got: outcomeOf(final.get(ids[i]!)!) }).toEqual({ digit, got: CALLEE[digit]! });
      const log = await stack.events(op, ids[i]!);
      expect(eventLogProblem(log)).toBeNull();
      expect(timelineProblem(final.get(ids[i]!)!, log)).toBeNull();
    }
  });
});
