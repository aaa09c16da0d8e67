import { and, asc, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import {
  callEvents,
  calls,
  campaignAttempts,
  campaignContacts,
  campaigns,
  flowVersions,
  sidecars,
} from '../schema.ts';
import type { Db } from '../types.ts';
import { type CallRow, lockEventLog, type NewCall } from './calls.ts';
import { completeFinished } from './campaign-completion.ts';
import { addCounters, bump, type Counts } from './campaign-counters.ts';
import { writeProgressWebhooks } from './campaign-webhooks.ts';
import { rowsOf } from './prepared.ts';

/**
 * The campaign engine's writes: leasing due contacts to a sidecar (each attempt given its call id
 * before anything is dialled) and finding the attempts whose lease passed; closing an attempt when its
 * call ends is in campaign-accounting.ts. The decisions (windows, retries) are the caller's pure
 * functions; here they are applied under row locks, with the counters in the same transaction.
 */

export type CampaignRow = typeof campaigns.$inferSelect;
export type ContactRow = typeof campaignContacts.$inferSelect;

/** What becomes of a due contact at lease time (DNC numbers are found here, not by the planner). */
export type LeasePlan =
  /** Dial now; `day` is the contact's local day (attempts_today counts it). */
  | { kind: 'dial'; day: string }
  /** Not now: due again at `until`; `counted` adds it to outside_window. */
  | { kind: 'defer'; until: Date; counted: boolean }
  /** Never again (the campaign ends before its next chance): done with its last outcome. */
  | { kind: 'expire' };

export interface LeaseOptions {
  sidecarId: string;
  capacity: number;
  now: Date;
  plan(contact: ContactRow, campaign: CampaignRow, now: Date): LeasePlan;
  /** How long past the ring timeout a leased attempt may stay undialled before it ends `lost`. */
  leaseMarginMs: number;
  /** What a call takes when the campaign does not say (the API's defaults). */
  defaults: { context: string; extension: string; priority: number; callerId: string | null };
  /** Campaigns looked at per lease. */
  maxCampaigns?: number;
  /** The window of campaign.progress webhooks (CAMPAIGN_PROGRESS_WEBHOOK_SECONDS). */
  progressWebhookSeconds: number;
}

export interface LeaseResult {
  calls: CallRow[];
}

/**
 * Leases up to `capacity` due contacts of running campaigns to a sidecar, in one transaction: each
 * campaign's pacing (next_lease_at, cps) and max_concurrent respected, campaigns and contacts taken
 * with FOR UPDATE SKIP LOCKED so concurrent leases never share one. DNC numbers end `dnc` (never
 * dialled), contacts outside their window move to their next opening; each leased contact gets a
 * call row (pending, with its `created` event) and an attempt row, and the counters move with them.
 */
export async function leaseAttempts(db: Db, o: LeaseOptions): Promise<LeaseResult> {
  return db.transaction(async (tx) => {
    await lockEventLog(tx);
    const now = o.now;
    const running = await tx
      .select()
      .from(campaigns)
      .where(
        and(
          eq(campaigns.state, 'running'),
          lte(campaigns.nextLeaseAt, now),
          or(isNull(campaigns.startsAt), lte(campaigns.startsAt, now)),
        ),
      )
      .orderBy(asc(campaigns.nextLeaseAt))
      .limit(o.maxCampaigns ?? 20)
      .for('update', { skipLocked: true });
    const counts = new Map<string, Counts>();
    const leased: CallRow[] = [];
    const touched: string[] = [];
    const capacity = o.capacity;
    for (const campaign of running) {
      if (capacity <= 0) break;
      const [open] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(campaignAttempts)
        .where(and(eq(campaignAttempts.campaignId, campaign.id), isNull(campaignAttempts.outcome)));
      // Pacing: at most one second's worth (cps) per lease; next_lease_at moves by n / cps.
      let room = Math.min(capacity, campaign.maxConcurrent - (open?.n ?? 0), campaign.cps);
      if (room <= 0) continue;
      const steps = await flowStepsOf(tx, campaign);
      let n = 0;
      // Skipped contacts (DNC, outside their window) leave room for the next ones: a few rounds.
      for (let round = 0; round < 5 && room > 0; round++) {
        const due = await tx
          .select({
            contact: campaignContacts,
            // Spelled out: drizzle leaves columns unqualified here, which would compare dnc_numbers to itself.
            dnc: sql<boolean>`exists (select 1 from dnc_numbers d where d.phone_number = campaign_contacts.phone_number)`,
          })
          .from(campaignContacts)
          .where(
            and(
              eq(campaignContacts.campaignId, campaign.id),
              eq(campaignContacts.state, 'pending'),
              lte(campaignContacts.nextAttemptAt, now),
            ),
          )
          .orderBy(asc(campaignContacts.nextAttemptAt), asc(campaignContacts.id))
          .limit(Math.max(room, 10))
          .for('update', { skipLocked: true });
        if (due.length === 0) break;
        const dials: Dial[] = [];
        for (const { contact, dnc } of due) {
          if (dnc) {
            await tx
              .update(campaignContacts)
              .set({ state: 'dnc', nextAttemptAt: null, updatedAt: now })
              .where(eq(campaignContacts.id, contact.id));
            bump(counts, campaign.id, 'dnc_skipped');
            bump(counts, campaign.id, 'pending', -1);
            touched.push(campaign.id);
            continue;
          }
          const plan = o.plan(contact, campaign, now);
          if (plan.kind === 'defer') {
            await tx
              .update(campaignContacts)
              .set({ nextAttemptAt: plan.until, updatedAt: now })
              .where(eq(campaignContacts.id, contact.id));
            if (plan.counted) bump(counts, campaign.id, 'outside_window');
            continue;
          }
          if (plan.kind === 'expire') {
            await tx
              .update(campaignContacts)
              .set({ state: 'done', nextAttemptAt: null, finalOutcome: contact.lastOutcome, updatedAt: now })
              .where(eq(campaignContacts.id, contact.id));
            bump(counts, campaign.id, 'pending', -1);
            bump(counts, campaign.id, 'done');
            touched.push(campaign.id);
            continue;
          }
          if (room <= 0) continue;
          room--;
          n++;
          dials.push({ contact, day: plan.day, callId: crypto.randomUUID() });
        }
        // The round's dials in four statements, not four a contact: a lease at full pace takes
        // a second's worth of contacts, and round trips were most of its time.
        leased.push(...(await dialContacts(tx, campaign, steps, dials, now, o)));
      }
      if (n > 0) {
        bump(counts, campaign.id, 'pending', -n);
        bump(counts, campaign.id, 'in_progress', n);
        bump(counts, campaign.id, 'attempts', n);
        await tx
          .update(campaigns)
          .set({
            nextLeaseAt: sql`greatest(${campaigns.nextLeaseAt}, ${now}::timestamptz) + make_interval(secs => ${n / campaign.cps})`,
          })
          .where(eq(campaigns.id, campaign.id));
      }
    }
    await addCounters(tx, counts);
    await writeProgressWebhooks(
      tx,
      running.filter((c) => counts.has(c.id)),
      { at: now, window: o.progressWebhookSeconds },
    );
    await completeFinished(tx as unknown as Db, [...new Set(touched)], now);
    return { calls: leased };
  });
}

interface Dial {
  contact: ContactRow;
  /** The contact's local day (attempts_today counts it). */
  day: string;
  callId: string;
}

/**
 * Turns leased contacts into attempts: each contact in_progress with its attempt counted, a pending
 * call (with its `created` event) and an attempt row for each, in one statement per table.
 */
async function dialContacts(
  tx: Pick<Db, 'insert' | 'execute'>,
  campaign: CampaignRow,
  steps: unknown[] | null,
  dials: Dial[],
  now: Date,
  o: Pick<LeaseOptions, 'sidecarId' | 'defaults' | 'leaseMarginMs'>,
): Promise<CallRow[]> {
  if (dials.length === 0) return [];
  const rows = dials.map(({ contact, day, callId }) => ({
    contact,
    callId,
    day,
    attempt: contact.attempts + 1,
    today: contact.attemptsDay === day ? contact.attemptsToday + 1 : 1,
  }));
  await tx.execute(sql`
    update campaign_contacts k set state = 'in_progress', attempts = v.attempt, attempts_today = v.today,
      attempts_day = v.day, next_attempt_at = null, last_call_id = v.call_id, updated_at = ${now}
    from (values ${sql.join(
      rows.map(
        (r) =>
          sql`(${r.contact.id}::bigint, ${r.attempt}::int, ${r.today}::int, ${r.day}::text, ${r.callId}::uuid)`,
      ),
      sql`, `,
    )}) as v(id, attempt, today, day, call_id)
    where k.id = v.id`);
  const values: NewCall[] = rows.map(({ contact, callId, attempt }) => ({
    id: callId,
    ownerId: campaign.ownerId,
    phoneNumber: contact.phoneNumber,
    context: campaign.context ?? o.defaults.context,
    extension: campaign.extension ?? o.defaults.extension,
    priority: campaign.priority ?? o.defaults.priority,
    timeoutMs: campaign.ringTimeoutMs,
    callerId: campaign.callerId ?? o.defaults.callerId,
    variables: { ...campaign.variables, ...contact.variables },
    sidecarId: o.sidecarId,
    attemptNumber: attempt,
    flow: steps,
    flowId: steps ? campaign.flowId : null,
    flowVersion: steps ? campaign.flowVersion : null,
    campaignId: campaign.id,
    contactId: contact.id,
    status: 'pending',
    lastEventSeq: 1,
    createdAt: now,
    updatedAt: now,
  }));
  const inserted = await tx.insert(calls).values(values).returning();
  await tx.insert(callEvents).values(
    rows.map(({ callId }) => ({
      callId,
      ownerId: campaign.ownerId,
      seq: 1,
      eventId: `${callId}:created`,
      type: 'created',
      status: 'pending' as const,
      source: 'api',
      occurredAt: now,
    })),
  );
  await tx.insert(campaignAttempts).values(
    rows.map(({ contact, callId, attempt }) => ({
      callId,
      campaignId: campaign.id,
      contactId: contact.id,
      attempt,
      sidecarId: o.sidecarId,
      leasedAt: now,
      leaseExpiresAt: new Date(now.getTime() + campaign.ringTimeoutMs + o.leaseMarginMs),
    })),
  );
  // In the order they were leased (RETURNING's order is not promised).
  const byId = new Map(inserted.map((call) => [call.id, call]));
  return rows.map(({ callId }) => byId.get(callId)!);
}

/** The steps of a campaign's saved flow version (null: it dials a context, no flow). */
async function flowStepsOf(
  tx: Pick<Db, 'select' | 'update'>,
  campaign: CampaignRow,
): Promise<unknown[] | null> {
  if (!campaign.flowId || !campaign.flowVersion) return null;
  const [version] = await tx
    .select({ steps: flowVersions.steps })
    .from(flowVersions)
    .where(and(eq(flowVersions.flowId, campaign.flowId), eq(flowVersions.version, campaign.flowVersion)));
  if (!version) return null;
  await tx
    .update(flowVersions)
    .set({ usedAt: sql`coalesce(${flowVersions.usedAt}, now())` })
    .where(and(eq(flowVersions.flowId, campaign.flowId), eq(flowVersions.version, campaign.flowVersion)));
  return version.steps;
}

/** When a lease could give something next: the earliest of the running campaigns' pacing and due contacts. */
export async function nextLeaseDue(db: Db): Promise<Date | null> {
  const rows = await db.execute(sql`
    select min(greatest(c.next_lease_at,
      (select min(k.next_attempt_at) from campaign_contacts k
       where k.campaign_id = c.id and k.state = 'pending'))) as due
    from campaigns c where c.state = 'running'
      and exists (select 1 from campaign_contacts k where k.campaign_id = c.id and k.state = 'pending'
                  and k.next_attempt_at is not null)`);
  const value = rowsOf<{ due: unknown }>(rows)[0]?.due;
  return value == null ? null : new Date(value as string);
}

/**
 * Attempts whose lease passed (on the campaigns' clock, `now`) and whose sidecar went away: the ids of
 * their calls, which the caller ends failed/lost. Gone means that the call never left `pending` (the
 * sidecar took it and vanished before dialling), or that the call is still up while its sidecar has
 * not been heard from (a lease or an event batch) for `silentMs` on the real clock (`realNow`): it was
 * killed with calls up and nobody will ever tell how they ended. A pulling sidecar leases at least
 * every few seconds, full or not, so a live one is never taken for gone.
 */
export async function expiredAttempts(
  db: Db,
  o: { now: Date; realNow: Date; silentMs: number },
  limit = 500,
): Promise<string[]> {
  const silentSince = new Date(o.realNow.getTime() - o.silentMs);
  const rows = await db
    .select({ callId: campaignAttempts.callId })
    .from(campaignAttempts)
    .innerJoin(calls, eq(calls.id, campaignAttempts.callId))
    .leftJoin(sidecars, eq(sidecars.id, campaignAttempts.sidecarId))
    .where(
      and(
        isNull(campaignAttempts.outcome),
        lte(campaignAttempts.leaseExpiresAt, o.now),
        or(
          eq(calls.status, 'pending'),
          and(
            inArray(calls.status, ['dialing', 'ringing', 'answered']),
            or(isNull(sidecars.lastSeenAt), lte(sidecars.lastSeenAt, silentSince)),
          ),
        ),
      ),
    )
    .limit(limit);
  return rows.map((r) => r.callId);
}
