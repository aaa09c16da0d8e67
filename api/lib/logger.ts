import { loggableQueryError } from '../../db/errors.ts';

/** JSON logs, one object per line, with the context (request id, call id, …) bound in. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogSink = (line: string, level: LogLevel) => void;

const defaultSink: LogSink = (line, level) => {
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
};

function serializeError(value: unknown): unknown {
  const query = loggableQueryError(value);
  if (query) return query;
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      stack: value.stack?.split('\n').slice(0, 8).join('\n'),
    };
  }
  return value;
}

export function createLogger(
  options: { level?: LogLevel; sink?: LogSink; base?: Record<string, unknown> } = {},
): Logger {
  const min = RANK[options.level ?? 'info'];
  const sink = options.sink ?? defaultSink;
  const base = options.base ?? {};
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min) return;
    const record: Record<string, unknown> = { level, time: new Date().toISOString(), msg, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) record[k] = serializeError(v);
    sink(JSON.stringify(record), level);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ level: options.level ?? 'info', sink, base: { ...base, ...fields } }),
  };
}

/** Discards everything; for tests that assert on behaviour, not on logs. */
export const silentLogger: Logger = createLogger({ level: 'error', sink: () => {} });
