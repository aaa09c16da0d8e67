import { openPostgres } from '../../../db/driver/bun-sql.ts';
import { migrate } from '../../../db/migrate.ts';
import type { Database } from '../../../db/types.ts';
import { sharedTestDatabase } from '../database.ts';
import { type PostgresCluster, removeWhenProcessEnds, startPostgresCluster } from '../postgres.ts';

/**
 * The e2e stack's database: a fresh one in the shared cluster (TEST_PG_URL, or this process's
 * own), or, with `own`, a durable cluster of the stack's own that a test may restart; close()
 * then stops and removes it.
 */
export async function stackDatabase(
  own: boolean,
): Promise<{ database: Database; url: string; cluster: PostgresCluster | null }> {
  if (!own) {
    const database = await sharedTestDatabase();
    return { database, url: database.url!, cluster: null };
  }
  const cluster = removeWhenProcessEnds(await startPostgresCluster({ durable: true }));
  const url = cluster.url();
  const direct = openPostgres(url, { max: 4 });
  await migrate(direct.db);
  const database: Database = {
    ...direct,
    async close() {
      await direct.close().catch(() => undefined);
      cluster.stop();
    },
  };
  return { database, url, cluster };
}
