import { sql } from 'drizzle-orm';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

/**
 * Login throttling and rate limits live in the database so that every API instance sees the same
 * counts. Each update is one atomic upsert, so concurrent requests cannot both slip under a limit.
 */

/** A password check that a login window granted; settling it names the window it came from. */
export interface LoginSlot {
  key: string;
  window: Date;
}

/** Whether a login may go on to a password check, and if not, for how long to wait. */
export type LoginReservation =
  | { granted: true; slot: LoginSlot }
  | {
      granted: false;
      /** Whole seconds to wait (at least 1). */
      retryAfter: number;
      /** A name's lockout, as opposed to its window being full of checks still in flight, or an address being slowed. */
      locked: boolean;
    };

const seconds = (n: number) => sql`make_interval(secs => ${n}::double precision)`;

/**
 * Reserves one password check for an account name before it is made. Granted while the name is not
 * locked and its window holds fewer than `maxAttempts` checks that are in flight or failed; the decision
 * and the count are one statement (an upsert whose update is conditional, so the row's lock orders
 * concurrent logins), so however many arrive at once, at most `maxAttempts` are checked per window.
 * A lockout that has ended, or a window that has, starts a new window.
 */
export async function reserveNameAttempt(
  db: Db,
  input: { key: string; maxAttempts: number; windowSeconds: number },
): Promise<LoginReservation> {
  const fresh = sql`(t.window_started_at <= now() - ${seconds(input.windowSeconds)}
                     or coalesce(t.locked_until <= now(), false))`;
  const rows = rowsOf<{ window_started_at: string | Date }>(
    await db.execute(sql`
      insert into login_throttle as t (key, attempts, failures, window_started_at, locked_until)
      values (${input.key}, 1, 0, now(), null)
      on conflict (key) do update set
        attempts = case when ${fresh} then 1 else t.attempts + 1 end,
        failures = case when ${fresh} then 0 else t.failures end,
        window_started_at = case when ${fresh} then now() else t.window_started_at end,
        locked_until = case when ${fresh} then null else t.locked_until end
      where ${fresh} or (t.attempts < ${input.maxAttempts}::int and t.locked_until is null)
      returning window_started_at`),
  );
  return reservationOf(db, input.key, rows);
}

/**
 * Reserves one password check for a client address. An address may make `budget` checks per window at
 * full speed; past that it is slowed, not locked: one check per `windowSeconds / budget` seconds, for
 * whichever account, so a spray of guesses from it crawls while anyone else behind it still gets in.
 */
export async function reserveAddressAttempt(
  db: Db,
  input: { key: string; budget: number; windowSeconds: number },
): Promise<LoginReservation> {
  const fresh = sql`(t.window_started_at <= now() - ${seconds(input.windowSeconds)})`;
  const pace = seconds(input.windowSeconds / input.budget);
  const rows = rowsOf<{ window_started_at: string | Date }>(
    await db.execute(sql`
      insert into login_throttle as t (key, attempts, failures, window_started_at, locked_until)
      values (${input.key}, 1, 0, now(), case when 1 >= ${input.budget}::int then now() + ${pace} end)
      on conflict (key) do update set
        attempts = case when ${fresh} then 1 else t.attempts + 1 end,
        window_started_at = case when ${fresh} then now() else t.window_started_at end,
        locked_until = case when (case when ${fresh} then 1 else t.attempts + 1 end) >= ${input.budget}::int
                            then now() + ${pace} end
      where ${fresh} or t.locked_until is null or t.locked_until <= now()
      returning window_started_at`),
  );
  return reservationOf(db, input.key, rows);
}

async function reservationOf(
  db: Db,
  key: string,
  granted: Array<{ window_started_at: string | Date }>,
): Promise<LoginReservation> {
  const row = granted[0];
  if (row) return { granted: true, slot: { key, window: new Date(row.window_started_at) } };
  // Refused: a lock (or an address's next turn) still ahead, or every place of the window in flight.
  const state = rowsOf<{ wait: string | number | null }>(
    await db.execute(sql`
      select ceil(extract(epoch from locked_until - now())) as wait
      from login_throttle where key = ${key} and locked_until > now()`),
  );
  const wait = Number(state[0]?.wait ?? 0);
  return wait > 0
    ? { granted: false, retryAfter: wait, locked: true }
    : { granted: false, retryAfter: 1, locked: false };
}

/**
 * Counts a failed check of a name's window; the failure that reaches `maxFailures` locks the name for
 * `lockSeconds`. A check from a window that has since been replaced counts nowhere. Returns whether the
 * name is locked now.
 */
export async function recordLoginFailure(
  db: Db,
  slot: LoginSlot,
  input: { maxFailures: number; lockSeconds: number },
): Promise<boolean> {
  const rows = rowsOf<{ locked: boolean }>(
    await db.execute(sql`
      update login_throttle set
        failures = failures + 1,
        locked_until = case when failures + 1 >= ${input.maxFailures}::int
                            then now() + ${seconds(input.lockSeconds)} else locked_until end
      where key = ${slot.key} and window_started_at = ${slot.window}
      returning coalesce(locked_until > now(), false) as locked`),
  );
  return rows[0]?.locked === true;
}

/**
 * Gives a granted check back to its window: it succeeded, or it was never made (the hasher was busy).
 * Failures stay counted. Returns how many seconds the key is still locked, 0 if it is not: a name may
 * have been locked by other checks while this one ran, and then even the right password is refused.
 */
export async function releaseLoginAttempt(db: Db, slot: LoginSlot): Promise<number> {
  const rows = rowsOf<{ wait: string | number | null }>(
    await db.execute(sql`
      update login_throttle set
        attempts = case when window_started_at = ${slot.window} then greatest(attempts - 1, 0) else attempts end
      where key = ${slot.key}
      returning ceil(extract(epoch from locked_until - now())) as wait`),
  );
  return Math.max(0, Number(rows[0]?.wait ?? 0));
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
