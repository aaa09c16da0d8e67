import { describe, expect, test } from 'bun:test';
import { z } from 'zod';
import { SimEnv } from '../../../asterisk/sim/config.ts';
import { parseConfig, SidecarEnv } from '../../../sidecar/config.ts';
import { ConfigSchema, loadConfig } from '../../config.ts';
import {
  bool,
  decimal,
  EnvError,
  int,
  isEnvError,
  list,
  matching,
  oneOf,
  port,
  portList,
  readEnv,
  required,
  secret,
  text,
  url,
} from './env.ts';

/** The EnvError `read` throws (the test fails if it throws nothing or something else). */
function envError(read: () => unknown): EnvError {
  try {
    read();
  } catch (error) {
    if (isEnvError(error)) return error;
    throw error;
  }
  throw new Error('read the environment without an error');
}

const Sample = z.object({
  PORT: port(8000),
  WORKERS: int(4, 1, 64),
  SCALE: decimal(1, 0),
  DEBUG: bool(false),
  MODE: oneOf(['fast', 'safe'], 'safe'),
  NAME: matching(/^[a-z]{1,8}$/, 'lower-case letters, at most 8', 'app'),
  TAGS: list(['a']),
  PORTS: portList([443]),
  HOME_URL: url('http://127.0.0.1:1/', { httpOnly: true }),
  LABEL: text('outdial'),
  NOTE: text(),
  KEY: secret(required('an Ed25519 key')),
  PIN: secret(int(1234, 1000, 9999)),
  DSN: secret(url(undefined)),
});

describe('readEnv', () => {
  test('applies every default the schema states, and blank values count as unset', () => {
    const expected = {
      PORT: 8000,
      WORKERS: 4,
      SCALE: 1,
      DEBUG: false,
      MODE: 'safe' as const,
      NAME: 'app',
      TAGS: ['a'],
      PORTS: [443],
      HOME_URL: 'http://127.0.0.1:1/',
      LABEL: 'outdial',
      NOTE: undefined,
      KEY: 'k',
      PIN: 1234,
      DSN: undefined,
    };
    expect(readEnv('sample', Sample, { KEY: 'k' })).toEqual(expected);
    const blanks = Object.fromEntries(Object.keys(Sample.shape).map((name) => [name, ' ']));
    expect(readEnv('sample', Sample, { ...blanks, KEY: 'k' })).toEqual(expected);
  });

  test('reads each kind of value from its text', () => {
    const env = readEnv('sample', Sample, {
      PORT: '0',
      WORKERS: ' 64 ',
      SCALE: '0.05',
      DEBUG: 'yes',
      MODE: 'fast',
      NAME: 'abc',
      TAGS: ' x, ,y ',
      PORTS: '443, 8443',
      HOME_URL: 'https://example.com/base//',
      NOTE: 'n',
      KEY: 'k',
      PIN: '9999',
      DSN: 'postgres://u:p@db/x',
    });
    expect(env).toMatchObject({
      PORT: 0,
      WORKERS: 64,
      SCALE: 0.05,
      DEBUG: true,
      MODE: 'fast',
      NAME: 'abc',
      TAGS: ['x', 'y'],
      PORTS: [443, 8443],
      HOME_URL: 'https://example.com/base',
      NOTE: 'n',
      PIN: 9999,
    });
  });

  test('names every bad variable at once, each with a plain reason and the value it got', () => {
    const error = envError(() =>
      readEnv('sample', Sample, {
        PORT: 'abc',
        WORKERS: '65',
        SCALE: '-1',
        DEBUG: 'maybe',
        MODE: 'quick',
        NAME: 'ABC',
        PORTS: '443,0',
        HOME_URL: 'ftp://example.com',
      }),
    );
    expect(error.message.split('\n')).toEqual([
      'invalid sample configuration:',
      '  PORT: must be a port number (0–65535), got "abc"',
      '  WORKERS: must be a whole number from 1 to 64, got "65"',
      '  SCALE: must be a number of at least 0, got "-1"',
      '  DEBUG: must be true or false, got "maybe"',
      '  MODE: must be one of fast, safe, got "quick"',
      '  NAME: must be lower-case letters, at most 8, got "ABC"',
      '  PORTS: must be port numbers (1–65535), separated by commas, got "443,0"',
      '  HOME_URL: must be an http(s) URL, got "ftp://example.com"',
      '  KEY: is required (an Ed25519 key)',
    ]);
    expect(error.problems.map((p) => p.variable)).toEqual([
      'PORT',
      'WORKERS',
      'SCALE',
      'DEBUG',
      'MODE',
      'NAME',
      'PORTS',
      'HOME_URL',
      'KEY',
    ]);
  });

  test("a secret's problem says it is set but invalid, never its value", () => {
    const long = `${'p'.repeat(120)}-hunter2`;
    const error = envError(() =>
      readEnv('sample', Sample, { KEY: 'k', PIN: long, DSN: 'not a url: s3cr3t-dsn' }),
    );
    expect(error.message.split('\n')).toEqual([
      'invalid sample configuration:',
      '  PIN: is set but invalid: must be a whole number from 1000 to 9999',
      '  DSN: is set but invalid: must be a URL',
    ]);
    // Not even the cut-short start a non-secret's message would quote.
    expect(error.message).not.toContain('ppp');
    expect(error.message).not.toContain('s3cr3t');
  });

  test("a secret's problem from a check across variables keeps no quoted part of its value", () => {
    const Checked = z.object({ TOKEN: secret(text()) }).superRefine((env, ctx) => {
      if (env.TOKEN?.startsWith('x')) {
        ctx.addIssue({
          code: 'custom',
          path: ['TOKEN'],
          message: `"${env.TOKEN.slice(0, 4)}" is a placeholder`,
        });
      }
      if (env.TOKEN === 'tiny') ctx.addIssue({ code: 'custom', path: ['TOKEN'], message: 'is too short' });
    });
    expect(envError(() => readEnv('x', Checked, { TOKEN: 'xyzzy-secret' })).message).toBe(
      'invalid x configuration:\n  TOKEN: is set but invalid',
    );
    expect(envError(() => readEnv('x', Checked, { TOKEN: 'tiny' })).message).toBe(
      'invalid x configuration:\n  TOKEN: is set but invalid: is too short',
    );
    // A message holding the value itself, even unquoted, loses its reason too.
    const Named = z.object({ TOKEN: secret(text()) }).refine((env) => env.TOKEN !== 'short', {
      path: ['TOKEN'],
      message: 'is too short',
    });
    expect(envError(() => readEnv('x', Named, { TOKEN: 'short' })).message).toBe(
      'invalid x configuration:\n  TOKEN: is set but invalid',
    );
  });

  test('hostile values: a quoted value is cut short and escaped, one problem stays one line', () => {
    const error = envError(() =>
      readEnv('sample', Sample, { KEY: 'k', NAME: `a\nb"\u0000${'z'.repeat(500)}` }),
    );
    expect(error.message.split('\n')).toHaveLength(2);
    expect(error.message).toContain('NAME: must be lower-case letters, at most 8, got "a\\nb\\"\\u0000zzz');
    expect(error.message.length).toBeLessThan(250);
  });

  test('isEnvError goes by its marker, so a second copy of the module still matches', () => {
    expect(isEnvError(new EnvError('x', []))).toBe(true);
    expect(isEnvError({ isEnvError: true })).toBe(true);
    expect(isEnvError(new Error('invalid x configuration'))).toBe(false);
    expect(isEnvError(null)).toBe(false);
  });
});

describe('the processes read their environment through it', () => {
  test('the API names several bad variables at once, secrets without their value', () => {
    const error = envError(() =>
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'ignored', BCRYPT_COST: '99' }),
    );
    expect(error.message.split('\n')).toEqual([
      'invalid API configuration:',
      '  PORT: must be a port number (0–65535), got "eighty"',
      '  LOG_LEVEL: must be one of debug, info, warn, error, got "loud"',
      '  BCRYPT_COST: must be a whole number from 4 to 15, got "99"',
    ]);
    const key = 'change-me-placeholder-private-key';
    const production = envError(() => loadConfig({ JWT_PRIVATE_KEY: key }));
    expect(production.problems.map((p) => p.variable)).toEqual(['JWT_PRIVATE_KEY', 'SIDECAR_PUBLIC_KEY']);
    expect(production.problems[0]!.reason).toStartWith('is set but invalid');
    expect(production.message).not.toContain(key);
  });

  test('the sidecar names several bad variables at once, secrets without their value', () => {
    const error = envError(() =>
      parseConfig({
        SIDECAR_PORT: 'abc',
        SIDECAR_PRIVATE_KEY: '   ',
        API_URL: 'ftp://x',
        ORIGINATE_CPS: '0',
      }),
    );
    expect(error.message.split('\n')).toEqual([
      'invalid sidecar configuration:',
      '  SIDECAR_PORT: must be a port number (0–65535), got "abc"',
      '  SIDECAR_PRIVATE_KEY: is required (Ed25519 JWK JSON or PKCS#8 PEM)',
      '  API_URL: must be an http(s) URL, got "ftp://x"',
      '  API_PUBLIC_KEYS: is required (JWKS, JWK or SPKI PEM of the API signing keys)',
      '  ORIGINATE_CPS: must be a whole number from 1 to 10000, got "0"',
    ]);
  });

  test('the simulator applies its defaults and names its bad variables', () => {
    expect(readEnv('ARI simulator', SimEnv, {})).toEqual({
      SIM_PORT: 8088,
      SIM_HOST: '127.0.0.1',
      ARI_USERNAME: 'ariuser',
      ARI_PASSWORD: 'aripass',
      SIM_TIME_SCALE: 1,
      SIM_EVENTS_BEFORE_REPLY: 'sometimes',
    });
    const error = envError(() =>
      readEnv('ARI simulator', SimEnv, { SIM_PORT: '-1', SIM_TIME_SCALE: 'fast' }),
    );
    expect(error.problems.map((p) => p.variable)).toEqual(['SIM_PORT', 'SIM_TIME_SCALE']);
  });

  test('every variable of every schema has a default or says it is required', () => {
    for (const shape of [ConfigSchema.shape, SidecarEnv.shape, SimEnv.shape]) {
      for (const [name, schema] of Object.entries(shape as Record<string, z.ZodType>)) {
        const unset = schema.safeParse(undefined);
        const says = unset.success || unset.error.issues.every((i) => i.message.startsWith('is required'));
        expect({ name, says }).toEqual({ name, says: true });
      }
    }
  });
});
