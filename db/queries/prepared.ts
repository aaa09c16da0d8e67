import { getTableColumns, type InferSelectModel, type Table } from 'drizzle-orm';
import type { Db } from '../types.ts';

/** Rows of a raw `db.execute`, whichever driver produced them. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

/** What a drizzle prepared query keeps of its statement (the same fields in every Postgres driver). */
interface BuiltStatement {
  query: Parameters<Db['_']['session']['prepareQuery']>[0];
  fields?: Parameters<Db['_']['session']['prepareQuery']>[1];
  _isResponseInArrayMode: boolean;
  customResultMapper?: Parameters<Db['_']['session']['prepareQuery']>[4];
  joinsNotNullableMap?: Record<string, boolean>;
}

/**
 * A statement whose SQL text is built once per process and then run in whichever handle is given,
 * the pool or a transaction (a transaction is a new handle each time). Building a statement on
 * `calls` (38 columns) costs 0.1–0.5 ms of CPU, several times its round trip. Values go in as
 * `sql.placeholder`s, encoded by their columns as in any prepared query. `name` names the
 * statement where the driver prepares it on the server (Neon's node-postgres protocol); Bun's
 * client sends every statement unnamed (see db/driver/bun-sql.ts), and PGlite ignores it.
 */
export function builtOnce<V extends Record<string, unknown>, R>(
  name: string,
  build: (db: Db) => { prepare(name: string): { execute(values?: V): Promise<R> } },
): (db: Db, values: V) => Promise<R> {
  let built: BuiltStatement | null = null;
  return (db, values) => {
    built ??= build(db).prepare(name) as unknown as BuiltStatement;
    const query = db._.session.prepareQuery(
      built.query,
      built.fields,
      name,
      built._isResponseInArrayMode,
      built.customResultMapper,
    ) as unknown as BuiltStatement & { execute(values?: V): Promise<R> };
    query.joinsNotNullableMap = built.joinsNotNullableMap;
    return query.execute(values);
  };
}

/**
 * A Postgres array literal of strings (for a `$1::text[]` or `::uuid[]` parameter): every element
 * quoted, backslashes and quotes escaped, so any text goes through as one element.
 */
export function pgArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

/**
 * A table's row as a raw statement returned it (`row_to_json(t)`, or a driver's object of columns
 * by their database names), decoded by the table's columns as drizzle decodes its own results.
 */
export function decodeRow<T extends Table>(table: T, raw: unknown): InferSelectModel<T> {
  const source = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    const value = source[column.name];
    out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return out as InferSelectModel<T>;
}

/** A value as JSON text for a `::jsonb` parameter; null and undefined stay SQL NULL. */
export const jsonText = (value: unknown) => (value == null ? null : JSON.stringify(value));
