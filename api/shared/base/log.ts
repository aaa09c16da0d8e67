/**
 * The one logger of every Outdial process: JSON, one record a line, `level`, `time` and `msg`
 * first, then the bound context (`child({ request_id })`, `child({ call_id })`, …) and the
 * record's own fields. Runtime-neutral (console only), so the API on Workers uses it as it is.
 *
 * What never reaches a line: values under keys that name secrets (passwords, tokens, private
 * keys), whatever a caller passes by mistake, and what `errorFormat` keeps out of an error (the
 * API passes one that writes a failed statement without its SQL and parameters).
 */

type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
type Level = Exclude<LogLevel, 'silent'>;
type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Fields): Logger;
}

/** Where a finished line goes. */
export type LogSink = (line: string, level: Level) => void;

/** Warnings and errors to stderr, the rest to stdout. */
const consoleSink: LogSink = (line, level) => {
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
};

/** Every line to stdout (a process whose supervisor reads one stream). */
export const stdoutSink: LogSink = (line) => console.log(line);

/** Writes an error value as a record, or returns null to leave it to the default. */
type ErrorFormat = (value: unknown) => Fields | null;

export interface LoggerOptions {
  level?: LogLevel;
  /** Bound into every line (service name, sidecar id, …). */
  base?: Fields;
  sink?: LogSink;
  errorFormat?: ErrorFormat;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

// Keys whose values must never reach a log line.
const SECRET_KEY = /pass(word)?|secret|private|authorization|token|api_?key|^d$/i;

function formatError(value: Error, errorFormat: ErrorFormat | undefined): Fields {
  return (
    errorFormat?.(value) ?? {
      name: value.name,
      message: value.message,
      stack: value.stack?.split('\n').slice(0, 8).join('\n'),
    }
  );
}

/** A field value made safe to write: errors as records, secret keys redacted, depth bounded. */
function scrub(value: unknown, errorFormat: ErrorFormat | undefined, depth = 0): unknown {
  if (value instanceof Error) return formatError(value, errorFormat);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => scrub(item, errorFormat, depth + 1));
  const out: Fields = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : scrub(inner, errorFormat, depth + 1);
  }
  return out;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const sink = options.sink ?? consoleSink;
  const { errorFormat } = options;
  const make = (base: Fields): Logger => {
    const write = (level: Level, msg: string, fields?: Fields) => {
      if (RANK[level] < min) return;
      const record = {
        level,
        time: new Date().toISOString(),
        msg,
        ...base,
        ...(scrub(fields ?? {}, errorFormat) as Fields),
      };
      sink(JSON.stringify(record), level);
    };
    return {
      debug: (msg, fields) => write('debug', msg, fields),
      info: (msg, fields) => write('info', msg, fields),
      warn: (msg, fields) => write('warn', msg, fields),
      error: (msg, fields) => write('error', msg, fields),
      child: (fields) => make({ ...base, ...(scrub(fields, errorFormat) as Fields) }),
    };
  };
  return make(options.base ?? {});
}

/** Discards everything; for tests that assert on behaviour, not on logs. */
export const silentLogger: Logger = createLogger({ level: 'silent', sink: () => {} });
