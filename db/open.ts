import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { openPostgres } from './driver/bun-sql.ts';
import { openPglite } from './driver/pglite.ts';
import type { Database } from './types.ts';

export interface OpenDatabaseOptions {
  /** `postgres://…` for a real server; empty for the embedded database. */
  databaseUrl?: string | undefined;
  /** Where the embedded database keeps its files. */
  dataDir: string;
  poolSize?: number;
}

/** The driver factory on Bun: a real Postgres when DATABASE_URL is set, otherwise embedded PGlite. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const opts = options.poolSize === undefined ? {} : { max: options.poolSize };
    return openPostgres(options.databaseUrl, opts);
  }
  const dir = resolve(options.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  return openPglite(dir);
}
