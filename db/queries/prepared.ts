import type { Db } from '../types.ts';

/**
 * Builds a prepared statement once per database handle. On Bun the handle lives as long as the
 * process, so hot paths parse and plan their SQL once; on Workers a handle lives for one request.
 */
export function preparedFor<T>(build: (db: Db) => T): (db: Db) => T {
  const cache = new WeakMap<Db, T>();
  return (db) => {
    let statement = cache.get(db);
    if (!statement) {
      statement = build(db);
      cache.set(db, statement);
    }
    return statement;
  };
}

/** Rows of a raw `db.execute`, whichever driver produced them. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
