import { applyCallEvents, type CallEventInput } from '../../db/queries/calls.ts';
import { accountEndedCalls } from '../../db/queries/campaign-engine.ts';
import { attemptOutcome, nextAfter } from '../campaigns/engine/plan.ts';
import type { Services } from '../services.ts';
import { isTerminal } from '../shared/contract/index.ts';
import { planWebhook } from './webhook-plan.ts';

/**
 * Records call events (from the API itself or from a sidecar): applies them with the webhook planner
 * and the campaign accounting in the same transaction, counts finished calls, and wakes the live stream and the webhook dispatcher.
 */
export async function recordEvents(
  services: Services,
  inputs: CallEventInput[],
  options: { sidecarId?: string } = {},
) {
  const applied = await applyCallEvents(services.db, inputs, {
    ...options,
    webhook: planWebhook,
    // A campaign's call that ends closes its attempt and moves its contact, in the same transaction.
    onEnded: (tx, ended) =>
      accountEndedCalls(tx, ended, { now: services.now(), outcomeOf: attemptOutcome, next: nextAfter }),
  });
  let any = false;
  for (const a of applied) {
    if (a.result !== 'applied') continue;
    any = true;
    if (a.call && isTerminal(a.call.status)) services.metrics.callFinished(a.call.status);
  }
  if (any) services.eventsRecorded();
  return applied;
}
