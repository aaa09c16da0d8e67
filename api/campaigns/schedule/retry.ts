import type {
  AttemptOutcome,
  CallingWindow,
  RetryOutcome,
  RetryPolicy,
} from '../../shared/contract/index.ts';
import { nextOpening } from './windows.ts';
import { localDay, nextDate, zonedTime } from './zone.ts';

/** What the retry policy needs of a contact, after the attempt that just ended was counted. */
export interface ContactForRetry {
  attempts: number;
  attemptsToday: number;
  /** The local day `attemptsToday` counts (YYYY-MM-DD in the contact's zone). */
  attemptsDay: string | null;
  timezone: string | null;
}

export interface CampaignForRetry {
  timezone: string;
  windows: readonly CallingWindow[];
  retry: RetryPolicy;
  maxAttemptsPerDay: number;
  endsAt: Date | null;
}

export type NextStep =
  | { state: 'pending'; next_attempt_at: Date }
  | { state: 'done'; final_outcome: AttemptOutcome };

const retryable = (outcome: AttemptOutcome): outcome is RetryOutcome =>
  outcome !== 'answered' && outcome !== 'canceled';

/** The zone a contact is called in: its own, else the campaign's. */
export const contactZone = (contact: { timezone: string | null }, campaign: { timezone: string }) =>
  contact.timezone ?? campaign.timezone;

/**
 * What becomes of a contact after an attempt: another attempt `after_seconds` later when the policy
 * has a rule for the outcome and the contact has had fewer than its `max_attempts`; when that day (the
 * contact's local day) already had `max_attempts_per_day`, the first window opening of the next local
 * day; done with the outcome when there is no rule, no attempt left, or the campaign ends first.
 */
export function afterOutcome(
  contact: ContactForRetry,
  outcome: AttemptOutcome,
  campaign: CampaignForRetry,
  now: Date,
): NextStep {
  const done: NextStep = { state: 'done', final_outcome: outcome };
  if (!retryable(outcome)) return done;
  const rule = campaign.retry[outcome];
  if (!rule || contact.attempts >= rule.max_attempts) return done;
  const next = dayCapped(contact, campaign, new Date(now.getTime() + rule.after_seconds * 1000));
  if (!next || (campaign.endsAt && next.getTime() >= campaign.endsAt.getTime())) return done;
  return { state: 'pending', next_attempt_at: next };
}

/**
 * When an attempt at `at` would pass the per-day cap (the contact already had max_attempts_per_day on
 * that local day), the first window opening of the next local day; otherwise `at`. Null: no opening.
 */
export function dayCapped(
  contact: Pick<ContactForRetry, 'attemptsToday' | 'attemptsDay' | 'timezone'>,
  campaign: Pick<CampaignForRetry, 'timezone' | 'windows' | 'maxAttemptsPerDay'>,
  at: Date,
): Date | null {
  const zone = contactZone(contact, campaign);
  const day = localDay(at, zone);
  if (contact.attemptsDay !== day || contact.attemptsToday < campaign.maxAttemptsPerDay) return at;
  const tomorrow = nextDate(day);
  return nextOpening(zonedTime(tomorrow.year, tomorrow.month, tomorrow.day, 0, zone), campaign.windows, zone);
}
