import { sql } from 'drizzle-orm';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

/**
 * Login throttling and rate limits live in the database so that every API instance sees the same
 * counts. Each update is one atomic upsert, so concurrent requests cannot both slip under a limit.
 */

export interface LockState {
  lockedUntil: Date | null;
}

/** The latest lock among the given keys that is still in force, or null. */
export async function activeLock(db: Db, keys: string[]): Promise<Date | null> {
  const rows = rowsOf<{ locked_until: string | Date | null }>(
    await db.execute(
      sql`select max(locked_until) as locked_until from login_throttle
          where key in ${keys} and locked_until > now()`,
    ),
  );
  const value = rows[0]?.locked_until;
  return value ? new Date(value) : null;
}

/**
 * Counts one failed login for `key`; when the count within the window reaches `maxFailures`,
 * the key is locked for `lockSeconds`. Returns the lock's end if the key is now locked.
 */
export async function recordLoginFailure(
  db: Db,
  input: { key: string; windowSeconds: number; maxFailures: number; lockSeconds: number },
): Promise<Date | null> {
  const rows = rowsOf<{ locked_until: string | Date | null }>(
    await db.execute(sql`
      insert into login_throttle as t (key, failures, window_started_at, locked_until)
      values (${input.key}, 1, now(), case when 1 >= ${input.maxFailures}::int
                                           then now() + make_interval(secs => ${input.lockSeconds}::int) end)
      on conflict (key) do update set
        failures = case when t.window_started_at < now() - make_interval(secs => ${input.windowSeconds}::int)
                        then 1 else t.failures + 1 end,
        window_started_at = case when t.window_started_at < now() - make_interval(secs => ${input.windowSeconds}::int)
                                 then now() else t.window_started_at end,
        locked_until = case
          when (case when t.window_started_at < now() - make_interval(secs => ${input.windowSeconds}::int)
                     then 1 else t.failures + 1 end) >= ${input.maxFailures}::int
          then now() + make_interval(secs => ${input.lockSeconds}::int)
          else t.locked_until end
      returning locked_until`),
  );
  const value = rows[0]?.locked_until;
  if (!value) return null;
  const until = new Date(value);
  return until.getTime() > Date.now() ? until : null;
}

export async function clearLoginFailures(db: Db, key: string): Promise<void> {
  await db.execute(sql`delete from login_throttle where key = ${key}`);
}

export interface RateWindow {
  count: number;
  resetAt: Date;
}

/** Counts one request against a fixed window for `key` and returns the count so far. */
export async function hitRateLimit(
  db: Db,
  input: { key: string; windowSeconds: number },
): Promise<RateWindow> {
  const rows = rowsOf<{ count: number; window_started_at: string | Date }>(
    await db.execute(sql`
      insert into rate_limits as r (key, window_started_at, count)
      values (${input.key}, now(), 1)
      on conflict (key) do update set
        count = case when r.window_started_at <= now() - make_interval(secs => ${input.windowSeconds}::int)
                     then 1 else r.count + 1 end,
        window_started_at = case when r.window_started_at <= now() - make_interval(secs => ${input.windowSeconds}::int)
                                 then now() else r.window_started_at end
      returning count, window_started_at`),
  );
  const row = rows[0]!;
  return {
    count: Number(row.count),
    resetAt: new Date(new Date(row.window_started_at).getTime() + input.windowSeconds * 1000),
  };
}
