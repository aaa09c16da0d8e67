import type { WebhookPlanner } from '../../db/queries/calls.ts';
import { presentCall, presentEvent } from './present.ts';

/**
 * A call's status changes go to its `status_callback`: every change by default, or only the
 * statuses listed in `status_callback_events`. The body is fixed when the event is recorded.
 */
export const planWebhook: WebhookPlanner = (call, event, previousStatus) => {
  if (!call.statusCallback) return null;
  if (previousStatus !== null && previousStatus === call.status) return null;
  const wanted = call.statusCallbackEvents;
  if (wanted && wanted.length > 0 && !wanted.includes(call.status)) return null;
  const payload = JSON.stringify({
    type: 'call.status',
    event_id: String(event.id),
    occurred_at: event.occurredAt.toISOString(),
    call: presentCall(call),
    event: presentEvent(event),
  });
  return { url: call.statusCallback, payload };
};
