import { z } from 'zod';
import { CAMPAIGN_STATES } from './campaign.ts';
import { FLOW_EVENT_TYPES } from './flow.ts';
import { CALL_STATUSES } from './statuses.ts';

/**
 * The webhooks a call's `status_callback` receives: `call.status` when the call's status changes,
 * `call.flow` for each flow event (step_started, step_finished, flow_ended) asked for.
 */
export const WEBHOOK_KINDS = { status: 'call.status', flow: 'call.flow' } as const;

/**
 * What `status_callback_events` may list: statuses (a call.status webhook when the call reaches one;
 * every change when the list is absent) and flow event types (a call.flow webhook for each such
 * event; only when listed).
 */
export const CALLBACK_EVENTS = [...CALL_STATUSES, ...FLOW_EVENT_TYPES] as const;

/**
 * The webhooks a campaign's `status_callback` receives, and what its `status_callback_events` may
 * list (both when the list is absent): `campaign.state` on each change of state (running, paused,
 * running again on resume, completed, canceled), `campaign.progress` with the counters, at most one per
 * CAMPAIGN_PROGRESS_WEBHOOK_SECONDS window while they move, and a last one when the campaign completes.
 */
export const CAMPAIGN_WEBHOOK_KINDS = { state: 'campaign.state', progress: 'campaign.progress' } as const;
export const CAMPAIGN_CALLBACK_EVENTS = [
  CAMPAIGN_WEBHOOK_KINDS.state,
  CAMPAIGN_WEBHOOK_KINDS.progress,
] as const;
export type CampaignCallbackEvent = (typeof CAMPAIGN_CALLBACK_EVENTS)[number];

/**
 * A campaign's progress, as it stood at `at`: its state and its counters (the names of
 * CAMPAIGN_COUNTERS). The data of an `event: campaign` frame on the live stream; with `type` (and, for
 * campaign.state, the state it left) the body of a campaign webhook.
 */
export const CampaignProgress = z.object({
  campaign_id: z.uuid(),
  state: z.enum(CAMPAIGN_STATES),
  counters: z.record(z.string(), z.number().int()),
  at: z.iso.datetime({ offset: true }),
});
export type CampaignProgress = z.infer<typeof CampaignProgress>;

export const CampaignWebhook = CampaignProgress.extend({
  type: z.enum(CAMPAIGN_CALLBACK_EVENTS),
  /** campaign.state: the state the campaign left. */
  previous_state: z.enum(CAMPAIGN_STATES).optional(),
});
export type CampaignWebhook = z.infer<typeof CampaignWebhook>;

/** The exact body of a campaign webhook (fixed when the delivery is written). */
export function campaignWebhookBody(body: CampaignWebhook): string {
  const { type, previous_state, ...progress } = body;
  return JSON.stringify({ type, ...progress, ...(previous_state ? { previous_state } : {}) });
}
