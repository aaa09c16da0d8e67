import { expect, test } from 'bun:test';
import { startE2EStack } from '../harness/e2e.ts';
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
 * ARI slow: latency on every connection between the sidecar and ARI (REST and the events
 * socket), below the sidecar's ARI timeout and beyond it, while calls are placed and read.
 */

const ARI_TIMEOUT_MS = 1000;

test('latency below the ARI timeout: every call is accepted and completes', async () => {
  const stack = await startE2EStack({
    faults: true,
    apiEnv: API_ENV,
    sidecar: { ariRequestTimeoutMs: ARI_TIMEOUT_MS },
  });
  try {
    const op = await stack.user('operator');
    const ledger = new Ledger(stack);
    // 200–300 ms each way: a round trip of at most 600 ms, under the 1 s timeout.
    stack.faults!.ari.set({ kind: 'latency', ms: 200, jitterMs: 100 });
    const load = startLoad(ledger, op, { placers: 3, readers: 2 });
    await Bun.sleep(4000);
    await load.stop();
    console.log(`ari latency below timeout: ${ledger.summary()}`);
    expectAnsweredInTime(ledger);
    expect(ledger.accepted.length).toBeGreaterThan(5);
    expect(ledger.tally.get('POST /calls 503 pbx_unavailable') ?? 0).toBe(0);
    const final = await expectNoneLost(stack, op, ledger.accepted);
    for (const id of ledger.accepted) expect([id, final.get(id)!.status]).toEqual([id, 'completed']);
    expectNoneRangTwice(stack.sim!.originates);
    stack.faults!.passAll();
    await expectRecovers(stack, op);
  } finally {
    await stack.stop();
  }
}, 60_000);

test('latency beyond the ARI timeout: answers in time, no call lost or rung twice, recovery', async () => {
  const stack = await startE2EStack({
    faults: true,
    apiEnv: API_ENV,
    sidecar: { ariRequestTimeoutMs: ARI_TIMEOUT_MS },
  });
  try {
    const op = await stack.user('operator');
    const ledger = new Ledger(stack);
    const load = startLoad(ledger, op, { placers: 3, readers: 2 });
    await Bun.sleep(500);
    // 700 ms each way: every reply comes after the timeout, though ARI carried the request out.
    stack.faults!.ari.set({ kind: 'latency', ms: 700, jitterMs: 100 });
    await Bun.sleep(5000);
    stack.faults!.ari.pass();
    await Bun.sleep(1500);
    await load.stop();
    expectAnsweredInTime(ledger);
    const final = await expectNoneLost(stack, op, ledger.accepted);
    console.log(`ari latency beyond timeout: ${ledger.summary()}; final: ${statusCounts(final)}`);
    // The fault was felt: originates timed out, and the breaker turned callers away.
    expect(ledger.tally.get('POST /calls 503 pbx_unavailable') ?? 0).toBeGreaterThan(0);
    expectNoneRangTwice(stack.sim!.originates);
    await expectRecovers(stack, op);
  } finally {
    await stack.stop();
  }
}, 90_000);
