import { sql } from 'drizzle-orm';
import { campaigns } from '../schema.ts';
import type { Db } from '../types.ts';
import { writeProgressWebhooks, writeStateWebhooks } from './campaign-webhooks.ts';

/**
 * Running campaigns among these whose contacts are all done, dnc or canceled become completed, with
 * their last campaign.progress and their campaign.state webhooks.
 */
export async function completeFinished(tx: Db, campaignIds: string[], now: Date): Promise<void> {
  if (campaignIds.length === 0) return;
  // A campaign another transaction holds (a lease, an action) is left for the next pass.
  const done = await tx
    .update(campaigns)
    .set({ state: 'completed', finishedAt: now, updatedAt: now })
    .where(
      sql`${campaigns.id} in (
      select c.id from campaigns c
      where c.id in (${sql.join(
        campaignIds.map((id) => sql`${id}::uuid`),
        sql`, `,
      )}) and c.state = 'running'
        and not exists (select 1 from campaign_contacts k where k.campaign_id = c.id
                        and k.state in ('pending', 'in_progress'))
        and not exists (select 1 from campaign_attempts a where a.campaign_id = c.id and a.outcome is null)
      for update skip locked)`,
    )
    .returning();
  if (done.length === 0) return;
  await writeProgressWebhooks(tx, done, { at: now, window: 'final' });
  await writeStateWebhooks(
    tx,
    done.map((campaign) => ({ campaign, from: 'running' as const })),
    now,
  );
}
