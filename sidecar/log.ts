import type { LogLevel } from './config.ts';

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Fields): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

// Keys whose values must never reach a log line, whatever a caller passes by mistake.
const SECRET_KEY = /pass(word)?|secret|private|authorization|token|api_?key|^d$/i;

function scrub(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : scrub(inner, depth + 1);
  }
  return out;
}

/** JSON lines: one object per line with level, time, msg and the given fields. */
export function createLogger(options: {
  level: LogLevel;
  base?: Fields;
  sink?: (line: string) => void;
}): Logger {
  const min = RANK[options.level];
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const make = (base: Fields): Logger => {
    const write = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: Fields) => {
      if (RANK[level] < min) return;
      const record = {
        level,
        time: new Date().toISOString(),
        msg,
        ...base,
        ...(scrub(fields ?? {}) as Fields),
      };
      sink(JSON.stringify(record));
    };
    return {
      debug: (msg, fields) => write('debug', msg, fields),
      info: (msg, fields) => write('info', msg, fields),
      warn: (msg, fields) => write('warn', msg, fields),
      error: (msg, fields) => write('error', msg, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.base ?? {});
}
