import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { Db } from './types.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));

// Any constant works; it only has to be the same for every instance of the service.
const MIGRATION_LOCK = 727_110_001;

/**
 * Applies the committed drizzle-kit migrations that the database has not seen yet.
 * Several instances may start at once: an advisory lock makes them take turns, and the
 * bookkeeping table is drizzle's own, so drizzle-kit sees the same history.
 * Returns how many migrations were applied.
 */
export async function migrate(db: Db, folder = MIGRATIONS_FOLDER): Promise<number> {
  const migrations = readMigrationFiles({ migrationsFolder: folder });
  return db.transaction(async (tx) => {
    // Polled rather than waited for in one statement, which a bound on statement time
    // (DATABASE_QUERY_TIMEOUT_MS) would cut short while another instance migrates.
    for (;;) {
      const got = await tx.execute<{ locked: boolean }>(
        sql`select pg_try_advisory_xact_lock(${MIGRATION_LOCK}) as locked`,
      );
      const list = Array.isArray(got) ? got : (got as { rows: { locked: boolean }[] }).rows;
      if (list[0]?.locked) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await tx.execute(sql`create schema if not exists drizzle`);
    await tx.execute(
      sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
    );
    const rows = await tx.execute<{ created_at: string | number }>(
      sql`select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`,
    );
    const list = Array.isArray(rows) ? rows : (rows as { rows: { created_at: string | number }[] }).rows;
    const last = list.length > 0 ? Number(list[0]!.created_at) : 0;
    let applied = 0;
    for (const m of migrations) {
      if (m.folderMillis <= last) continue;
      for (const statement of m.sql) {
        if (statement.trim()) await tx.execute(sql.raw(statement));
      }
      await tx.execute(
        sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${m.hash}, ${m.folderMillis})`,
      );
      applied++;
    }
    return applied;
  });
}
