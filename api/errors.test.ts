import { expect, test } from 'bun:test';
import { DatabaseUnavailableError } from '../db/errors.ts';
import { toApiError } from './errors.ts';

test('a database that cannot be reached is a 503 database_unavailable with Retry-After, not a 500', () => {
  const cause = Object.assign(new Error('Connection closed'), { code: 'ERR_POSTGRES_CONNECTION_CLOSED' });
  for (const error of [
    Object.assign(new Error('Failed query: select 1'), { cause }),
    new DatabaseUnavailableError('PostgreSQL did not answer a statement within 3000 ms'),
  ]) {
    const { apiError, unexpected } = toApiError(error);
    expect([apiError.status, apiError.code, unexpected]).toEqual([503, 'database_unavailable', false]);
    expect(Number(apiError.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
  }
  const other = toApiError(Object.assign(new Error('Failed query'), { cause: new TypeError('bug') }));
  expect([other.apiError.status, other.unexpected]).toEqual([500, true]);
});
