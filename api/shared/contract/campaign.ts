import { z } from 'zod';
import { OriginateCommand } from './commands.ts';
import { ANSWERED_BY } from './flow.ts';
import { CallIdSchema, SidecarIdSchema } from './ids.ts';

/**
 * Campaigns: a list of contacts called inside each contact's hours, retried by outcome. What both
 * sides mean by a campaign's state, a retry policy, a calling window, and the signed messages by which
 * a sidecar with free capacity pulls due attempts.
 */

/** draft → running ⇄ paused → completed | canceled. */
export const CAMPAIGN_STATES = ['draft', 'running', 'paused', 'completed', 'canceled'] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

/** The actions that move a campaign, and from which states each is allowed. */
export const CAMPAIGN_ACTIONS = {
  start: { from: ['draft'], to: 'running' },
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['draft', 'running', 'paused'], to: 'canceled' },
} as const satisfies Record<string, { from: readonly CampaignState[]; to: CampaignState }>;
export type CampaignAction = keyof typeof CAMPAIGN_ACTIONS;

/**
 * What an attempt's outcome is, for the retry policy: the call's final status, `machine` when a flow's
 * amd step said so, `lost` when the call's channel vanished (reason `lost`, or its sidecar went away).
 */
export const RETRY_OUTCOMES = ['busy', 'no_answer', 'failed', 'machine', 'lost'] as const;
export type RetryOutcome = (typeof RETRY_OUTCOMES)[number];

/** An attempt's outcome: a retryable one, `answered` (a person, or nobody asked), or `canceled`. */
export const ATTEMPT_OUTCOMES = ['answered', ...RETRY_OUTCOMES, 'canceled'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * A contact's state: pending (an attempt is due now or later), in_progress (an attempt is leased or
 * dialling), done (answered, or no retry left: `final_outcome` says which), dnc (its number is on the
 * do-not-call list: never dialled), canceled (the campaign was canceled before it was done).
 */
export const CONTACT_STATES = ['pending', 'in_progress', 'done', 'dnc', 'canceled'] as const;
export type ContactState = (typeof CONTACT_STATES)[number];

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const LOCAL_TIME = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
/** An end may also be 24:00, the end of the day, so that the last minute before midnight is inside. */
const LOCAL_END = /^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/;

/** A calling window in the contact's local time: these days, from `start` to `end` (end excluded). */
export const CallingWindow = z.strictObject({
  days: z.array(z.enum(WEEKDAYS)).min(1).max(7),
  start: z.string().regex(LOCAL_TIME, 'must be a local time HH:MM'),
  end: z.string().regex(LOCAL_END, 'must be a local time HH:MM, or 24:00 for the end of the day'),
});
export type CallingWindow = z.infer<typeof CallingWindow>;

/** For one outcome: retry after this long, while the contact has had fewer than max_attempts. */
export const RetryRule = z.strictObject({
  after_seconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400),
  max_attempts: z.number().int().min(1).max(20),
});
export type RetryRule = z.infer<typeof RetryRule>;

/** Outcomes not named are not retried. */
export const RetryPolicy = z.strictObject(
  Object.fromEntries(RETRY_OUTCOMES.map((o) => [o, RetryRule.optional()])) as Record<
    RetryOutcome,
    z.ZodOptional<typeof RetryRule>
  >,
);
export type RetryPolicy = z.infer<typeof RetryPolicy>;

/** The counters a campaign keeps as the work happens (never a count over its contacts). */
export const CAMPAIGN_COUNTERS = [
  'total',
  'pending',
  'in_progress',
  'done',
  'dnc_skipped',
  'canceled',
  'attempts',
  'outside_window',
  ...ATTEMPT_OUTCOMES.map((o) => `outcome_${o}` as const),
  ...ANSWERED_BY.map((a) => `answered_by_${a}` as const),
] as const;
export type CampaignCounter = (typeof CAMPAIGN_COUNTERS)[number];

/**
 * A sidecar with free capacity asks for due attempts (signed, typ TYP_LEASE): how many calls it can
 * take now. The API leases at most that many, gives each its call id and answers with the originate
 * commands, which the sidecar runs as if the API had sent them.
 */
export const LeaseRequest = z.object({
  sidecar_id: SidecarIdSchema,
  capacity: z.number().int().min(0).max(1000),
});
export type LeaseRequest = z.infer<typeof LeaseRequest>;

export const LeaseReply = z.object({
  commands: z.array(OriginateCommand),
  /** When to ask again with capacity left (nothing due sooner, or campaigns' pacing). */
  next_poll_ms: z.number().int().min(0).max(60_000),
});
export type LeaseReply = z.infer<typeof LeaseReply>;

/** What a leased attempt carries back (in the call it became): its campaign and contact. */
export const AttemptRef = z.object({
  call_id: CallIdSchema,
  campaign_id: z.uuid(),
  contact_id: z.number().int().min(1),
  attempt: z.number().int().min(1),
});
export type AttemptRef = z.infer<typeof AttemptRef>;
