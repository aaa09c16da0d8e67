import { eq, sql } from 'drizzle-orm';
import { addCounters } from '../../db/queries/campaign-counters.ts';
import {
  campaignAttempts,
  campaignContacts,
  campaignCounters,
  campaigns,
  dncNumbers,
} from '../../db/schema.ts';
import type { Db } from '../../db/types.ts';

/**
 * Campaigns and contacts as rows, for tests of the engine: what the campaign and contact routes store,
 * written directly (counters total and pending included, as an import leaves them).
 */

export type CampaignValues = typeof campaigns.$inferInsert;
export interface ContactValues {
  phone: string;
  timezone?: string | null;
  variables?: Record<string, string>;
  nextAttemptAt?: Date;
}

/** Every day, all day: 00:00 to 24:00, so no minute is outside it, 23:59 included. */
export const ALWAYS = [
  { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const, start: '00:00', end: '24:00' },
];

/** A running campaign (every day, all day, no retries) unless `values` say otherwise. */
export async function insertCampaign(db: Db, values: Partial<CampaignValues> & { ownerId: string }) {
  const [row] = await db
    .insert(campaigns)
    .values({
      name: `campaign ${crypto.randomUUID().slice(0, 8)}`,
      state: 'running',
      context: 'outbound',
      timezone: 'UTC',
      windows: ALWAYS.map((w) => ({ ...w, days: [...w.days] })),
      cps: 100,
      maxConcurrent: 100,
      nextLeaseAt: new Date(0),
      startedAt: new Date(),
      ...values,
    })
    .returning();
  return row!;
}

export async function insertContacts(
  db: Db,
  campaignId: string,
  contacts: ContactValues[],
  at = new Date(0),
) {
  const rows = await db
    .insert(campaignContacts)
    .values(
      contacts.map((c, i) => ({
        campaignId,
        phoneNumber: c.phone,
        timezone: c.timezone ?? null,
        variables: c.variables ?? {},
        nextAttemptAt: c.nextAttemptAt ?? at,
        sourceRow: i + 1,
      })),
    )
    .returning();
  await addCounters(db, new Map([[campaignId, { total: rows.length, pending: rows.length }]]));
  return rows;
}

export async function setCampaignState(db: Db, id: string, state: CampaignValues['state']) {
  await db.update(campaigns).set({ state }).where(eq(campaigns.id, id));
}

/** What a cancel does to the rows: the campaign canceled, its pending contacts canceled. */
export async function cancelCampaignRows(db: Db, id: string) {
  await db.transaction(async (tx) => {
    await tx.update(campaigns).set({ state: 'canceled', finishedAt: new Date() }).where(eq(campaigns.id, id));
    const gone = await tx
      .update(campaignContacts)
      .set({ state: 'canceled', nextAttemptAt: null })
      .where(sql`${campaignContacts.campaignId} = ${id} and ${campaignContacts.state} = 'pending'`)
      .returning({ id: campaignContacts.id });
    await addCounters(tx, new Map([[id, { pending: -gone.length, canceled: gone.length }]]));
  });
}

export async function addDnc(db: Db, phone: string) {
  await db.insert(dncNumbers).values({ phoneNumber: phone, source: 'api' }).onConflictDoNothing();
}

export async function countersOf(db: Db, campaignId: string): Promise<Record<string, number>> {
  const rows = await db.select().from(campaignCounters).where(eq(campaignCounters.campaignId, campaignId));
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.value)]));
}

export async function contactsOf(db: Db, campaignId: string) {
  return db
    .select()
    .from(campaignContacts)
    .where(eq(campaignContacts.campaignId, campaignId))
    .orderBy(campaignContacts.id);
}

export async function attemptsOf(db: Db, campaignId: string) {
  return db.select().from(campaignAttempts).where(eq(campaignAttempts.campaignId, campaignId));
}

export async function campaignRow(db: Db, id: string) {
  const [row] = await db.select().from(campaigns).where(eq(campaigns.id, id));
  return row!;
}

/**
 * The counters a campaign's contacts and attempts say it should have: the truth the kept counters
 * must equal.
 */
export async function countersFromRows(db: Db, campaignId: string): Promise<Record<string, number>> {
  const contacts = await contactsOf(db, campaignId);
  const attempts = await attemptsOf(db, campaignId);
  const out: Record<string, number> = { total: contacts.length, attempts: attempts.length };
  const add = (name: string, n = 1) => {
    out[name] = (out[name] ?? 0) + n;
  };
  for (const c of contacts) {
    if (c.state === 'dnc') add('dnc_skipped');
    else add(c.state);
  }
  for (const a of attempts) if (a.outcome) add(`outcome_${a.outcome}`);
  return out;
}
