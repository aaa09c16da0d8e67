import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { sql } from 'drizzle-orm';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { isDatabaseUnavailable } from '../../db/errors.ts';
import { migrate } from '../../db/migrate.ts';
import type { Database } from '../../db/types.ts';
import { sharedTestDatabase } from '../harness/database.ts';
import { type FaultProxy, startFaultProxy } from '../harness/fault-proxy.ts';

/**
 * The Bun SQL driver with a bound on each round trip (DATABASE_QUERY_TIMEOUT_MS), behind the
 * fault proxy: a silent link fails a statement instead of holding it for ever, the pool is
 * replaced so that the next statements get live connections, a transaction given up on does
 * not keep its locks, and migrations wait for one another without tripping the bound.
 */

const TIMEOUT_MS = 500;

let direct: Database & { url: string | null };
let proxy: FaultProxy;
const opened: Database[] = [];

beforeAll(async () => {
  direct = await sharedTestDatabase();
  await direct.db.execute(sql`create table fault_rows (id int primary key, n int not null)`);
  await direct.db.execute(sql`insert into fault_rows values (1, 0)`);
  proxy = await startFaultProxy({ target: direct.url!, name: 'driver→postgres' });
  // Without TEST_PG_URL this starts a cluster first.
}, 60_000);
afterEach(async () => {
  proxy.pass();
  for (const d of opened.splice(0)) await d.close().catch(() => undefined);
});
afterAll(async () => {
  await proxy.stop();
  await direct.close();
});

function guarded(url = direct.url!): Database {
  const u = new URL(url);
  u.port = String(proxy.port);
  const database = openPostgres(u.toString(), { max: 4, queryTimeoutMs: TIMEOUT_MS });
  opened.push(database);
  return database;
}

async function failure(work: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await work.then(
    () => null,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - started };
}

describe('a bound on every round trip', () => {
  test('a statement on a blackholed link fails as unavailable; the next one, once the link is back, works', async () => {
    const database = guarded();
    await database.ping();
    proxy.set({ kind: 'blackhole' });
    const { error, ms } = await failure(database.ping());
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    proxy.pass();
    // The blackholed connection stays dead: only a new pool can answer this.
    await database.ping();
    expect(proxy.connections().filter((c) => c.deadUp).length).toBeGreaterThan(0);
  });

  test('a transaction whose link goes silent fails; one after it works', async () => {
    const database = guarded();
    const { error } = await failure(
      database.db.transaction(async (tx) => {
        await tx.execute(sql`select 1`);
        proxy.set({ kind: 'blackhole' });
        await tx.execute(sql`select 2`);
      }),
    );
    expect(isDatabaseUnavailable(error)).toBe(true);
    proxy.pass();
    const rows = await database.db.transaction((tx) => tx.execute<{ n: number }>(sql`select 3 as n`));
    expect([...(rows as unknown as { n: number }[])].map((r) => r.n)).toEqual([3]);
  });

  test('a transaction given up on does not keep its row locks at the server', async () => {
    const database = guarded();
    const { error } = await failure(
      database.db.transaction(async (tx) => {
        await tx.execute(sql`update fault_rows set n = n + 1 where id = 1`);
        // Silent before COMMIT: the server still holds the row, and never hears the client leave.
        proxy.set({ kind: 'blackhole' });
      }),
    );
    expect(isDatabaseUnavailable(error)).toBe(true);
    proxy.pass();
    // The orphaned session ends by itself (idle in transaction) and its update is rolled back.
    const deadline = Date.now() + 5000;
    for (;;) {
      const done = await database.db
        .execute(sql`update fault_rows set n = n + 10 where id = 1`)
        .then(() => true)
        .catch((e: unknown) => {
          if (!isDatabaseUnavailable(e)) throw e;
          return false;
        });
      if (done) break;
      if (Date.now() > deadline) throw new Error('the row stayed locked');
    }
    const [row] = (await direct.db.execute<{ n: number }>(
      sql`select n from fault_rows where id = 1`,
    )) as unknown as { n: number }[];
    expect(row!.n % 10).toBe(0);
  });

  test('refused and reset connections are unavailable too; a wrong statement is not', async () => {
    const database = guarded();
    await database.ping();
    const wrong = await failure(database.db.execute(sql`select * from no_such_table`));
    expect(wrong.error).not.toBeNull();
    expect(isDatabaseUnavailable(wrong.error)).toBe(false);
    proxy.set({ kind: 'reset' });
    expect(isDatabaseUnavailable((await failure(database.ping())).error)).toBe(true);
    proxy.set({ kind: 'reset', refuse: true });
    expect(isDatabaseUnavailable((await failure(database.ping())).error)).toBe(true);
  });

  test('every connection lost at once (a server restart): the first failure replaces them all', async () => {
    const database = guarded();
    // Four connections in the pool.
    await Promise.all([1, 2, 3, 4].map(() => database.db.execute(sql`select pg_sleep(0.05)`)));
    expect(proxy.stats().active).toBeGreaterThanOrEqual(4);
    proxy.set({ kind: 'reset' });
    proxy.pass();
    let failed = 0;
    for (let i = 0; i < 8; i++) {
      await database.ping().catch((error: unknown) => {
        expect(isDatabaseUnavailable(error)).toBe(true);
        failed += 1;
      });
    }
    expect(failed).toBeLessThanOrEqual(1);
  });

  test('a statement slower than the bound fails alone: the server stops it, the others in flight finish', async () => {
    const database = guarded();
    await database.ping();
    const marker = `slow_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const slow = failure(database.db.execute(sql.raw(`select pg_sleep(5) as ${marker}`)));
    // Others start just before the slow one reaches the bound, and end after it.
    await Bun.sleep(TIMEOUT_MS - 150);
    const others = Promise.all(
      [1, 2].map(() => database.db.execute<{ ok: number }>(sql`select 1 as ok from pg_sleep(0.3)`)),
    );
    const { error } = await slow;
    expect(isDatabaseUnavailable(error)).toBe(true);
    const answers = await others;
    expect(answers.map((rows) => (rows as unknown as { ok: number }[])[0]!.ok)).toEqual([1, 1]);
    // Nothing keeps running at the server for a caller that was given up on.
    const running = async () => {
      const rows = (await direct.db.execute<{ n: number }>(
        sql`select count(*)::int as n from pg_stat_activity
            where state = 'active' and query like ${`%${marker}%`} and pid <> pg_backend_pid()`,
      )) as unknown as { n: number }[];
      return rows[0]!.n;
    };
    const deadline = Date.now() + 1500;
    while ((await running()) > 0 && Date.now() < deadline) await Bun.sleep(50);
    expect(await running()).toBe(0);
  });

  test('without a bound (the default) nothing is cut short', async () => {
    const u = new URL(direct.url!);
    u.port = String(proxy.port);
    const database = openPostgres(u.toString(), { max: 1 });
    opened.push(database);
    await database.ping();
    const slow = await database.db.execute<{ ok: number }>(
      sql`select 1 as ok from pg_sleep(${(TIMEOUT_MS * 2) / 1000})`,
    );
    expect((slow as unknown as { ok: number }[])[0]!.ok).toBe(1);
  });
});

describe('migrations under the bound', () => {
  test('an instance waits for another that holds the migration lock longer than the bound', async () => {
    const admin = new SQL(direct.url!, { max: 1 });
    const name = `m_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
    await admin.unsafe(`create database ${name}`);
    const url = new URL(direct.url!);
    url.pathname = `/${name}`;
    const holder = new SQL(url.toString(), { max: 1 });
    try {
      // Another instance migrating: it holds the lock for three times the bound.
      const held = holder.begin(async (tx) => {
        await tx.unsafe('select pg_advisory_xact_lock(727110001)');
        await Bun.sleep(TIMEOUT_MS * 3);
      });
      await Bun.sleep(100);
      const database = guarded(url.toString());
      const started = performance.now();
      const applied = await migrate(database.db);
      expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS * 2);
      expect(applied).toBeGreaterThan(0);
      await held;
      expect(await migrate(database.db)).toBe(0);
    } finally {
      await holder.close();
      for (const d of opened.splice(0)) await d.close().catch(() => undefined);
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.close();
    }
  });
});
