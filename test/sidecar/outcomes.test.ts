import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type SimHandle, startAriSimulator } from '../../asterisk/sim/server.ts';
import { originateCommand } from '../harness/channel.ts';
import { expectWellFormedCall, type Stack, startStack } from './stack.ts';

/**
 * Every outcome digit of the recorded dialplan, through the simulator, for both dial contexts
 * (sim-callee and sim-trunk) and both originate styles: the final status, reason, hangup cause
 * and dial status the API receives.
 */

const CALLEE: Record<number, [string, string, number, string]> = {
  0: ['completed', 'normal', 16, 'ANSWER'],
  1: ['busy', 'busy', 0, 'BUSY'],
  2: ['no_answer', 'timeout', 19, 'RINGING'],
  3: ['failed', 'congestion', 0, 'CONGESTION'],
  4: ['completed', 'normal', 16, 'ANSWER'],
  5: ['completed', 'normal', 16, 'ANSWER'],
  6: ['completed', 'normal', 16, 'ANSWER'],
  7: ['failed', 'invalid_number', 1, 'NOANSWER'],
  8: ['busy', 'rejected', 21, 'NOANSWER'],
  9: ['no_answer', 'no_answer', 19, 'NOANSWER'],
};
const TRUNK: Record<number, [string, string, number, string]> = {
  ...CALLEE,
  1: ['busy', 'busy', 17, 'BUSY'],
  3: ['failed', 'congestion', 34, 'CONGESTION'],
};

/** Each `dialing` reply's dialed_at must be the time of the call's `dialing` event. */
function dialedAtProblems(stack: Stack, replies: Array<{ json: unknown }>): string[] {
  const problems: string[] = [];
  for (const { json } of replies) {
    const reply = json as { outcome: string; call_id: string; dialed_at?: string };
    if (reply.outcome !== 'dialing') continue;
    const event = stack.api.byCall(reply.call_id).find((e) => e.type === 'dialing');
    if (reply.dialed_at !== event?.occurred_at) {
      problems.push(`${reply.call_id}: reply ${reply.dialed_at}, event ${event?.occurred_at}`);
    }
  }
  return problems;
}

let sim: SimHandle;
const stacks: Stack[] = [];

beforeAll(async () => {
  sim = await startAriSimulator({ port: 0, timeScale: 0.02 });
});
afterAll(async () => {
  for (const stack of stacks) await stack.stop();
  await sim.stop();
});

for (const context of ['sim-callee', 'sim-trunk'] as const) {
  for (const style of ['dialplan', 'stasis'] as const) {
    describe(`${context}, ${style} originate`, () => {
      test('every outcome digit maps to the right final status', async () => {
        const stack = await startStack({
          sharedSim: sim,
          // One app per sidecar: two sockets for one app name would replace each other.
          config: { ariDialContext: context, ariOriginateStyle: style, ariApp: `cc-${context}-${style}` },
        });
        stacks.push(stack);
        const commands = Array.from({ length: 10 }, (_, digit) =>
          originateCommand(`55512340${digit}`, { timeout_ms: 3000 }),
        );
        const replies = await Promise.all(commands.map((c) => stack.signer.originate(c)));
        for (const reply of replies) expect(reply.json).toMatchObject({ outcome: 'dialing' });
        const ended = await stack.waitEnded(commands.map((c) => c.call_id));
        const want = context === 'sim-trunk' ? TRUNK : CALLEE;
        for (const [digit, command] of commands.entries()) {
          const end = ended.get(command.call_id)!;
          expect({ digit, got: [end.status, end.reason, end.hangup_cause, end.dial_status] }).toEqual({
            digit,
            got: want[digit]!,
          });
          expect(expectWellFormedCall(stack.api.byCall(command.call_id))).toBeNull();
        }
        // The early-media digit reports progress; the answered ones report answered.
        expect(stack.api.byCall(commands[6]!.call_id).map((e) => e.type)).toContain('progress');
        expect(stack.api.byCall(commands[0]!.call_id).map((e) => e.type)).toEqual([
          'dialing',
          'ringing',
          'answered',
          'ended',
        ]);
        expect(stack.api.duplicates).toEqual([]);
        expect(dialedAtProblems(stack, replies)).toEqual([]);
      });
    });
  }
}

describe('events before the originate reply', () => {
  test('are correlated by channel id and never dropped', async () => {
    const early = await startAriSimulator({ port: 0, timeScale: 0.02, eventsBeforeReply: 'always' });
    const stack = await startStack({ sharedSim: early, config: { ariApp: 'cc-early' } });
    try {
      const commands = ['5551234007', '5551234001', '5551234004', '5551234003'].map((n) =>
        originateCommand(n),
      );
      const replies = await Promise.all(commands.map((c) => stack.signer.originate(c)));
      const ended = await stack.waitEnded(commands.map((c) => c.call_id));
      // The reply's dialed_at is the time of the dialing event, here stamped by ARI's first event.
      expect(dialedAtProblems(stack, replies)).toEqual([]);
      expect(commands.map((c) => ended.get(c.call_id)!.status)).toEqual([
        'failed',
        'busy',
        'completed',
        'failed',
      ]);
      for (const c of commands) expect(expectWellFormedCall(stack.api.byCall(c.call_id))).toBeNull();
    } finally {
      await stack.stop();
      await early.stop();
    }
  });
});
