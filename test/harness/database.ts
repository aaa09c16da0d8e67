import { SQL } from 'bun';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { openPglite } from '../../db/driver/pglite.ts';
import { migrate } from '../../db/migrate.ts';
import type { Database } from '../../db/types.ts';
import { type PostgresCluster, removeWhenProcessEnds, startPostgresCluster } from './postgres.ts';

/**
 * The database a test file runs on, chosen by TEST_DB: `pglite` (default, in memory) or `postgres`
 * (a fresh database in the throwaway cluster at TEST_PG_URL, which the test runner starts).
 * Every call gives a new, empty, migrated database, so test files never share rows.
 */
export type TestDbKind = 'pglite' | 'postgres';

/** A test database; `url` reaches it from another process (postgres only). */
export type TestDatabase = Database & { readonly url: string | null };

export function testDbKind(): TestDbKind {
  return process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';
}

export async function createTestDatabase(
  kind: TestDbKind = testDbKind(),
  options: {
    /** Migrates from this folder instead of the committed migrations (tests of a migration). */
    migrationsFolder?: string;
  } = {},
): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const database = await openPglite();
    await migrate(database.db, options.migrationsFolder);
    return Object.assign(database, { url: null });
  }
  const base = process.env.TEST_PG_URL;
  if (!base) throw new Error('TEST_DB=postgres needs TEST_PG_URL (the test runner sets it)');
  const name = `t_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new SQL(base, { max: 1 });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.close();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = openPostgres(url.toString(), { max: 20 });
  await migrate(database.db, options.migrationsFolder);
  const close = database.close.bind(database);
  return {
    ...database,
    url: url.toString(),
    async close() {
      await close();
      const cleanup = new SQL(base, { max: 1 });
      try {
        await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await cleanup.close();
      }
    },
  };
}

let ownCluster: Promise<PostgresCluster> | null = null;

/** TEST_PG_URL, or a cluster of this process's own, removed when the process ends. */
async function ensurePostgres(): Promise<void> {
  if (process.env.TEST_PG_URL) return;
  ownCluster ??= startPostgresCluster().then(removeWhenProcessEnds);
  process.env.TEST_PG_URL = (await ownCluster).url();
}

/**
 * A fresh, migrated database in the shared cluster (TEST_PG_URL, or this process's own): what the
 * e2e and fault suites run on, whatever TEST_DB says.
 */
export async function sharedTestDatabase() {
  await ensurePostgres();
  return createTestDatabase('postgres');
}
