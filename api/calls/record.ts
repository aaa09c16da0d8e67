import { applyCallEvents, type CallEventInput } from '../../db/queries/calls.ts';
import { accountEndedCalls } from '../../db/queries/campaign-accounting.ts';
import { addDncMany } from '../../db/queries/dnc.ts';
import { attemptOutcome, nextAfter } from '../campaigns/engine/plan.ts';
import { normalizePhone } from '../lib/phone.ts';
import type { Services } from '../services.ts';
import { isTerminal } from '../shared/contract/index.ts';
import { planWebhook } from './webhook-plan.ts';

/**
 * Records call events (from the API itself or from a sidecar): applies them with the webhook planner
 * and the campaign accounting in the same transaction, lists the numbers of callees who opted out
 * during a flow, counts finished calls, and wakes the live stream and the webhook dispatcher.
 */
export async function recordEvents(
  services: Services,
  inputs: CallEventInput[],
  options: { sidecarId?: string } = {},
) {
  // Whether these events planned a webhook delivery (a campaign's call that ends may plan the
  // campaign's), so that the dispatcher is woken only then.
  let deliveries = false;
  const applied = await applyCallEvents(services.db, inputs, {
    ...options,
    webhook: (call, event, previousStatus) => {
      const plan = planWebhook(call, event, previousStatus);
      if (plan) deliveries = true;
      return plan;
    },
    // A campaign's call that ends closes its attempt and moves its contact, in the same transaction.
    onEnded: (tx, ended) => {
      if (ended.some((call) => call.campaignId)) deliveries = true;
      return accountEndedCalls(tx, ended, {
        now: services.now(),
        outcomeOf: attemptOutcome,
        next: nextAfter,
        progressWebhookSeconds: services.config.CAMPAIGN_PROGRESS_WEBHOOK_SECONDS,
      });
    },
    // A flow's optout step puts the callee's number on the do-not-call list, in E.164 like every
    // listed number (a number the normaliser cannot read is listed as the call has it).
    onOptout: async (tx, optedOut) => {
      const region = services.config.DEFAULT_PHONE_REGION;
      const entries = optedOut.map((call) => {
        const phone = normalizePhone(call.phoneNumber, region);
        return {
          phoneNumber: phone.ok ? phone.e164 : call.phoneNumber,
          note: `opted out during call ${call.id}`,
        };
      });
      await addDncMany(tx, entries, null, 'flow');
    },
  });
  let any = false;
  for (const a of applied) {
    if (a.result !== 'applied') continue;
    any = true;
    if (a.call && isTerminal(a.call.status)) services.metrics.callFinished(a.call.status);
  }
  if (any) services.eventsRecorded({ deliveries });
  return applied;
}
