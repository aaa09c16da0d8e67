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
  startLoad,
  statusCounts,
} from './scenario.ts';

/**
 * ARI unreachable while calls are being placed: every connection between the sidecar and ARI
 * (REST and the events socket) is reset, refused or blackholed for a few seconds, then lifted.
 */

const cases: [string, Fault][] = [
  ['reset: connections dropped with an RST, new ones reset at once', { kind: 'reset' }],
  ['refused: the port closed', { kind: 'reset', refuse: true }],
  ['blackhole: connections accepted and never answered', { kind: 'blackhole' }],
];

for (const [name, fault] of cases) {
  test(`ARI ${name}`, async () => {
    const stack = await startE2EStack({
      faults: true,
      apiEnv: API_ENV,
      sidecar: { ariRequestTimeoutMs: 1000, reconcileIntervalMs: 2000, breakerHalfOpenAfterMs: 1000 },
    });
    try {
      const op = await stack.user('operator');
      const ledger = new Ledger(stack);
      const load = startLoad(ledger, op, { placers: 3, readers: 2 });
      await Bun.sleep(800);
      stack.faults!.ari.set(fault);
      await Bun.sleep(4000);
      stack.faults!.ari.pass();
      await Bun.sleep(1000);
      await load.stop();
      expectAnsweredInTime(ledger);
      const final = await expectNoneLost(stack, op, ledger.accepted);
      console.log(`ARI ${name.split(':')[0]}: ${ledger.summary()}; final: ${statusCounts(final)}`);
      // The fault was felt: callers were told to come back later.
      expect(ledger.tally.get('POST /calls 503 pbx_unavailable') ?? 0).toBeGreaterThan(0);
      expectNoneRangTwice(stack.sim!.originates);
      await expectRecovers(stack, op);
    } finally {
      await stack.stop();
    }
  }, 90_000);
}
