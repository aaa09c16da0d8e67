import { z } from 'zod';
import { CallStatusSchema } from './events.ts';
import { ANSWERED_BY, FLOW_NAME, Flow, FlowAnswer, RequestUrl } from './flow.ts';
import { CallIdSchema, CONTEXT_PATTERN, EXTENSION_PATTERN } from './ids.ts';
import { UNAVAILABLE_REASONS } from './reasons.ts';
import { CALL_VARIABLE_NAME } from './variables.ts';

/** The commands the API signs and sends to a sidecar, and the sidecar's replies. */

export const OriginateCommand = z.object({
  call_id: CallIdSchema,
  phone_number: z.string().regex(/^(?=.{7,20}$)\+?[0-9]+$/),
  context: z.string().regex(CONTEXT_PATTERN),
  extension: z.string().regex(EXTENSION_PATTERN),
  priority: z.number().int().min(1).max(10),
  timeout_ms: z.number().int().min(1).max(600_000),
  caller_id: z.string().max(50).nullable(),
  variables: z.record(z.string().regex(CALL_VARIABLE_NAME), z.string().max(256)),
  traceparent: z.string().max(64).optional(),
  /** What the call does once answered, run by the sidecar over Stasis; absent: the dialplan's. */
  flow: Flow.optional(),
  requested_at: z.iso.datetime({ offset: true }),
});
export type OriginateCommand = z.infer<typeof OriginateCommand>;

export const HangupCommand = z.object({
  call_id: CallIdSchema,
  requested_at: z.iso.datetime({ offset: true }),
});
export type HangupCommand = z.infer<typeof HangupCommand>;

export const OriginateReply = z.discriminatedUnion('outcome', [
  // ARI accepted the originate (or had already accepted it for this call id).
  z.object({
    outcome: z.literal('dialing'),
    call_id: CallIdSchema,
    channel: z.string().nullable(),
    // When the call went to dialing, on the sidecar's clock: the time of its `dialing` event. The
    // API records this, not the time the reply reached it (which can be after the call rang or
    // ended). Absent from sidecars older than it.
    dialed_at: z.iso.datetime({ offset: true }).optional(),
  }),
  // Paced: the call waits in the sidecar's queue and is reported `dialing` when it leaves it.
  z.object({ outcome: z.literal('queued'), call_id: CallIdSchema, position: z.number().int().min(1) }),
  // The command was repeated for a call the sidecar already finished.
  z.object({ outcome: z.literal('finished'), call_id: CallIdSchema, status: CallStatusSchema }),
  // ARI refused the originate for good (a 4xx, or a 5xx after retries).
  z.object({
    outcome: z.literal('rejected'),
    call_id: CallIdSchema,
    reason: z.string(),
    detail: z.string(),
    ari_status: z.number().int().nullable(),
  }),
  z.object({
    outcome: z.literal('unavailable'),
    call_id: CallIdSchema,
    reason: z.enum(UNAVAILABLE_REASONS),
    retry_after_s: z.number().int().min(1),
  }),
]);
export type OriginateReply = z.infer<typeof OriginateReply>;

/**
 * hanging_up: ARI was asked to hang up; canceled: the call left the pacing queue without ringing;
 * not_found: the sidecar knows no live call with this id (it ended, or never reached it).
 */
export const HANGUP_OUTCOMES = ['hanging_up', 'canceled', 'not_found'] as const;
export type HangupOutcome = (typeof HANGUP_OUTCOMES)[number];

export const HangupReply = z.object({
  call_id: CallIdSchema,
  outcome: z.enum(HANGUP_OUTCOMES),
});
export type HangupReply = z.infer<typeof HangupReply>;

export const SidecarStatus = z.object({
  sidecar_id: z.string(),
  ari: z.object({
    // The events socket is open and gets our app's events.
    connected: z.boolean(),
    breaker: z.enum(['closed', 'open', 'half_open']),
    retry_after_s: z.number().int().nullable(),
    // Whether ARI answered the sidecar's last request to it (for this status, a probe sent just
    // before it; null when ARI was never asked), and why not. Absent from older sidecars.
    reachable: z.boolean().nullable().optional(),
    error: z.string().max(500).nullable().optional(),
    // The events socket: open, connecting, backoff (waiting to reconnect), replaced (another
    // client took our app name), idle or closed. Absent from older sidecars.
    events_socket: z.string().max(32).optional(),
  }),
  live_calls: z.number().int(),
  queued_calls: z.number().int(),
  outbox_depth: z.number().int(),
  // Its MAX_CONCURRENT_CALLS: the API records it as the sidecar's capacity. Absent from older sidecars.
  max_concurrent_calls: z.number().int().positive().optional(),
});
export type SidecarStatus = z.infer<typeof SidecarStatus>;

/**
 * A stored recording's ARI name: `<call id>-<answer name>-<run>`, so a sidecar serves or deletes
 * only recordings of the call a command names.
 */
export const RECORDING_NAME =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[A-Za-z][A-Za-z0-9_-]{0,63}-[0-9]{1,4}$/;
export function recordingName(callId: string, answer: string, run: number): string {
  return `${callId}-${answer}-${run}`;
}
export function recordingBelongsTo(callId: string, recording: string): boolean {
  return RECORDING_NAME.test(recording) && recording.startsWith(`${callId}-`);
}

/** Ask for a stored recording's audio; the reply is the WAV itself (audio/wav), or 404 problem+json. */
export const RecordingFileCommand = z.object({
  call_id: CallIdSchema,
  recording: z.string().regex(RECORDING_NAME),
  requested_at: z.iso.datetime({ offset: true }),
});
export type RecordingFileCommand = z.infer<typeof RecordingFileCommand>;

/** Delete a call's stored recordings from the PBX; missing ones count as deleted. */
export const RecordingDeleteCommand = z.object({
  call_id: CallIdSchema,
  recordings: z.array(z.string().regex(RECORDING_NAME)).min(1).max(200),
  requested_at: z.iso.datetime({ offset: true }),
});
export type RecordingDeleteCommand = z.infer<typeof RecordingDeleteCommand>;

export const RecordingDeleteReply = z.object({
  call_id: CallIdSchema,
  deleted: z.array(z.string()),
  failed: z.array(z.object({ recording: z.string(), error: z.string().max(500) })),
});
export type RecordingDeleteReply = z.infer<typeof RecordingDeleteReply>;

/** A sidecar asks the API to run a `request` step (signed, typ TYP_FLOW_REQUEST). */
export const FlowRequest = z.object({
  call_id: CallIdSchema,
  /** The n-th step run, the step's index in its segment, and its id. */
  run: z.number().int().min(1),
  segment: z.number().int().min(0),
  step: z.number().int().min(0),
  step_id: z.string().regex(FLOW_NAME).nullable(),
  answers: z.record(z.string().regex(FLOW_NAME), FlowAnswer),
  answered_by: z.enum(ANSWERED_BY).nullable(),
  /**
   * The request step's URL, for a step in steps a request returned (segment > 0): the API knows
   * only the call's own flow. For segment 0 the API takes the URL from the call's flow and ignores this.
   */
  url: RequestUrl.optional(),
  /** The step's timeout_ms, for segment > 0 likewise (default 5000). */
  timeout_ms: z.number().int().min(500).max(15_000).optional(),
});
export type FlowRequest = z.infer<typeof FlowRequest>;

/**
 * The API's answer: the steps the client returned (checked like a call's flow), or why there are
 * none (the sidecar then goes to the step's on_error, or fails the flow).
 */
export const FlowRequestReply = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('steps'), steps: Flow }),
  z.object({ outcome: z.literal('error'), detail: z.string().max(500) }),
]);
export type FlowRequestReply = z.infer<typeof FlowRequestReply>;
