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
  /** Bound on one round trip to a real Postgres (see PostgresOptions.queryTimeoutMs). */
  queryTimeoutMs?: number;
}

/** The driver factory on Bun: a real Postgres when DATABASE_URL is set, otherwise embedded PGlite. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    return openPostgres(options.databaseUrl, {
      ...(options.poolSize === undefined ? {} : { max: options.poolSize }),
      ...(options.queryTimeoutMs === undefined ? {} : { queryTimeoutMs: options.queryTimeoutMs }),
    });
  }
  const dir = resolve(options.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  return openPglite(dir);
}
