import { expect, test } from 'bun:test';
import { HTTPException } from 'hono/http-exception';
import { z } from 'zod';
import { DatabaseUnavailableError } from '../db/errors.ts';
import { ApiError, toApiError, validationError } from './errors.ts';

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

test('field errors point at the field: a JSON Pointer into a body, the name of a parameter', () => {
  const schema = z.object({
    'a/b~c': z.string(),
    variables: z.record(z.string().regex(/^[A-Z]+$/), z.string()),
  });
  const input = { variables: { 'no good': 'x' } };
  const error = validationError(schema.safeParse(input).error!, 'json', input);
  expect(error.errors?.map((e) => [e.path, e.pointer, e.message])).toEqual([
    ['body.a/b~c', '/a~1b~0c', 'is required'],
    [
      'body.variables.no good',
      '/variables/no good',
      'is not a valid name: is not in the form this field takes',
    ],
  ]);
  expect(error.detail).toBe(
    'body.a/b~c: is required; body.variables.no good: is not a valid name: is not in the form this field takes',
  );
  const query = validationError(
    z.object({ limit: z.string() }).safeParse({ limit: ['1', '2'] }).error!,
    'query',
    {
      limit: ['1', '2'],
    },
  );
  expect(query.errors?.[0]).toMatchObject({
    path: 'query.limit',
    parameter: 'limit',
    message: 'must be given once',
  });
  // Built by hand with a path only: the pointer or parameter is derived from it.
  const byHand = new ApiError('validation_error', 'x', {
    errors: [
      { path: 'body.context', message: 'is not an allowed context', code: 'not_allowed' },
      { path: 'header.last-event-id', message: 'must be an event id', code: 'invalid' },
    ],
  });
  expect(byHand.errors?.map((e) => e.pointer ?? e.parameter)).toEqual(['/context', 'last-event-id']);
});

test('a refused body names what the route takes and what was sent', () => {
  const facts = (contentType: string | undefined, empty = false) => ({
    accepts: ['application/x-www-form-urlencoded'],
    contentType,
    empty,
  });
  expect(toApiError(new HTTPException(415), facts('application/json; charset=utf-8')).apiError.detail).toBe(
    'This route takes application/x-www-form-urlencoded; the body was sent as application/json',
  );
  expect(toApiError(new HTTPException(415), facts(undefined)).apiError.detail).toBe(
    'This route takes application/x-www-form-urlencoded; the body was sent without a Content-Type',
  );
  expect(toApiError(new HTTPException(400), facts('application/json', true)).apiError.detail).toBe(
    'The request body is empty; this route takes a JSON object (application/json)',
  );
  expect(
    toApiError(new HTTPException(400), facts('application/x-www-form-urlencoded')).apiError.detail,
  ).toContain('not valid form data');
});
