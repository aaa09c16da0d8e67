import { expect, test } from 'bun:test';
import { startE2EStack } from '../harness/e2e.ts';
import { waitFor } from '../harness/util.ts';
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
 * The API unreachable from the sidecar for a minute: event batches are blackholed for 30 s,
 * then reset for 30 s, while calls are placed (commands still reach the sidecar), ring and
 * finish, and clients keep reading them. What the calls report waits in the sidecar's outbox;
 * once the link is back every call reaches its one final status, without a restart.
 */

const HALF_MS = 30_000;

test('sidecar → API blackholed 30 s, then reset 30 s, while calls finish', async () => {
  const stack = await startE2EStack({ faults: true, apiEnv: API_ENV });
  try {
    const op = await stack.user('operator');
    const ledger = new Ledger(stack);
    const load = startLoad(ledger, op, { placers: 1, readers: 1, pauseMs: 400 });
    await Bun.sleep(1000);
    const api = stack.faults!.api;

    api.set({ kind: 'blackhole' });
    const before = ledger.accepted.length;
    await Bun.sleep(HALF_MS / 2);
    // Events pile up; callers still get their answers.
    const midway = await stack.sidecar.status();
    expect(midway.outbox_depth).toBeGreaterThan(0);
    await Bun.sleep(HALF_MS / 2);
    api.set({ kind: 'reset' });
    await Bun.sleep(HALF_MS);
    const during = ledger.accepted.length - before;
    const depth = (await stack.sidecar.status()).outbox_depth;
    const resets = api.stats().resets;
    api.pass();
    await Bun.sleep(1000);
    await load.stop();

    expectAnsweredInTime(ledger);
    expect(during).toBeGreaterThan(10);
    expect(resets).toBeGreaterThan(0);
    const final = await expectNoneLost(stack, op, ledger.accepted, 30_000);
    await waitFor(() => stack.sidecar.running!.status().outbox_depth === 0, 10_000, 'an empty outbox');
    console.log(
      `API unreachable 60 s: outbox ${depth} events at the end of the outage, ${resets} connections reset; ${ledger.summary()}; final: ${statusCounts(final)}`,
    );
    // Every call finished normally at ARI; the outage only delayed the news.
    for (const id of ledger.accepted)
      expect([id, final.get(id)!.status, final.get(id)!.reason]).toEqual([id, 'completed', 'normal']);
    expectNoneRangTwice(stack.sim!.originates);
    await expectRecovers(stack, op);
  } finally {
    await stack.stop();
  }
}, 150_000);
