import { neonConfig, Pool } from '@neondatabase/serverless';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/neon-serverless';
import { schema } from '../schema.ts';
import type { Database, Db } from '../types.ts';
import { redactUrl } from './redact.ts';

export interface NeonOptions {
  /** Connections this pool may open; one request rarely needs more than a few. */
  max?: number;
  /** Milliseconds to wait for a connection before a query fails. */
  connectionTimeoutMillis?: number;
}

/**
 * Postgres over WebSockets with @neondatabase/serverless (its node-postgres compatible `Pool`), for
 * runtimes without TCP sockets such as Cloudflare Workers. There a pool must not outlive the request
 * that opened it (its WebSockets belong to that request), so the Workers entry opens one per request
 * and closes it when the request and its background work are done.
 */
export function openNeon(url: string, options: NeonOptions = {}): Database {
  const pool = new Pool({
    connectionString: url,
    max: options.max ?? 5,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
  });
  const db = drizzle({ client: pool, schema, casing: 'snake_case' }) as unknown as Db;
  let closed: Promise<void> | null = null;
  return {
    db,
    kind: 'neon',
    label: `neon:${redactUrl(url)}`,
    async ping() {
      await db.execute(sql`select 1`);
    },
    close() {
      closed ??= pool.end();
      return closed;
    },
  };
}

/**
 * Points the driver at a plain (non-Neon) WebSocket-to-TCP proxy, e.g. `127.0.0.1:8765/v2`: the
 * proxy speaks ws:// on loopback and the Postgres behind it authenticates with its own methods, so
 * TLS and the password pipelining that only Neon's proxy understands are turned off. For local runs
 * and tests; a Neon database needs none of this.
 */
export function useLocalWebSocketProxy(proxy: string): void {
  neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}
