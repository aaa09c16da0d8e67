import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ACTIVE_STATUSES,
  CALL_STATUSES,
  CallEvent,
  isTerminal,
  OriginateCommand,
  OriginateReply,
  SIDECAR_ID_PATTERN,
  STATUS_RANK,
  sidecarIdOf,
  sidecarPrincipal,
  TERMINAL_STATUSES,
} from './index.ts';

const MIGRATIONS = join(import.meta.dir, '../../../db/migrations');
const migrationsSql = () =>
  readdirSync(MIGRATIONS)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => readFileSync(join(MIGRATIONS, f), 'utf8'))
    .join('\n');
const sqlList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

describe('the channel messages', () => {
  test('name the same call statuses as the database', () => {
    // The channel's messages and the database's check constraint both come from the contract's list.
    expect([...CallEvent.shape.status.options]).toEqual([...CALL_STATUSES]);
    const finished = OriginateReply.options.find((o) => o.shape.outcome.value === 'finished')!;
    expect([...(finished.shape as { status: typeof CallEvent.shape.status }).status.options]).toEqual([
      ...CALL_STATUSES,
    ]);
    const sql = migrationsSql();
    expect(sql).toContain(`"calls"."status" in (${sqlList(CALL_STATUSES)})`);
    expect(sql).toContain(`WHERE "calls"."status" in (${sqlList(ACTIVE_STATUSES)})`);
  });

  test('split the statuses into active and final, and rank them in the order a call moves', () => {
    expect([...ACTIVE_STATUSES, ...TERMINAL_STATUSES]).toEqual([...CALL_STATUSES]);
    for (const status of CALL_STATUSES)
      expect(isTerminal(status)).toBe(TERMINAL_STATUSES.includes(status as never));
    const ranks = CALL_STATUSES.map((s) => STATUS_RANK[s]);
    expect(ranks).toEqual([0, 1, 2, 3, 4, 4, 4, 4, 4]);
  });

  test('take a sidecar id of letters, digits, _ and - (at most 64), on both sides', () => {
    for (const ok of ['default', 'pbx1', 'e2e-1234abcd', 'a_b-C', 'x'.repeat(64)]) {
      expect(SIDECAR_ID_PATTERN.test(ok)).toBe(true);
      expect(sidecarIdOf(sidecarPrincipal(ok))).toBe(ok);
    }
    for (const bad of ['', 'a.b', '../etc', 'a/b', 'a:b', 'x'.repeat(65), 'pbx 1']) {
      expect(SIDECAR_ID_PATTERN.test(bad)).toBe(false);
      expect(sidecarIdOf(sidecarPrincipal(bad))).toBeNull();
    }
    expect(sidecarIdOf('outdial')).toBeNull();
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
