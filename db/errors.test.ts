import { describe, expect, test } from 'bun:test';
import { DatabaseUnavailableError, isDatabaseUnavailable, isStatementTimeout } from './errors.ts';

/** Which driver errors mean "the database cannot be reached now" (503) rather than a bug (500). */

const wrapped = (cause: unknown) => Object.assign(new Error('Failed query: select 1'), { cause });

describe('isDatabaseUnavailable', () => {
  test('Bun SQL connection errors, server shutdown and start-up states, network errors, our timeout', () => {
    for (const error of [
      Object.assign(new Error('Connection closed'), { code: 'ERR_POSTGRES_CONNECTION_CLOSED' }),
      Object.assign(new Error('refused'), { code: 'ERR_POSTGRES_CONNECTION_REFUSED' }),
      Object.assign(new Error('terminating connection due to administrator command'), {
        code: 'ERR_POSTGRES_SERVER_ERROR',
        errno: '57P01',
      }),
      Object.assign(new Error('the database system is starting up'), { errno: '57P03' }),
      Object.assign(new Error('connection failure'), { code: '08006' }),
      Object.assign(new Error('too many clients'), { errno: '53300' }),
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      new DatabaseUnavailableError('PostgreSQL did not answer a statement within 3000 ms'),
    ]) {
      expect({ error: error.message, unavailable: isDatabaseUnavailable(wrapped(error)) }).toEqual({
        error: error.message,
        unavailable: true,
      });
    }
  });

  test('a wrong query, a constraint, or anything else is not', () => {
    for (const error of [
      Object.assign(new Error('relation "x" does not exist'), {
        code: 'ERR_POSTGRES_SERVER_ERROR',
        errno: '42P01',
      }),
      Object.assign(new Error('duplicate key'), { code: '23505' }),
      new TypeError('x is not a function'),
      'a string',
      null,
    ]) {
      expect(isDatabaseUnavailable(wrapped(error))).toBe(false);
    }
  });
});

describe('isStatementTimeout', () => {
  const timedOut = Object.assign(new Error('canceling statement due to statement timeout'), {
    code: 'ERR_POSTGRES_SERVER_ERROR',
    errno: '57014',
  });

  test('a statement the server stopped at its bound: unavailable (503), yet its connection is fine', () => {
    expect(isDatabaseUnavailable(wrapped(timedOut))).toBe(true);
    expect(isStatementTimeout(wrapped(timedOut))).toBe(true);
  });

  test('a lost connection or our own timeout is not one', () => {
    for (const error of [
      Object.assign(new Error('Connection closed'), { code: 'ERR_POSTGRES_CONNECTION_CLOSED' }),
      new DatabaseUnavailableError('PostgreSQL did not answer a statement within 3000 ms'),
      Object.assign(new Error('duplicate key'), { code: '23505' }),
    ]) {
      expect(isStatementTimeout(wrapped(error))).toBe(false);
    }
  });
});

describe('what Bun SQL throws when a server goes away as a connection starts', () => {
  // PostgreSQL shutting down or restarting closes connections it has just accepted; Bun's client
  // then fails the statement waiting for that connection with an error of its own.
  for (const when of ['on accepting it', 'on reading the startup message'] as const) {
    test(`a server that closes the connection ${when}: unavailable (503), not a bug`, async () => {
      const server = Bun.listen({
        hostname: '127.0.0.1',
        port: 0,
        socket: {
          open(socket) {
            if (when === 'on accepting it') socket.end();
          },
          data(socket) {
            socket.end();
          },
        },
      });
      const db = new Bun.SQL({
        url: `postgres://outdial@127.0.0.1:${server.port}/outdial`,
        max: 1,
        connectionTimeout: 1,
      });
      try {
        const error = await db`select 1`.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(Error);
        expect({ error: String(error), unavailable: isDatabaseUnavailable(wrapped(error)) }).toEqual({
          error: String(error),
          unavailable: true,
        });
      } finally {
        await db.close().catch(() => {});
        server.stop(true);
      }
    });
  }
});
