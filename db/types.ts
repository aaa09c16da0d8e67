import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { schema } from './schema.ts';

/** Any drizzle Postgres database over this schema: PGlite, Bun's SQL client or Neon. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

type DatabaseKind = 'pglite' | 'postgres' | 'neon';

/** An open database and what it takes to check and close it. */
export interface Database {
  readonly db: Db;
  readonly kind: DatabaseKind;
  /** A short description for logs, without credentials. */
  readonly label: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}
