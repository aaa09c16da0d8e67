import { DrizzleQueryError } from 'drizzle-orm/errors';

/**
 * Errors that say the database cannot be reached right now (refused, reset, restarting, not
 * answering), as opposed to a query that is wrong: the caller may answer 503 and try again.
 */

/** The database did not answer within the configured time; the pool was replaced. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  readonly isDatabaseUnavailable = true;
}

/**
 * Bun's SQL client: the connection went away, or could not be made (FAILED: the server closed it
 * while it was starting, as PostgreSQL does to connections it accepts while shutting down).
 */
const CLIENT_CODES = new Set([
  'ERR_POSTGRES_CONNECTION_CLOSED',
  'ERR_POSTGRES_CONNECTION_FAILED',
  'ERR_POSTGRES_CONNECTION_REFUSED',
  'ERR_POSTGRES_CONNECTION_TIMEOUT',
  'ERR_POSTGRES_IDLE_TIMEOUT',
  'ERR_POSTGRES_LIFETIME_TIMEOUT',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** The server cancelled a statement that outran its statement_timeout (the bound on its work). */
const STATEMENT_TIMEOUT = '57014';

/**
 * PostgreSQL's own: class 08 (connection exception), a server shutting down or crashed
 * (57P01, 57P02), one still starting (57P03), no connection slot left (53300), a statement
 * the server stopped at its time bound (57014).
 */
function isUnavailableState(state: string): boolean {
  return (
    /^08[0-9A-Z]{3}$/.test(state) || ['57P01', '57P02', '57P03', '53300', STATEMENT_TIMEOUT].includes(state)
  );
}

/**
 * The server stopped this statement at its time bound: the connection it ran on is fine, only
 * this statement failed (the caller may still answer 503).
 */
export function isStatementTimeout(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const fields = e as { code?: unknown; errno?: unknown; cause?: unknown };
    if (fields.code === STATEMENT_TIMEOUT || fields.errno === STATEMENT_TIMEOUT) return true;
    e = fields.cause;
  }
  return false;
}

export function isDatabaseUnavailable(error: unknown): boolean {
  // Drizzle wraps the driver's error as `cause`.
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const fields = e as { isDatabaseUnavailable?: unknown; code?: unknown; errno?: unknown; cause?: unknown };
    if (fields.isDatabaseUnavailable === true) return true;
    for (const value of [fields.code, fields.errno]) {
      if (typeof value !== 'string') continue;
      if (CLIENT_CODES.has(value) || NETWORK_CODES.has(value) || isUnavailableState(value)) return true;
    }
    e = fields.cause;
  }
  return false;
}

/**
 * What of a failed statement may be written to a log: the database's own message, its SQLSTATE,
 * the constraint, table or column it names, and where in our code it failed. Never the statement
 * and its parameters, which drizzle puts in the message of the error it throws and which carry
 * callers' values (numbers, hashes, tokens). Null for anything that is not a failed statement.
 */
export function loggableQueryError(error: unknown): Record<string, unknown> | null {
  if (!(error instanceof DrizzleQueryError)) return null;
  const cause = error.cause as
    | {
        message?: unknown;
        code?: unknown;
        errno?: unknown;
        constraint?: unknown;
        table?: unknown;
        column?: unknown;
      }
    | undefined;
  const out: Record<string, unknown> = {
    name: 'DatabaseQueryError',
    message: typeof cause?.message === 'string' ? cause.message : 'the statement failed',
  };
  // PGlite and node-postgres put the SQLSTATE in `code`; Bun's client in `errno`.
  const sqlstate = [cause?.errno, cause?.code].find((v) => typeof v === 'string' && /^[0-9A-Z]{5}$/.test(v));
  if (sqlstate) out.sqlstate = sqlstate;
  for (const key of ['constraint', 'table', 'column'] as const) {
    const value = cause?.[key];
    if (typeof value === 'string' && value) out[key] = value;
  }
  // The stack's first lines repeat the message; only the frames are kept.
  const frames = error.stack?.split('\n').filter((line) => /^\s+at /.test(line));
  if (frames?.length) out.stack = frames.slice(0, 8).join('\n');
  return out;
}
