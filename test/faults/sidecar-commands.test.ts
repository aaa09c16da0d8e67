import { expect, test } from 'bun:test';
import { startE2EStack } from '../harness/e2e.ts';
import type { Fault } from '../harness/fault-proxy.ts';
import {
  API_ENV,
  expectAnsweredInTime,
  expectNoneLost,
  expectNoneRangTwice,
  expectRecovers,
  Ledger,
  SIDECAR_TIMEOUT_MS,
  startLoad,
  statusCounts,
} from './scenario.ts';

/**
 * The API's commands to the sidecar go nowhere (blackholed), are reset, or are answered too
 * late, for a few seconds while calls are placed: callers get a 503 within the sidecar timeout,
 * never a hung request. A command that reached the sidecar although its answer never came back
 * may still ring once; it never rings twice, and the API does not call it accepted.
 */

const cases: [string, Fault][] = [
  ['blackholed', { kind: 'blackhole' }],
  ['reset', { kind: 'reset' }],
  // The commands arrive; the sidecar's answers come after the API gave up on them.
  ['answered too late', { kind: 'latency', ms: SIDECAR_TIMEOUT_MS + 500, direction: 'down' }],
];

for (const [name, fault] of cases) {
  test(`API → sidecar commands ${name} for 4 s`, async () => {
    const stack = await startE2EStack({ faults: true, apiEnv: API_ENV });
    try {
      const op = await stack.user('operator');
      const ledger = new Ledger(stack);
      const load = startLoad(ledger, op, { placers: 3, readers: 2 });
      await Bun.sleep(800);
      stack.faults!.sidecarCommands.set(fault);
      const before = ledger.tally.get('POST /calls 503 pbx_unavailable') ?? 0;
      await Bun.sleep(4000);
      stack.faults!.sidecarCommands.pass();
      await Bun.sleep(1000);
      await load.stop();
      expectAnsweredInTime(ledger);
      expect(ledger.slowest).toBeLessThan(SIDECAR_TIMEOUT_MS + 1000);
      expect((ledger.tally.get('POST /calls 503 pbx_unavailable') ?? 0) - before).toBeGreaterThan(0);
      const final = await expectNoneLost(stack, op, ledger.accepted);
      // Commands that reached the sidecar although the API never heard back: those calls rang
      // once while their callers were told 503.
      const accepted = new Set(ledger.accepted);
      const unheard = stack.sim!.originates.filter(
        (o) => o.status === 200 && o.channelId && !accepted.has(o.channelId),
      ).length;
      console.log(
        `commands ${name}: ${ledger.summary()}; final: ${statusCounts(final)}; originated though answered 503: ${unheard}`,
      );
      for (const id of ledger.accepted) expect([id, final.get(id)!.status]).toEqual([id, 'completed']);
      expectNoneRangTwice(stack.sim!.originates);
      await expectRecovers(stack, op);
    } finally {
      await stack.stop();
    }
  }, 60_000);
}
