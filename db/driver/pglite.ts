import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { tightenTree } from '../private-files.ts';
import { schema } from '../schema.ts';
import type { Database, Db } from '../types.ts';

/**
 * Embedded Postgres (PGlite): persisted in `dataDir`, or in memory when it is omitted.
 * One connection; PGlite serialises queries itself. Its files are made owner-only when it opens and
 * again when it closes: PGlite writes the files of a new database world-readable and world-writable
 * (0666, whatever the umask), and a few it rewrites later 0644.
 */
export async function openPglite(dataDir?: string): Promise<Database> {
  const client = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  if (dataDir) tightenTree(dataDir);
  const db = drizzle({ client, schema, casing: 'snake_case' }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    label: dataDir ? `pglite:${dataDir}` : 'pglite:memory',
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      if (!client.closed) await client.close();
      if (dataDir) tightenTree(dataDir);
    },
  };
}
