import { inArray } from 'drizzle-orm';
import {
  CAMPAIGN_WEBHOOK_KINDS,
  type CampaignCallbackEvent,
  type CampaignState,
  campaignWebhookBody,
} from '../../api/shared/contract/index.ts';
import { type campaigns, webhookDeliveries } from '../schema.ts';
import type { Db } from '../types.ts';
import { countersOfCampaigns } from './campaign-counters.ts';

/**
 * A campaign's webhooks, written into the delivery outbox by the transaction that makes the change
 * they report (an action, a completion, the counters moving), so a committed change always gets its
 * webhook and a rolled back one never does. The dispatcher sends them as it sends calls' webhooks.
 */

type Campaign = Pick<
  typeof campaigns.$inferSelect,
  'id' | 'state' | 'statusCallback' | 'statusCallbackEvents'
>;
type Tx = Pick<Db, 'select' | 'insert'>;

/** Whether `campaign` has asked for `kind` (all kinds when its list is absent). */
export function wantsWebhook(campaign: Campaign, kind: CampaignCallbackEvent): boolean {
  if (!campaign.statusCallback) return false;
  const wanted = campaign.statusCallbackEvents;
  return !wanted || wanted.length === 0 || wanted.includes(kind);
}

/** The campaign.progress window `at` falls in, for one campaign: at most one delivery each. */
export function progressWindowKey(campaignId: string, at: Date, windowSeconds: number): string {
  return `${campaignId}:${Math.floor(at.getTime() / 1000 / windowSeconds)}`;
}

/** A campaign.state webhook for each campaign that moved (and asked for them), with its counters now. */
export async function writeStateWebhooks(
  tx: Tx,
  moves: Array<{ campaign: Campaign; from: CampaignState }>,
  at: Date,
): Promise<void> {
  const wanted = moves.filter((m) => wantsWebhook(m.campaign, CAMPAIGN_WEBHOOK_KINDS.state));
  if (wanted.length === 0) return;
  const counters = await countersOfCampaigns(
    tx as Db,
    wanted.map((m) => m.campaign.id),
  );
  await tx.insert(webhookDeliveries).values(
    wanted.map(({ campaign, from }) => ({
      campaignId: campaign.id,
      url: campaign.statusCallback!,
      payload: campaignWebhookBody({
        type: CAMPAIGN_WEBHOOK_KINDS.state,
        campaign_id: campaign.id,
        state: campaign.state,
        previous_state: from,
        counters: counters.get(campaign.id)!,
        at: at.toISOString(),
      }),
    })),
  );
}

/**
 * A campaign.progress webhook for each of these campaigns (that asked for them) whose window has none
 * yet: `window` 'final' gives each its last one (its completion), a number of seconds the window of
 * that length `at` falls in. The window's key is unique: of transactions racing in one window, the first to
 * commit writes the delivery and the others, which waited for it, write nothing. Run after the
 * transaction's counters moved, so the counters sent include them.
 */
export async function writeProgressWebhooks(
  tx: Tx,
  list: Campaign[],
  o: { at: Date; window: number | 'final' },
): Promise<void> {
  const wanted = new Map(
    list
      .filter((c) => wantsWebhook(c, CAMPAIGN_WEBHOOK_KINDS.progress))
      .map((c) => [o.window === 'final' ? `${c.id}:final` : progressWindowKey(c.id, o.at, o.window), c]),
  );
  if (wanted.size === 0) return;
  // Mostly the window has its delivery already: one index probe, and nothing read or written.
  const taken = await tx
    .select({ key: webhookDeliveries.windowKey })
    .from(webhookDeliveries)
    .where(inArray(webhookDeliveries.windowKey, [...wanted.keys()]));
  for (const { key } of taken) if (key) wanted.delete(key);
  if (wanted.size === 0) return;
  const counters = await countersOfCampaigns(
    tx as Db,
    [...wanted.values()].map((c) => c.id),
  );
  await tx
    .insert(webhookDeliveries)
    .values(
      [...wanted].map(([windowKey, campaign]) => ({
        campaignId: campaign.id,
        windowKey,
        url: campaign.statusCallback!,
        payload: campaignWebhookBody({
          type: CAMPAIGN_WEBHOOK_KINDS.progress,
          campaign_id: campaign.id,
          state: campaign.state,
          counters: counters.get(campaign.id)!,
          at: o.at.toISOString(),
        }),
      })),
    )
    .onConflictDoNothing({ target: webhookDeliveries.windowKey });
}
