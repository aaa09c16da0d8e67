import { expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
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
 * PostgreSQL going away under load, while calls are placed and read: the server restarted
 * (`pg_ctl restart`, fast and immediate), every connection between the API and the server
 * reset, and the link blackholed. Requests answer in time (a 503 problem while the database
 * cannot be reached), no accepted call is lost, and the API recovers without a restart.
 */

async function underLoad(
  name: string,
  fault: (stack: E2EStack) => Promise<void>,
  check?: (ledger: Ledger) => void,
) {
  const stack = await startE2EStack({ faults: true, ownPostgres: true, apiEnv: API_ENV });
  try {
    const op = await stack.user('operator');
    const ledger = new Ledger(stack);
    const load = startLoad(ledger, op, { placers: 3, readers: 3 });
    await Bun.sleep(1000);
    await fault(stack);
    await Bun.sleep(2000);
    await load.stop();
    expectAnsweredInTime(ledger);
    check?.(ledger);
    const final = await expectNoneLost(stack, op, ledger.accepted);
    console.log(`${name}: ${ledger.summary()}; final: ${statusCounts(final)}`);
    expectNoneRangTwice(stack.sim!.originates);
    await expectRecovers(stack, op);
  } finally {
    await stack.stop();
  }
}

const unavailable = (ledger: Ledger) =>
  [...ledger.tally.entries()]
    .filter(([key]) => key.endsWith('503 database_unavailable'))
    .reduce((sum, [, n]) => sum + n, 0);

/** Restarts the stack's cluster, and checks that it did restart. */
async function restart(stack: E2EStack, mode: 'fast' | 'immediate') {
  const started = async () => {
    const rows = (await stack.database.db.execute<{ at: string }>(
      sql`select pg_postmaster_start_time()::text as at`,
    )) as unknown as { at: string }[];
    return rows[0]!.at;
  };
  const before = await started();
  await stack.postgres!.restart(mode);
  // The test's own pool may meet its closed connections once, as the API's does.
  let after = before;
  for (let i = 0; i < 20 && after === before; i++) {
    after = await started().catch(() => before);
    if (after === before) await Bun.sleep(50);
  }
  expect(after).not.toBe(before);
}

test('pg_ctl restart (fast) under load', async () => {
  await underLoad('restart fast', (stack) => restart(stack, 'fast'));
}, 90_000);

test('pg_ctl restart (immediate, as a crash) under load', async () => {
  await underLoad('restart immediate', (stack) => restart(stack, 'immediate'));
}, 90_000);

test('every API ↔ PostgreSQL connection reset, new ones refused for 3 s', async () => {
  await underLoad(
    'connections reset',
    async (stack) => {
      stack.faults!.db.set({ kind: 'reset', refuse: true });
      await Bun.sleep(3000);
      stack.faults!.db.pass();
    },
    (ledger) => expect(unavailable(ledger)).toBeGreaterThan(0),
  );
}, 90_000);

test('API ↔ PostgreSQL blackholed for 5 s', async () => {
  await underLoad(
    'blackhole',
    async (stack) => {
      stack.faults!.db.set({ kind: 'blackhole' });
      await Bun.sleep(5000);
      stack.faults!.db.pass();
    },
    (ledger) => expect(unavailable(ledger)).toBeGreaterThan(0),
  );
}, 90_000);

test('/readiness is 503 not_ready while PostgreSQL cannot be reached, and ready again once it can', async () => {
  const stack = await startE2EStack({ faults: true, apiEnv: API_ENV });
  type Report = { status: string; checks: Record<string, { status: string; required: boolean }> };
  try {
    const before = await stack.request('/readiness');
    expect([before.status, ((await before.json()) as Report).status]).toEqual([200, 'ready']);
    stack.faults!.db.set({ kind: 'reset', refuse: true });
    const res = await stack.request('/readiness');
    expect(res.status).toBe(503);
    // The only check that decides 503; the others are still reported as they are.
    expect(await res.json()).toMatchObject({
      status: 'not_ready',
      checks: {
        database: { status: 'error', required: true },
        sidecar: { status: 'ok', required: false },
        pbx: { status: 'ok', required: false },
      },
    });
    stack.faults!.db.pass();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const again = await stack.request('/readiness');
      if (again.status === 200) {
        expect(((await again.json()) as Report).status).toBe('ready');
        break;
      }
      if (Date.now() > deadline) throw new Error('readiness did not come back');
      await Bun.sleep(200);
    }
  } finally {
    await stack.stop();
  }
}, 60_000);
