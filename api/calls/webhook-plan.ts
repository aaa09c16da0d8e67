import type { WebhookPlanner } from '../../db/queries/calls.ts';
import { FLOW_EVENT_TYPES, WEBHOOK_KINDS } from '../shared/contract/index.ts';
import type { CallWebhookBody } from './bodies.ts';
import { presentCall, presentEvent } from './present.ts';

const isFlowEvent = (type: string) => (FLOW_EVENT_TYPES as readonly string[]).includes(type);

/**
 * A call's status changes go to its `status_callback` (call.status): every change by default, or only
 * the statuses listed in `status_callback_events`. Its flow events go there (call.flow) only when
 * their type is listed. The body is fixed when the event is recorded.
 */
export const planWebhook: WebhookPlanner = (call, event, previousStatus) => {
  if (!call.statusCallback) return null;
  const wanted = call.statusCallbackEvents;
  let type: CallWebhookBody['type'];
  if (isFlowEvent(event.type)) {
    if (!wanted?.includes(event.type)) return null;
    type = WEBHOOK_KINDS.flow;
  } else {
    if (previousStatus !== null && previousStatus === call.status) return null;
    if (wanted && wanted.length > 0 && !wanted.includes(call.status)) return null;
    type = WEBHOOK_KINDS.status;
  }
  const body: CallWebhookBody = {
    type,
    event_id: String(event.id),
    occurred_at: event.occurredAt.toISOString(),
    call: presentCall(call),
    event: presentEvent(event),
  };
  const payload = JSON.stringify(body);
  return { url: call.statusCallback, payload };
};
