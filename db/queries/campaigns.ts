import { and, desc, eq, gte, inArray, lt, or, type SQL, sql } from 'drizzle-orm';
import {
  CAMPAIGN_ACTIONS,
  CAMPAIGN_COUNTERS,
  type CampaignAction,
  type CampaignState,
} from '../../api/shared/contract/index.ts';
import { campaignAttempts, campaignContacts, campaignCounters, campaigns } from '../schema.ts';
import type { Db } from '../types.ts';
import { addCampaignCounters } from './campaign-counters.ts';
import { writeStateWebhooks } from './campaign-webhooks.ts';
import { rowsOf } from './prepared.ts';

export type CampaignRow = typeof campaigns.$inferSelect;
export type NewCampaign = Omit<
  typeof campaigns.$inferInsert,
  'id' | 'state' | 'nextLeaseAt' | 'createdAt' | 'updatedAt' | 'startedAt' | 'finishedAt'
>;
/** What a change may set: the fields of a new campaign but its owner. */
export type CampaignChanges = Partial<Omit<NewCampaign, 'ownerId'>>;

/** The states a campaign's settings may be changed in. */
export const EDITABLE_STATES = ['draft', 'paused'] as const satisfies readonly CampaignState[];

/** A new campaign, in state draft, with every counter at 0, in one transaction. */
export async function createCampaign(db: Db, values: NewCampaign): Promise<CampaignRow> {
  return db.transaction(async (tx) => {
    const [row] = await tx.insert(campaigns).values(values).returning();
    await tx
      .insert(campaignCounters)
      .values(CAMPAIGN_COUNTERS.map((name) => ({ campaignId: row!.id, name, value: 0 })));
    return row!;
  });
}

/** The campaign if `ownerId` is null (any campaign) or owns it. */
export async function getCampaignForOwner(
  db: Db,
  id: string,
  ownerId: string | null,
): Promise<CampaignRow | null> {
  const where = ownerId ? and(eq(campaigns.id, id), eq(campaigns.ownerId, ownerId)) : eq(campaigns.id, id);
  const rows = await db.select().from(campaigns).where(where).limit(1);
  return rows[0] ?? null;
}

export interface ListCampaignsFilter {
  ownerId: string | null;
  state?: CampaignState | undefined;
  /** Keyset cursor: rows strictly older than this (created_at, id) pair. */
  before?: { createdAt: Date; id: string } | undefined;
  limit: number;
}

export async function listCampaigns(db: Db, filter: ListCampaignsFilter): Promise<CampaignRow[]> {
  const where: SQL[] = [];
  if (filter.ownerId) where.push(eq(campaigns.ownerId, filter.ownerId));
  if (filter.state) where.push(eq(campaigns.state, filter.state));
  if (filter.before) {
    const b = filter.before;
    where.push(
      or(
        lt(campaigns.createdAt, b.createdAt),
        and(eq(campaigns.createdAt, b.createdAt), lt(campaigns.id, b.id)),
      )!,
    );
  }
  return db
    .select()
    .from(campaigns)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(campaigns.createdAt), desc(campaigns.id))
    .limit(filter.limit);
}

/** What a change or an action found: the campaign as it now is, or the state that refused it. */
export type CampaignMove =
  | { ok: true; campaign: CampaignRow; canceledContacts: number }
  | { ok: false; state: CampaignState | null };

async function refusal(db: Pick<Db, 'select'>, id: string): Promise<CampaignMove> {
  const rows = await db.select({ state: campaigns.state }).from(campaigns).where(eq(campaigns.id, id));
  return { ok: false, state: rows[0]?.state ?? null };
}

/**
 * Changes a campaign's settings while it is draft or paused. One conditional UPDATE: a change racing
 * an action either sees the state the action left or waits for it, never half of it.
 */
export async function updateCampaign(db: Db, id: string, changes: CampaignChanges): Promise<CampaignMove> {
  const [row] = await db
    .update(campaigns)
    .set({ ...changes, updatedAt: new Date() })
    .where(and(eq(campaigns.id, id), inArray(campaigns.state, [...EDITABLE_STATES])))
    .returning();
  return row ? { ok: true, campaign: row, canceledContacts: 0 } : refusal(db, id);
}

/**
 * Moves a campaign by one action (CAMPAIGN_ACTIONS), atomically: the UPDATE names the states the
 * action is allowed from, so of actions racing on one campaign each either finds the state the other
 * left or waits for its row lock; none acts on a state that is gone. Start and resume make the
 * campaign leasable now; cancel ends its pending contacts (canceled) and moves their counters in the
 * same transaction, while attempts already dialling finish. The campaign.state webhook (when the
 * campaign has one) is written in the same transaction too.
 */
export async function applyCampaignAction(db: Db, id: string, action: CampaignAction): Promise<CampaignMove> {
  const rule = CAMPAIGN_ACTIONS[action];
  return db.transaction(async (tx) => {
    const now = new Date();
    const set: Partial<typeof campaigns.$inferInsert> = { state: rule.to, updatedAt: now };
    if (action === 'start') {
      set.startedAt = now;
      set.nextLeaseAt = now;
    }
    if (action === 'resume') set.nextLeaseAt = now;
    if (action === 'cancel') set.finishedAt = now;
    // The state it leaves, for its webhook (the row stays locked until the transaction ends).
    const [before] = await tx
      .select({ state: campaigns.state })
      .from(campaigns)
      .where(eq(campaigns.id, id))
      .for('update');
    const [row] = await tx
      .update(campaigns)
      .set(set)
      .where(and(eq(campaigns.id, id), inArray(campaigns.state, [...rule.from])))
      .returning();
    if (!row) return refusal(tx, id);
    let canceledContacts = 0;
    if (action === 'cancel') {
      // Counted in the database: a campaign may have a million pending contacts.
      const ended = rowsOf<{ n: number | string }>(
        await tx.execute(sql`with ended as (
          update ${campaignContacts} set state = 'canceled', next_attempt_at = null, updated_at = now()
          where ${campaignContacts.campaignId} = ${id} and ${campaignContacts.state} = 'pending'
          returning 1)
        select count(*) as n from ended`),
      );
      canceledContacts = Number(ended[0]?.n ?? 0);
      await addCampaignCounters(tx, id, { pending: -canceledContacts, canceled: canceledContacts });
    }
    await writeStateWebhooks(tx, [{ campaign: row, from: before!.state }], now);
    return { ok: true, campaign: row, canceledContacts };
  });
}

/** How many of a campaign's attempts ended with one outcome in one minute (minutes since the epoch). */
export interface MinuteOutcomeCount {
  minute: number;
  outcome: string;
  count: number;
}

/**
 * The campaign's attempts that ended from `from` (included) to `to` (excluded), counted per whole
 * minute of their end (UTC, whatever the session's time zone) and outcome.
 */
export async function endedAttemptsPerMinute(
  db: Db,
  campaignId: string,
  from: Date,
  to: Date,
): Promise<MinuteOutcomeCount[]> {
  const minute = sql<number>`floor(extract(epoch from ${campaignAttempts.endedAt}) / 60)::bigint`;
  const rows = await db
    .select({ minute, outcome: campaignAttempts.outcome, count: sql<number>`count(*)` })
    .from(campaignAttempts)
    .where(
      and(
        eq(campaignAttempts.campaignId, campaignId),
        gte(campaignAttempts.endedAt, from),
        lt(campaignAttempts.endedAt, to),
      ),
    )
    .groupBy(minute, campaignAttempts.outcome);
  return rows.map((r) => ({
    minute: Number(r.minute),
    outcome: r.outcome ?? 'unknown',
    count: Number(r.count),
  }));
}
