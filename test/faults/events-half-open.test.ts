import { expect, test } from 'bun:test';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { Direction } from '../harness/fault-proxy.ts';
import type { TestUser } from '../harness/stack.ts';
import { waitFor } from '../harness/util.ts';
import { FAST_TUNING } from '../sidecar/harness.ts';
import {
  API_ENV,
  expectAnsweredInTime,
  expectNoneLost,
  expectNoneRangTwice,
  expectRecovers,
  Ledger,
  statusCounts,
} from './scenario.ts';

/**
 * The events WebSocket goes half-open: its TCP connection stays up, nothing is closed, but no
 * data passes any more (in both directions, or only from ARI to the sidecar). REST requests to
 * ARI keep working. The sidecar must notice by itself (a ping with no pong), open a new socket,
 * and reconcile what it missed; calls that were live go on to their right end.
 */

const IDLE_PING_MS = 1000;
const PONG_TIMEOUT_MS = 500;

const isEvents = (c: { head: string }) => c.head.startsWith('GET /ari/events');

async function place(ledger: Ledger, op: TestUser, phone: string, timeout?: number): Promise<string> {
  const id = await ledger.placeCall(op, { phone_number: phone, ...(timeout ? { timeout } : {}) });
  expect(id).not.toBeNull();
  return id!;
}

async function waitStatus(stack: E2EStack, op: TestUser, ids: string[], status: string) {
  for (const id of ids) await stack.waitCall(op, id, (c) => c.status === status, 5000, status);
}

for (const direction of ['both', 'down'] as Direction[]) {
  test(`events socket half-open (${direction === 'both' ? 'both directions' : 'ARI → sidecar only'}): noticed, replaced, reconciled`, async () => {
    const stack = await startE2EStack({
      faults: true,
      apiEnv: API_ENV,
      // Stasis style keeps digit 5 up until the callee hangs up (61 s, 3 s here).
      sidecar: {
        ariOriginateStyle: 'stasis',
        reconcileIntervalMs: 30_000,
        tuning: { ...FAST_TUNING, wsIdlePingMs: IDLE_PING_MS, wsPongTimeoutMs: PONG_TIMEOUT_MS },
      },
    });
    try {
      const op = await stack.user('operator');
      const ledger = new Ledger(stack);
      const ari = stack.faults!.ari;
      // Answered and staying up; ringing until their 60 s timeout (3 s here).
      const up = [await place(ledger, op, '5551234005'), await place(ledger, op, '5551234005')];
      const ringing = [await place(ledger, op, '5551234002', 60_000)];
      await waitStatus(stack, op, up, 'answered');
      await waitStatus(stack, op, ringing, 'ringing');
      expect(ari.connections().filter(isEvents).length).toBe(1);

      const cut = performance.now();
      ari.set({ kind: 'half-open', direction }, { match: isEvents });
      // Calls placed while the socket is dead: ARI takes them, their first events go nowhere.
      const during = [await place(ledger, op, '5551234005'), await place(ledger, op, '5551234000')];

      // Noticed: a second events connection opens, the first one was never closed by anyone.
      await waitFor(
        () => ari.connections().filter((c) => isEvents(c) && !c.deadDown).length === 1,
        10_000,
        'a new events socket',
      );
      const noticedMs = performance.now() - cut;
      await stack.sidecar.waitConnected();
      const dead = ari.connections().filter((c) => isEvents(c) && c.deadDown);
      expect(dead.length).toBe(1);
      // Found by a ping that got no pong: not before the pong timeout.
      expect(noticedMs).toBeGreaterThanOrEqual(PONG_TIMEOUT_MS);

      const after = await place(ledger, op, '5551234000');
      const ids = [...up, ...ringing, ...during, after];
      expectAnsweredInTime(ledger);
      const final = await expectNoneLost(stack, op, ids, 15_000);
      console.log(
        `half-open ${direction}: noticed after ${Math.round(noticedMs)} ms; ${ledger.summary()}; final: ${statusCounts(final)}`,
      );
      // Live through the outage, their end came on the new socket.
      for (const id of up)
        expect([final.get(id)!.status, final.get(id)!.reason]).toEqual(['completed', 'normal']);
      for (const id of ringing)
        expect([final.get(id)!.status, final.get(id)!.reason]).toEqual(['no_answer', 'timeout']);
      expect(final.get(after)!.status).toBe('completed');
      expectNoneRangTwice(stack.sim!.originates);
      ari.pass();
      await expectRecovers(stack, op);
    } finally {
      await stack.stop();
    }
  }, 60_000);
}
