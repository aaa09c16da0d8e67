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
