import { SQL, type TransactionSQL } from 'bun';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/bun-sql';
import { DatabaseUnavailableError, isDatabaseUnavailable, isStatementTimeout } from '../errors.ts';
import { schema } from '../schema.ts';
import type { Database, Db } from '../types.ts';
import { redactUrl } from './redact.ts';

export interface PostgresOptions {
  /** Pool size; Bun's client multiplexes queries over these connections. */
  max?: number;
  /** Seconds to wait for a connection before a query fails. */
  connectionTimeout?: number;
  /**
   * Milliseconds one round trip to the server may take (a statement, or the BEGIN, COMMIT or
   * ROLLBACK of a transaction); 0 (default) waits for ever. The server itself stops a statement
   * a little before (statement_timeout), which fails that statement alone. When the bound passes
   * with no answer at all, the statement fails with DatabaseUnavailableError and the pool is
   * replaced, as it is when a statement finds its connection lost.
   */
  queryTimeoutMs?: number;
}

/**
 * A real Postgres server through Bun's built-in client. Statements are sent unnamed (`prepare:
 * false`): a named statement makes Bun encode each parameter by the type the server inferred, and
 * for json/jsonb it then encodes again the JSON text drizzle already made of the value, which stores
 * a JSON string ("{\"a\":1}") instead of the object. Unnamed, the text goes as it is and the
 * server parses it. Migration 0004 repairs values stored that way before.
 */
export function openPostgres(url: string, options: PostgresOptions = {}): Database {
  const timeoutMs = options.queryTimeoutMs ?? 0;
  const open = () =>
    new SQL(url, {
      max: options.max ?? 20,
      connectionTimeout: options.connectionTimeout ?? 10,
      idleTimeout: 30,
      prepare: false,
      // A connection given up on mid-transaction may never reach the server as closed (the
      // link died): the server ends such a session itself, rather than hold its row locks.
      // A statement that is merely slow is stopped by the server before the client's bound, so
      // it fails alone and stops costing the server, and its connection stays in the pool.
      ...(timeoutMs > 0
        ? {
            connection: {
              idle_in_transaction_session_timeout: timeoutMs,
              statement_timeout: Math.max(1, Math.floor(timeoutMs * 0.9)),
            },
          }
        : {}),
    });
  const pool = timeoutMs > 0 ? guardedPool(open, timeoutMs) : null;
  const client = pool ? (pool.client as unknown as SQL) : open();
  const db = drizzle({ client, schema, casing: 'snake_case' }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    label: redactUrl(url),
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      await (pool ? pool.current() : client).close({ timeout: 5 });
    },
  };
}

/** What drizzle's bun-sql session uses of a client: statements, transactions, savepoints. */
interface Statements {
  unsafe(query: string, params?: unknown[]): PromiseLike<unknown> & { values(): Promise<unknown> };
}
interface PoolClient extends Statements {
  begin<T>(fn: (tx: TxClient) => Promise<T>): Promise<T>;
}
interface TxClient extends Statements {
  savepoint<T>(fn: (tx: TxClient) => Promise<T>): Promise<T>;
}

/**
 * Bun's client has no bound on how long a statement waits for the server. A connection whose
 * peer went silent (a firewall that dropped its state, a blackholed link) holds its statements
 * for ever, and new statements are queued behind them. Every round trip is therefore given
 * `timeoutMs`; when one passes, it fails and the pool it ran on is replaced by a fresh one, so
 * that the next statements get new connections. The old pool is closed gracefully: what else is
 * in flight on it finishes (or fails at its own bound), so one slow statement never fails other
 * callers' healthy ones.
 */
function guardedPool(open: () => SQL, timeoutMs: number) {
  let current = open();

  const replace = (pool: SQL) => {
    if (pool !== current) return;
    current = open();
    pool.close({ timeout: Math.ceil(timeoutMs / 1000) }).catch(() => undefined);
  };

  /** Rejects when an armed round trip takes longer than timeoutMs. */
  const watch = (pool: SQL) => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let fail: (error: Error) => void = () => undefined;
    const expired = new Promise<never>((_, reject) => {
      fail = reject;
    });
    expired.catch(() => undefined);
    return {
      expired,
      arm(what: string) {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          fail(new DatabaseUnavailableError(`PostgreSQL did not answer ${what} within ${timeoutMs} ms`));
          replace(pool);
        }, timeoutMs);
      },
      disarm() {
        if (timer) clearTimeout(timer);
        timer = null;
      },
    };
  };

  // After a server restart every idle connection of the pool is dead, and Bun's client finds
  // each one only when a statement fails on it: the first such failure replaces them all.
  function settle<T>(pool: SQL, work: Promise<T>): Promise<T> {
    return work.catch((error: unknown) => {
      if (isDatabaseUnavailable(error) && !isStatementTimeout(error)) replace(pool);
      throw error;
    });
  }

  function bounded<T>(pool: SQL, work: PromiseLike<T>, what: string): Promise<T> {
    const w = watch(pool);
    w.arm(what);
    const settled = settle(pool, Promise.resolve(work));
    settled.catch(() => undefined);
    return Promise.race([settled, w.expired]).finally(() => w.disarm());
  }

  const statements = (pool: SQL, target: Pick<SQL, 'unsafe'>): Statements => ({
    unsafe(query, params) {
      const q = target.unsafe(query, params);
      return {
        // biome-ignore lint/suspicious/noThenProperty: drizzle awaits what unsafe() returns
        then: (onFulfilled, onRejected) => bounded(pool, q, 'a statement').then(onFulfilled, onRejected),
        values: () => bounded(pool, q.values(), 'a statement'),
      };
    },
  });

  const transaction = (pool: SQL, tx: TransactionSQL): TxClient => ({
    ...statements(pool, tx),
    savepoint: (fn) => tx.savepoint((inner: TransactionSQL) => fn(transaction(pool, inner))),
  });

  const client: PoolClient = {
    unsafe: (query, params) => statements(current, current).unsafe(query, params),
    begin<T>(fn: (tx: TxClient) => Promise<T>): Promise<T> {
      const pool = current;
      const w = watch(pool);
      w.arm('BEGIN');
      const work = pool.begin(async (tx) => {
        w.disarm();
        let value: T;
        try {
          value = await fn(transaction(pool, tx));
        } catch (error) {
          w.arm('ROLLBACK');
          throw error;
        }
        w.arm('COMMIT');
        return value;
      }) as Promise<T>;
      const settled = settle(pool, work);
      settled.catch(() => undefined);
      return Promise.race([settled, w.expired]).finally(() => w.disarm());
    },
  };

  return { client, current: () => current };
}
