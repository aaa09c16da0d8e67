import { SQL } from 'bun';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/bun-sql';
import { schema } from '../schema.ts';
import type { Database, Db } from '../types.ts';
import { redactUrl } from './redact.ts';

export interface PostgresOptions {
  /** Pool size; Bun's client multiplexes queries over these connections. */
  max?: number;
  /** Seconds to wait for a connection before a query fails. */
  connectionTimeout?: number;
}

/** A real Postgres server through Bun's built-in client; statements are prepared and cached per connection. */
export function openPostgres(url: string, options: PostgresOptions = {}): Database {
  const client = new SQL(url, {
    max: options.max ?? 20,
    connectionTimeout: options.connectionTimeout ?? 10,
    idleTimeout: 30,
    prepare: true,
  });
  const db = drizzle({ client, schema, casing: 'snake_case' }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    label: redactUrl(url),
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      await client.close({ timeout: 5 });
    },
  };
}
