import { loggableQueryError } from '../../db/errors.ts';
import { createLogger, type Logger, type LoggerOptions } from '../shared/base/log.ts';

/**
 * The shared logger as the API runs it: a failed statement is written as the database's error
 * (message, SQLSTATE, where in our code), never with its SQL and parameters, which carry callers'
 * values. Every API process and test that checks the API's logs makes its logger here.
 */
export function createApiLogger(options: Omit<LoggerOptions, 'errorFormat'> = {}): Logger {
  return createLogger({ ...options, errorFormat: loggableQueryError });
}
