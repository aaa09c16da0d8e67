import type { CallRow } from '../../../db/queries/calls.ts';
import type { CampaignRow, ContactRow, LeasePlan } from '../../../db/queries/campaign-engine.ts';
import type { AttemptOutcome } from '../../shared/contract/index.ts';
import { afterOutcome, type CampaignForRetry, contactZone, dayCapped } from '../schedule/retry.ts';
import { nextOpening } from '../schedule/windows.ts';
import { localDay } from '../schedule/zone.ts';

/**
 * The engine's decisions over stored rows: whether a due contact is dialled now, and what an ended
 * attempt counts as and makes of its contact. Pure: the clock comes in as `now`.
 */

const forRetry = (campaign: CampaignRow): CampaignForRetry => ({
  timezone: campaign.timezone,
  windows: campaign.windows,
  retry: campaign.retry,
  maxAttemptsPerDay: campaign.maxAttemptsPerDay,
  endsAt: campaign.endsAt,
});

/**
 * A due contact at lease time: dialled now when it is inside its windows (its own zone, else the
 * campaign's) and under the per-day cap; otherwise due again at its next chance (outside_window is
 * counted when a window, not the cap, moved it); expired when that chance is past the campaign's end.
 */
export function planLease(contact: ContactRow, campaign: CampaignRow, now: Date): LeasePlan {
  const zone = contactZone(contact, campaign);
  const ends = campaign.endsAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const capped = dayCapped(contact, campaign, now);
  const at = capped ? nextOpening(capped, campaign.windows, zone) : null;
  if (!at || at.getTime() >= ends) return { kind: 'expire' };
  if (at.getTime() > now.getTime()) return { kind: 'defer', until: at, counted: capped === now };
  return { kind: 'dial', day: localDay(now, zone) };
}

/**
 * What an ended call counts as for its attempt: answered (a machine when the flow's amd said so, read
 * when the call ended: an answered_by reported after that is not counted), busy, no_answer, canceled,
 * lost (its channel vanished: reason lost) or failed.
 */
export function attemptOutcome(call: CallRow): AttemptOutcome {
  switch (call.status) {
    case 'completed':
    case 'answered':
      return call.answeredBy === 'machine' ? 'machine' : 'answered';
    case 'busy':
      return 'busy';
    case 'no_answer':
      return 'no_answer';
    case 'canceled':
      return 'canceled';
    default:
      return call.reason === 'lost' ? 'lost' : 'failed';
  }
}

/** The contact's next step after an attempt (its counts already include that attempt). */
export const nextAfter = (contact: ContactRow, outcome: AttemptOutcome, campaign: CampaignRow, now: Date) =>
  afterOutcome(contact, outcome, forRetry(campaign), now);
