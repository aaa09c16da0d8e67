import type { AppliedEvent, CallEventInput } from '../../db/queries/call-event-plan.ts';
import { applyCallEvents } from '../../db/queries/call-events.ts';
import type { CallRow } from '../../db/queries/calls.ts';
import { accountEndedCalls } from '../../db/queries/campaign-accounting.ts';
import { addDncMany } from '../../db/queries/dnc.ts';
import { attemptOutcome, nextAfter } from '../campaigns/engine/plan.ts';
import { normalizePhone } from '../lib/phone.ts';
import type { Services } from '../services.ts';
import { type CallStatus, isTerminal, STATUS_RANK } from '../shared/contract/index.ts';
import { planWebhook } from './webhook-plan.ts';

/** How long a sidecar batch's outcome for a call stays known here once it is written. */
const RECENT_MS = 5000;

/**
 * The sidecar batches this process is writing or wrote in the last RECENT_MS, by call: the answer
 * to an originate comes back while the sidecar's own batch with the call's `dialing` is on its way
 * or being written (it is sent before ARI answers, or as it does), and the API need not write the
 * same milestone again once that batch has (see recordedBySidecar).
 */
const sidecarWrites = new Map<string, { written: Promise<CallRow | null>; settledAt: number | null }>();

function noteSidecarWrite(callIds: string[], applying: Promise<AppliedEvent[]>) {
  const now = Date.now();
  for (const [id, entry] of sidecarWrites) {
    if (entry.settledAt === null || now - entry.settledAt < RECENT_MS) break;
    sidecarWrites.delete(id);
  }
  for (const callId of callIds) {
    const entry = {
      written: applying.then(
        (applied) => applied.findLast((a) => a.input.callId === callId)?.call ?? null,
        () => null,
      ),
      settledAt: null as number | null,
    };
    entry.written.finally(() => {
      entry.settledAt = Date.now();
    });
    sidecarWrites.delete(callId);
    sidecarWrites.set(callId, entry);
  }
}

/**
 * The call as a sidecar batch written (or being written) in this process left it, when that shows it
 * at `status` or beyond: a milestone event of `status` from anyone else can then no longer apply
 * (statuses only move forward and each milestone is taken once), so the caller need not write it.
 * Null when no such batch is known here (it went to another API instance, or has not come yet).
 */
export async function recordedBySidecar(callId: string, status: CallStatus): Promise<CallRow | null> {
  const entry = sidecarWrites.get(callId);
  if (!entry) return null;
  const call = await entry.written;
  return call && STATUS_RANK[call.status] >= STATUS_RANK[status] ? call : null;
}

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
  const applying = applyCallEvents(services.db, inputs, {
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
  if (options.sidecarId !== undefined) noteSidecarWrite([...new Set(inputs.map((i) => i.callId))], applying);
  const applied = await applying;
  let any = false;
  for (const a of applied) {
    if (a.result !== 'applied') continue;
    any = true;
    if (a.call && isTerminal(a.call.status)) services.metrics.callFinished(a.call.status);
  }
  if (any) services.eventsRecorded({ deliveries });
  return applied;
}
