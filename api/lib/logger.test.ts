import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '../../test/harness/database.ts';
import { createApiLogger } from './logger.ts';

/**
 * A failed statement reaches the log as the database's error (message, SQLSTATE, where in our
 * code), never as the statement and its parameters, which carry callers' values: drizzle puts both
 * in the message of the error it throws. On the embedded database, or PostgreSQL with TEST_DB.
 */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

function capture() {
  const lines: string[] = [];
  return { lines, logger: createApiLogger({ level: 'info', sink: (line) => lines.push(line) }) };
}

describe('a database error in the log', () => {
  test('carries the error and its SQLSTATE, not the statement or its values', async () => {
    const secret = `a caller's value ${crypto.randomUUID()}`;
    const error = await database.db.execute(sql`select ${secret}::text as v, 1 / ${0}::int as n`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const { lines, logger } = capture();
    logger.error('unhandled error', { error });
    const record = JSON.parse(lines[0]!) as { error: Record<string, unknown> };
    expect(record.error.message).toBe('division by zero');
    expect(record.error.sqlstate).toBe('22012');
    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).not.toMatch(/select|params/i);
  });

  test('other errors are written as before', () => {
    const { lines, logger } = capture();
    logger.warn('x', { error: new TypeError('not a function'), n: 1 });
    const record = JSON.parse(lines[0]!) as { error: Record<string, unknown>; n: number };
    expect(record.error).toMatchObject({ name: 'TypeError', message: 'not a function' });
    expect(record.n).toBe(1);
  });
});
