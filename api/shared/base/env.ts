import { z } from 'zod';

/**
 * The one way a process reads its environment: a zod schema per process (the API's in
 * api/config.ts, the sidecar's in sidecar/config.ts, the simulator's in asterisk/sim/config.ts)
 * built from the fields below, read by `readEnv`. Defaults live in the schema; a bad environment
 * is one EnvError that names every bad variable at once, with a plain reason each, and never
 * shows the value of a variable marked secret. Runtime-neutral: on Workers the bindings' strings
 * are the environment.
 */

export type RawEnv = Record<string, string | undefined>;

/** One bad variable and why, in plain words ("must be a port number (0–65535), got \"abc\""). */
export interface EnvProblem {
  variable: string;
  reason: string;
}

/** The environment cannot start the process; the message lists every problem, one a line. */
export class EnvError extends Error {
  override name = 'EnvError';
  readonly isEnvError = true;
  readonly problems: EnvProblem[];
  constructor(service: string, problems: EnvProblem[]) {
    super(
      `invalid ${service} configuration:\n${problems.map((p) => `  ${p.variable}: ${p.reason}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

export function isEnvError(error: unknown): error is EnvError {
  return (
    typeof error === 'object' && error !== null && (error as { isEnvError?: unknown }).isEnvError === true
  );
}

// Variables whose value must never appear in a message (keys, passwords, URLs with credentials).
const secrets = z.registry<{ secret: true }>();

/** Marks a variable secret: a problem with it says "is set but invalid", never its value. */
export function secret<S extends z.ZodType>(schema: S): S {
  secrets.add(schema, { secret: true });
  return schema;
}

/** A value as a message may show it: quoted, and cut short. */
function shown(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
}

/** A refusal from a field's parser: the plain reason, to which the value is added. */
class Refusal {
  constructor(readonly reason: string) {}
}
const refuse = (reason: string) => new Refusal(reason);

/**
 * A variable read from its text: unset gives `fallback`, anything else goes through `parse`,
 * which returns the value or a refusal ("must be …"), reported with the value it got.
 */
function field<T, F extends T | undefined>(fallback: F, parse: (raw: string) => T | Refusal) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T | F => {
      if (raw === undefined) return fallback;
      const value = parse(raw);
      if (value instanceof Refusal) {
        // The bare reason rides along for secrets, whose value the message must not show.
        ctx.addIssue({
          code: 'custom',
          message: `${value.reason}, got ${shown(raw)}`,
          params: { reason: value.reason },
        });
        return z.NEVER;
      }
      return value;
    });
}

const WHOLE = /^-?\d+$/;

/** A whole number from `min` to `max`. */
export function int(fallback: number, min: number, max: number) {
  return field(fallback, (raw) => {
    const n = Number(raw.trim());
    return WHOLE.test(raw.trim()) && n >= min && n <= max
      ? n
      : refuse(`must be a whole number from ${min} to ${max}`);
  });
}

/** A TCP port; 0 lets the system choose a free one. */
export function port(fallback: number) {
  return field(fallback, (raw) => {
    const n = Number(raw.trim());
    return WHOLE.test(raw.trim()) && n >= 0 && n <= 65535 ? n : refuse('must be a port number (0–65535)');
  });
}

/** A number (fractions allowed) of at least `min`. */
export function decimal(fallback: number, min: number) {
  return field(fallback, (raw) => {
    const n = Number(raw.trim());
    return Number.isFinite(n) && n >= min ? n : refuse(`must be a number of at least ${min}`);
  });
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/** A switch: true/false, 1/0, yes/no, on/off. */
export function bool(fallback: boolean) {
  return field(fallback, (raw) =>
    TRUE.includes(raw) ? true : FALSE.includes(raw) ? false : refuse('must be true or false'),
  );
}

/** One of a fixed list of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) {
  return field(fallback, (raw) =>
    (values as readonly string[]).includes(raw)
      ? (raw as T[number])
      : refuse(`must be one of ${values.join(', ')}`),
  );
}

/** Free text (no constraint beyond being set); without a fallback, unset is undefined. */
export function text(fallback: string): ReturnType<typeof field<string, string>>;
export function text(): ReturnType<typeof field<string, undefined>>;
export function text(fallback?: string) {
  return field(fallback, (raw) => raw);
}

/** Text matching `pattern`; `what` says in words what it must be ("letters, digits, _ and -, at most 50"). */
export function matching(pattern: RegExp, what: string, fallback: string) {
  return field(fallback, (raw) => (pattern.test(raw) ? raw : refuse(`must be ${what}`)));
}

/** A comma-separated list; blanks between commas are dropped. */
export function list(fallback: string[]) {
  return field(fallback, (raw) =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** A comma-separated list of TCP ports (1–65535). */
export function portList(fallback: number[]) {
  return field(fallback, (raw) => {
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const ok = items.every((item) => /^\d{1,5}$/.test(item) && Number(item) >= 1 && Number(item) <= 65535);
    return ok ? items.map(Number) : refuse('must be port numbers (1–65535), separated by commas');
  });
}

/** A URL; with `httpOnly`, an http(s) one without trailing slashes. */
export function url(
  fallback: string,
  options?: { httpOnly?: boolean },
): ReturnType<typeof field<string, string>>;
export function url(
  fallback: undefined,
  options?: { httpOnly?: boolean },
): ReturnType<typeof field<string, undefined>>;
export function url(fallback: string | undefined, options: { httpOnly?: boolean } = {}) {
  return field(fallback, (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return refuse(options.httpOnly ? 'must be an http(s) URL' : 'must be a URL');
    }
    if (!options.httpOnly) return raw;
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return refuse('must be an http(s) URL');
    return raw.replace(/\/+$/, '');
  });
}

/** A variable without a default: unset is refused with `what` it must hold. */
export function required(what: string) {
  return z.string({ error: `is required (${what})` });
}

/** Unset or blank: shells and .env files write `X=` for "not set". */
function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

function isSecret(schema: z.ZodObject, variable: string): boolean {
  const inner = schema.shape[variable];
  return inner !== undefined && secrets.has(inner as z.ZodType);
}

/** The plain reason for one issue; zod's own wording is kept only where no field above spoke. */
function reasonOf(issue: z.core.$ZodIssue): string {
  if (
    issue.code === 'invalid_type' &&
    issue.input === undefined &&
    !issue.message.startsWith('is required')
  ) {
    return 'is required';
  }
  return issue.message;
}

/**
 * A set secret's problem: "is set but invalid", with the reason only when it cannot quote the
 * value (a field's bare reason, or a message with no quotes and no part of the value in it).
 */
function secretReason(issue: z.core.$ZodIssue, value: string): string {
  const bare =
    issue.code === 'custom' ? (issue.params as { reason?: unknown } | undefined)?.reason : undefined;
  if (typeof bare === 'string') return `is set but invalid: ${bare}`;
  const quotes = issue.message.includes('"') || issue.message.includes(value);
  return quotes ? 'is set but invalid' : `is set but invalid: ${issue.message}`;
}

/**
 * Reads the environment with `schema`; `service` names the process in the error ("API",
 * "sidecar"). Blank values count as unset. Throws an EnvError naming every bad variable.
 */
export function readEnv<S extends z.ZodObject>(service: string, schema: S, env: RawEnv): z.output<S> {
  const given: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (isSet(value)) given[name] = value;
  const result = schema.safeParse(given);
  if (result.success) return result.data;
  const problems: EnvProblem[] = [];
  for (const issue of result.error.issues) {
    const variable = issue.path.length > 0 ? String(issue.path[0]) : '(environment)';
    const name = String(issue.path[0]);
    const reason =
      given[name] !== undefined && isSecret(schema, name)
        ? secretReason(issue, given[name])
        : reasonOf(issue);
    if (!problems.some((p) => p.variable === variable && p.reason === reason))
      problems.push({ variable, reason });
  }
  throw new EnvError(service, problems);
}
