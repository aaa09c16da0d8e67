import { inArray } from 'drizzle-orm';
import { CAMPAIGN_COUNTERS } from '../../api/shared/contract/index.ts';
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
