import { resolve } from 'node:path';
import { acquireDataDirLock } from './data-lock.ts';
import { openPostgres } from './driver/bun-sql.ts';
import { openPglite } from './driver/pglite.ts';
import { ensurePrivateDir } from './private-files.ts';
import type { Database } from './types.ts';

export interface OpenDatabaseOptions {
  /** `postgres://…` for a real server; empty for the embedded database. */
  databaseUrl?: string | undefined;
  /** Where the embedded database keeps its files. */
  dataDir: string;
  poolSize?: number;
  /** Bound on one round trip to a real Postgres (see PostgresOptions.queryTimeoutMs). */
  queryTimeoutMs?: number;
  /** Who opens the embedded database, as the data folder's lock names it (`npm start`, `npm run api`, …). */
  owner?: string;
}

/**
 * The driver factory on Bun: a real Postgres when DATABASE_URL is set, otherwise embedded PGlite, which
 * holds the data folder's lock while it is open (DataDirBusyError when another process has it).
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    return openPostgres(options.databaseUrl, {
      ...(options.poolSize === undefined ? {} : { max: options.poolSize }),
      ...(options.queryTimeoutMs === undefined ? {} : { queryTimeoutMs: options.queryTimeoutMs }),
    });
  }
  const lock = await acquireDataDirLock(options.dataDir, options.owner ?? 'outdial');
  try {
    const dir = resolve(options.dataDir, 'pglite');
    ensurePrivateDir(dir);
    const database = await openPglite(dir);
    return {
      ...database,
      async close() {
        try {
          await database.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}
