import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { schema } from '../schema.ts';
import type { Database, Db } from '../types.ts';

/**
 * Embedded Postgres (PGlite): persisted in `dataDir`, or in memory when it is omitted.
 * One connection; PGlite serialises queries itself.
 */
export async function openPglite(dataDir?: string): Promise<Database> {
  const client = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
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
    },
  };
}
