import { describe, expect, test } from 'bun:test';
import { CALL_STATUSES } from '../../db/schema.ts';
import { CALL_STATUS, OriginateCommand } from './messages.ts';

describe('the channel messages', () => {
  test('name the same call statuses as the database', () => {
    // The sidecar imports the channel module but never the database schema, so the list is kept twice.
    expect([...CALL_STATUS.options]).toEqual([...CALL_STATUSES]);
  });

  test('take the numbers the API accepts: an optional + then digits, 7 to 20 characters', () => {
    const base = {
      call_id: crypto.randomUUID(),
      context: 'outbound-ivr',
      extension: 's',
      priority: 1,
      timeout_ms: 30000,
      caller_id: null,
      variables: {},
      requested_at: new Date().toISOString(),
    };
    for (const ok of ['1234567', '+123456', '12345678901234567890', '+1234567890123456789']) {
      expect(OriginateCommand.safeParse({ ...base, phone_number: ok }).success).toBe(true);
    }
    for (const bad of [
      '123456',
      '+12345',
      '123456789012345678901',
      '+12345678901234567890',
      '555-1234',
      '５５５１２３４',
    ]) {
      expect(OriginateCommand.safeParse({ ...base, phone_number: bad }).success).toBe(false);
    }
  });
});
