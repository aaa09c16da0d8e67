import { sql } from 'drizzle-orm';
import { TERMINAL_STATUSES } from '../../api/shared/contract/index.ts';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';
import { recordingOfEvent } from './recordings.ts';

export interface HousekeepingOptions {
  /** Finished calls created longer ago than this are deleted, with their events and webhook records. */
  callRetentionDays: number;
  /** Audit log entries older than this are deleted. */
  auditRetentionDays: number;
  /** Campaigns that finished (completed, canceled) longer ago than this are deleted with their contacts. */
  campaignRetentionDays: number;
  /** Login failure counters older than the window, and not locking anything, are deleted. */
  loginFailureWindowSeconds: number;
  /** Rate-limit counters whose window has ended are deleted. */
  rateLimitWindowSeconds: number;
  /** Rows deleted per statement, so a large purge never holds long locks. */
  batchSize?: number;
}

/** How many rows each kind of housekeeping deleted. */
export interface HousekeepingResult {
  calls: number;
  campaigns: number;
  auditLog: number;
  usedJtis: number;
  revokedTokens: number;
  refreshTokens: number;
  idempotencyKeys: number;
  loginThrottle: number;
  rateLimits: number;
  liveStreams: number;
}

const terminal = sql.join(
  TERMINAL_STATUSES.map((status) => sql`${status}`),
  sql`, `,
);

/** Whether the call (`calls.id`) has recordings on the PBX: listed, or reported by its flow. */
const hasRecordings = sql`(exists (select 1 from call_recordings r where r.call_id = calls.id)
  or exists (select 1 from call_events e where e.call_id = calls.id and e.type = 'step_finished'
    and ${recordingOfEvent('e')} is not null))`;

/** Finished calls past their retention whose recordings must be deleted from the PBX first. */
export async function expiredCallsWithRecordings(
  db: Db,
  options: { callRetentionDays: number; limit: number },
): Promise<string[]> {
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`select id from calls
      where created_at < now() - make_interval(days => ${options.callRetentionDays}::int)
        and status in (${terminal})
        and ${hasRecordings}
      order by created_at
      limit ${options.limit}`),
  );
  return rows.map((r) => r.id);
}

/** Deletes calls (their events, recordings' rows and webhook records go with them). */
export async function deleteCalls(db: Db, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const list = sql.join(
    ids.map((id) => sql`${id}::uuid`),
    sql`, `,
  );
  const rows = rowsOf<{ n: number | string }>(
    await db.execute(
      sql`with d as (delete from calls where id in (${list}) returning 1) select count(*) as n from d`,
    ),
  );
  return Number(rows[0]?.n ?? 0);
}

async function deleteInBatches(db: Db, batch: (limit: number) => ReturnType<typeof sql>, limit: number) {
  let total = 0;
  for (;;) {
    const rows = rowsOf<{ n: number | string }>(
      await db.execute(sql`with d as (${batch(limit)}) select count(*) as n from d`),
    );
    const n = Number(rows[0]?.n ?? 0);
    total += n;
    if (n < limit) return total;
  }
}

/**
 * Deletes campaigns that finished more than `days` ago: first their contacts, `limit` at a time (their
 * attempts go with them), so that a campaign of a million contacts never holds one long lock, then
 * the campaign (its counters go with it). A campaign that is not finished is never deleted.
 */
async function deleteFinishedCampaigns(db: Db, days: number, limit: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const due = rowsOf<{ id: string }>(
      await db.execute(sql`select id from campaigns
        where state in ('completed', 'canceled')
          and finished_at < now() - make_interval(days => ${days}::int)
        order by finished_at
        limit 10`),
    );
    for (const { id } of due) {
      await deleteInBatches(
        db,
        (n) => sql`delete from campaign_contacts where id in (
          select id from campaign_contacts where campaign_id = ${id}::uuid limit ${n}) returning 1`,
        limit,
      );
      deleted += await deleteInBatches(
        db,
        () => sql`delete from campaigns where id = ${id}::uuid
          and state in ('completed', 'canceled') returning 1`,
        1,
      );
    }
    if (due.length < 10) return deleted;
  }
}

/**
 * Deletes what nothing needs any more: single-use command ids and revoked token ids past their
 * expiry, refresh tokens of sessions that ended, expired live stream places, idempotency keys past their life, login and rate-limit counters whose windows have ended,
 * finished calls older than the retention period (their event logs, webhook deliveries and
 * attempts go with them), finished campaigns older than theirs (with their contacts, attempts and
 * counters), and audit log entries older than theirs. Calls that have not reached a
 * final status are never deleted.
 */
export async function runHousekeeping(db: Db, options: HousekeepingOptions): Promise<HousekeepingResult> {
  const limit = options.batchSize ?? 1000;
  // Calls whose flow made recordings go only once these are gone from the PBX (expiredCallsWithRecordings).
  const calls = await deleteInBatches(
    db,
    (n) => sql`delete from calls where id in (
      select id from calls
      where created_at < now() - make_interval(days => ${options.callRetentionDays}::int)
        and status in (${terminal})
        and not ${hasRecordings}
      order by created_at
      limit ${n})
      returning 1`,
    limit,
  );
  const campaigns = await deleteFinishedCampaigns(db, options.campaignRetentionDays, limit);
  const auditLog = await deleteInBatches(
    db,
    (n) => sql`delete from audit_log where id in (
      select id from audit_log
      where at < now() - make_interval(days => ${options.auditRetentionDays}::int)
      order by at
      limit ${n})
      returning 1`,
    limit,
  );
  const usedJtis = await deleteInBatches(
    db,
    (n) => sql`delete from used_jtis where jti in (
      select jti from used_jtis where expires_at < now() limit ${n}) returning 1`,
    limit,
  );
  const revokedTokens = await deleteInBatches(
    db,
    (n) => sql`delete from revoked_tokens where jti in (
      select jti from revoked_tokens where expires_at < now() limit ${n}) returning 1`,
    limit,
  );
  // A family past its end refuses every token anyway; the access tokens beside it must have expired too,
  // so that logging one out still finds its family.
  const refreshTokens = await deleteInBatches(
    db,
    (n) => sql`delete from refresh_tokens where id in (
      select id from refresh_tokens where greatest(expires_at, access_expires_at) < now() limit ${n}) returning 1`,
    limit,
  );
  const idempotencyKeys = await deleteInBatches(
    db,
    (n) => sql`delete from idempotency_keys where (user_id, key) in (
      select user_id, key from idempotency_keys where expires_at < now() limit ${n}) returning 1`,
    limit,
  );
  const loginThrottle = await deleteInBatches(
    db,
    (n) => sql`delete from login_throttle where key in (
      select key from login_throttle
      where window_started_at < now() - make_interval(secs => ${options.loginFailureWindowSeconds}::int)
        and (locked_until is null or locked_until < now())
      limit ${n}) returning 1`,
    limit,
  );
  const rateLimits = await deleteInBatches(
    db,
    (n) => sql`delete from rate_limits where key in (
      select key from rate_limits
      where window_started_at <= now() - make_interval(secs => ${options.rateLimitWindowSeconds}::int)
      limit ${n}) returning 1`,
    limit,
  );
  // Places of live streams whose instance stopped renewing them (it died).
  const liveStreams = await deleteInBatches(
    db,
    (n) => sql`delete from live_streams where id in (
      select id from live_streams where expires_at < now() limit ${n}) returning 1`,
    limit,
  );
  return {
    calls,
    campaigns,
    auditLog,
    usedJtis,
    revokedTokens,
    refreshTokens,
    idempotencyKeys,
    loginThrottle,
    rateLimits,
    liveStreams,
  };
}
