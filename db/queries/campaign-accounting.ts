import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { AttemptOutcome, CampaignCounter } from '../../api/shared/contract/index.ts';
import { campaignAttempts, campaignContacts, campaigns } from '../schema.ts';
import type { Db } from '../types.ts';
import type { CallRow } from './calls.ts';
import { completeFinished } from './campaign-completion.ts';
import { addCounters, bump, type Counts } from './campaign-counters.ts';
import type { CampaignRow, ContactRow } from './campaign-engine.ts';
import { writeProgressWebhooks } from './campaign-webhooks.ts';

/** What the accounting decides for a contact whose attempt ended (the caller's retry policy). */
export type AfterAttempt =
  | { state: 'pending'; next_attempt_at: Date }
  | { state: 'done'; final_outcome: AttemptOutcome };

export interface AccountOptions {
  now: Date;
  outcomeOf(call: CallRow): AttemptOutcome;
  next(contact: ContactRow, outcome: AttemptOutcome, campaign: CampaignRow, now: Date): AfterAttempt;
  /** The window of campaign.progress webhooks (CAMPAIGN_PROGRESS_WEBHOOK_SECONDS). */
  progressWebhookSeconds: number;
}

/**
 * Closes the attempts of campaign calls that just ended, inside the transaction that ended them: the
 * attempt's outcome (once: an attempt already closed is left alone, so replayed events change
 * nothing), the contact's next attempt or its end by the retry policy (canceled when its campaign
 * was), the counters, the campaign.progress webhook of the window, and the campaign's completion
 * when nothing is left.
 */
export async function accountEndedCalls(tx: Db, ended: CallRow[], o: AccountOptions): Promise<void> {
  const ids = ended.filter((c) => c.campaignId).map((c) => c.id);
  if (ids.length === 0) return;
  const open = await tx
    .select()
    .from(campaignAttempts)
    .where(and(inArray(campaignAttempts.callId, ids), isNull(campaignAttempts.outcome)))
    .for('update');
  if (open.length === 0) return;
  const counts = new Map<string, Counts>();
  const campaignIds = [...new Set(open.map((a) => a.campaignId))];
  const rows = await tx.select().from(campaigns).where(inArray(campaigns.id, campaignIds));
  const byId = new Map(rows.map((c) => [c.id, c]));
  for (const attempt of open) {
    const call = ended.find((c) => c.id === attempt.callId)!;
    const campaign = byId.get(attempt.campaignId)!;
    const outcome = o.outcomeOf(call);
    await tx
      .update(campaignAttempts)
      .set({ outcome, endedAt: call.endedAt ?? o.now })
      .where(eq(campaignAttempts.callId, attempt.callId));
    const [contact] = await tx
      .select()
      .from(campaignContacts)
      .where(eq(campaignContacts.id, attempt.contactId))
      .for('update');
    bump(counts, campaign.id, `outcome_${outcome}`);
    if (call.answeredBy) bump(counts, campaign.id, `answered_by_${call.answeredBy}` as CampaignCounter);
    // Only the contact's current attempt moves it (an older one ending late changes its history only).
    if (contact?.state !== 'in_progress' || contact.lastCallId !== call.id) continue;
    bump(counts, campaign.id, 'in_progress', -1);
    const step = o.next(contact, outcome, campaign, o.now);
    const common = {
      lastOutcome: outcome,
      answeredBy: call.answeredBy ?? contact.answeredBy,
      updatedAt: o.now,
    };
    if (step.state === 'pending' && campaign.state !== 'canceled') {
      await tx
        .update(campaignContacts)
        .set({ ...common, state: 'pending', nextAttemptAt: step.next_attempt_at })
        .where(eq(campaignContacts.id, contact.id));
      bump(counts, campaign.id, 'pending');
    } else if (campaign.state === 'canceled' && step.state === 'pending') {
      await tx
        .update(campaignContacts)
        .set({ ...common, state: 'canceled', nextAttemptAt: null, finalOutcome: outcome })
        .where(eq(campaignContacts.id, contact.id));
      bump(counts, campaign.id, 'canceled');
    } else if (step.state === 'done') {
      await tx
        .update(campaignContacts)
        .set({ ...common, state: 'done', nextAttemptAt: null, finalOutcome: step.final_outcome })
        .where(eq(campaignContacts.id, contact.id));
      bump(counts, campaign.id, 'done');
    }
  }
  await addCounters(tx, counts);
  await writeProgressWebhooks(tx, rows, { at: o.now, window: o.progressWebhookSeconds });
  await completeFinished(tx, campaignIds, o.now);
}
