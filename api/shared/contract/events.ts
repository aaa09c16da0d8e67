import { z } from 'zod';
import { FLOW_EVENT_TYPES, FlowEventDetail } from './flow.ts';
import { CallIdSchema, SidecarIdSchema } from './ids.ts';
import { CALL_STATUSES } from './statuses.ts';

/** The events of a call's log, and the signed batches in which a sidecar reports its part of them. */

export const CallStatusSchema = z.enum(CALL_STATUSES);

/** The kinds of event a sidecar reports, in the order they can happen. */
export const CHANNEL_EVENT_TYPES = ['dialing', 'ringing', 'progress', 'answered', 'ended'] as const;
export type ChannelEventType = (typeof CHANNEL_EVENT_TYPES)[number];

/**
 * The milestones of a call: each happens at most once, whoever reports it first, and moves the
 * status; `created` is the API's own.
 */
export const MILESTONE_EVENT_TYPES = ['created', ...CHANNEL_EVENT_TYPES] as const;

/** Every kind of event in a call's log: the milestones, and a hang-up asked through the API. */
export const CALL_EVENT_TYPES = [...MILESTONE_EVENT_TYPES, 'hangup_requested'] as const;

/** One event as a sidecar reports it. */
export const CallEvent = z.object({
  // Unique across everything the sidecar ever sends; the API ignores an id it has seen.
  event_id: z.string().min(1).max(200),
  call_id: CallIdSchema,
  // 1, 2, 3… per call, in the order the sidecar saw things happen.
  seq: z.number().int().min(1),
  // A channel milestone, or a flow event (which leaves the status as it is).
  type: z.enum([...CHANNEL_EVENT_TYPES, ...FLOW_EVENT_TYPES]),
  status: CallStatusSchema,
  occurred_at: z.iso.datetime({ offset: true }),
  reason: z.string().max(64).nullable().default(null),
  hangup_cause: z.number().int().min(0).max(255).nullable().default(null),
  hangup_cause_txt: z.string().max(128).nullable().default(null),
  dial_status: z.string().max(32).nullable().default(null),
  channel: z.string().max(200).nullable().default(null),
  /** Flow events only: the step and what it gave. */
  flow: FlowEventDetail.nullable().default(null),
});
export type CallEvent = z.infer<typeof CallEvent>;
export type CallEventInput = z.input<typeof CallEvent>;

export const EventBatch = z.object({
  sidecar_id: SidecarIdSchema,
  batch_id: z.string().min(1).max(100),
  events: z.array(CallEvent).min(1).max(500),
});
export type EventBatch = z.infer<typeof EventBatch>;

/**
 * What became of each event: applied (it changed the call), duplicate (seen before), stale (too
 * late for a call already past it) or unknown_call (no such call, or not this sidecar's).
 */
export const EVENT_RESULTS = ['applied', 'duplicate', 'stale', 'unknown_call'] as const;
export type EventResult = (typeof EVENT_RESULTS)[number];

export const EventBatchAck = z.object({
  batch_id: z.string(),
  results: z.array(z.object({ event_id: z.string(), result: z.enum(EVENT_RESULTS) })),
});
export type EventBatchAck = z.infer<typeof EventBatchAck>;
