/**
 * Errors that say the database cannot be reached right now (refused, reset, restarting, not
 * answering), as opposed to a query that is wrong: the caller may answer 503 and try again.
 */

/** The database did not answer within the configured time; the pool was replaced. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  readonly isDatabaseUnavailable = true;
}

/** Bun's SQL client: the connection went away, or could not be made. */
const CLIENT_CODES = new Set([
  'ERR_POSTGRES_CONNECTION_CLOSED',
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
