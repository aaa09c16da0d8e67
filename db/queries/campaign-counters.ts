import { inArray, sql } from 'drizzle-orm';
import { CAMPAIGN_COUNTERS, type CampaignCounter } from '../../api/shared/contract/index.ts';
import { campaignCounters } from '../schema.ts';
import type { Db } from '../types.ts';

/**
 * The counters of each campaign: every name of CAMPAIGN_COUNTERS (0 where no row is kept), and any
 * other the campaign has.
 */
export async function countersOfCampaigns(
  db: Db,
  campaignIds: string[],
): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>(
    campaignIds.map((id) => [id, Object.fromEntries(CAMPAIGN_COUNTERS.map((n) => [n, 0]))]),
  );
  if (campaignIds.length === 0) return out;
  const rows = await db
    .select()
    .from(campaignCounters)
    .where(inArray(campaignCounters.campaignId, campaignIds));
  for (const r of rows) out.get(r.campaignId)![r.name] = Number(r.value);
  return out;
}

/** Changes to counters by campaign, gathered in a transaction and added at its end by addCounters. */
export type Counts = Partial<Record<CampaignCounter, number>>;

export function bump(counts: Map<string, Counts>, campaignId: string, name: CampaignCounter, n = 1) {
  const c = counts.get(campaignId) ?? {};
  c[name] = (c[name] ?? 0) + n;
  counts.set(campaignId, c);
}

/** Adds to counters (value = value + n): never recomputed from the contacts. */
export async function addCounters(tx: Pick<Db, 'insert'>, counts: Map<string, Counts>): Promise<void> {
  const rows = [...counts].flatMap(([campaignId, c]) =>
    Object.entries(c)
      .filter(([, n]) => n !== 0)
      .map(([name, value]) => ({ campaignId, name, value: value! })),
  );
  if (rows.length === 0) return;
  await tx
    .insert(campaignCounters)
    .values(rows)
    .onConflictDoUpdate({
      target: [campaignCounters.campaignId, campaignCounters.name],
      set: { value: sql`${campaignCounters.value} + excluded.value` },
    });
}

/**
 * Adds `deltas` to a campaign's counters inside the caller's transaction, so that a counter moves
 * exactly when the work it counts commits. A counter that has no row yet starts at 0.
 */
export async function addCampaignCounters(
  tx: Pick<Db, 'insert'>,
  campaignId: string,
  deltas: Counts,
): Promise<void> {
  await addCounters(tx, new Map([[campaignId, deltas]]));
}
