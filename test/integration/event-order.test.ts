import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import type { CallEventInput } from '../../db/queries/call-event-plan.ts';
import { applyCallEvents } from '../../db/queries/call-events.ts';
import { insertCall } from '../../db/queries/calls.ts';
import { rowsOf } from '../../db/queries/prepared.ts';
import { createUser } from '../../db/queries/users.ts';
import { createTestDatabase, type TestDatabase } from '../harness/database.ts';

/**
 * The event log's ids are its cursor: a reader that has seen id N asks for what comes after N, so a
 * row must never become visible after a row with a higher id (it would be skipped for good). Every
 * writer takes the event log's lock before its rows get their ids. Here many writers at once — new
 * calls (insertCall) and batches of events (applyCallEvents) on the pool's connections — race a
 * reader that follows the log by its cursor as fast as it can; the reader must have seen every row.
 * (On PGlite, one connection, the writers take turns; on PostgreSQL they really race.)
 */

let database: TestDatabase;
let ownerId: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const owner = await createUser(database.db, {
    username: 'event-order',
    passwordHash: 'x',
    role: 'operator',
  });
  ownerId = owner!.id;
}, 60_000);
afterAll(() => database.close());

const WRITERS = 12;
const CALLS_PER_WRITER = 15;

async function writer(w: number): Promise<void> {
  for (let i = 0; i < CALLS_PER_WRITER; i++) {
    const { call } = await insertCall(database.db, {
      id: crypto.randomUUID(),
      ownerId,
      phoneNumber: `+1555${String(w).padStart(3, '0')}${String(i).padStart(4, '0')}`,
      context: 'outbound-ivr',
      extension: 's',
      priority: 1,
      timeoutMs: 30_000,
    });
    const at = Date.now();
    const event = (type: string, status: CallEventInput['status'], ms: number): CallEventInput => ({
      eventId: `${call.id}:${type}`,
      callId: call.id,
      type,
      status,
      occurredAt: new Date(at + ms),
      source: 'sidecar:test',
    });
    await applyCallEvents(database.db, [event('dialing', 'dialing', 1), event('ringing', 'ringing', 2)]);
    await applyCallEvents(database.db, [event('ended', 'completed', 3)]);
  }
}

describe('the event log under concurrent writers', () => {
  test('a reader following the log by its cursor sees every row: none commits behind a higher id', async () => {
    const seen: number[] = [];
    let cursor = 0;
    const readOnce = async () => {
      const rows = rowsOf<{ id: string | number }>(
        await database.db.execute(sql`select id from call_events where id > ${cursor} order by id limit 500`),
      );
      for (const row of rows) seen.push(Number(row.id));
      if (rows.length > 0) cursor = Number(rows.at(-1)!.id);
    };
    let writing = true;
    const reader = (async () => {
      while (writing) await readOnce();
    })();
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    writing = false;
    await reader;
    for (let before = -1; before !== seen.length; ) {
      before = seen.length;
      await readOnce();
    }
    const all = rowsOf<{ id: string | number }>(
      await database.db.execute(sql`select id from call_events order by id`),
    ).map((r) => Number(r.id));
    expect(all).toHaveLength(WRITERS * CALLS_PER_WRITER * 4);
    const missed = all.filter((id) => !seen.includes(id));
    expect(missed).toEqual([]);
    expect(seen).toEqual(all);
  }, 120_000);
});
