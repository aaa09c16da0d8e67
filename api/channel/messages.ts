import { z } from 'zod';

/**
 * The messages of the API ↔ sidecar channel. Both sides import these schemas; neither
 * re-implements the other's half.
 */

export const CALL_STATUS = z.enum([
  'pending',
  'dialing',
  'ringing',
  'answered',
  'completed',
  'busy',
  'no_answer',
  'failed',
  'canceled',
]);
export type ChannelCallStatus = z.infer<typeof CALL_STATUS>;

/** Paths of the sidecar's command endpoints and of the API's event endpoint. */
export const SIDECAR_PATHS = {
  originate: '/v1/commands/originate',
  hangup: '/v1/commands/hangup',
  status: '/v1/status',
} as const;
export const API_EVENTS_PATH = '/api/v2/sidecar/events';

/** JWT `typ` headers keep a command token from ever passing as an event token, and the reverse. */
export const TYP_COMMAND = 'outdial-command+jwt';
export const TYP_EVENTS = 'outdial-events+jwt';

/**
 * The names a caller may give call variables: a letter, then letters, digits or _. This leaves out
 * what Asterisk reads as something else than a plain variable: a leading _ or __ (passed on to
 * other channels) and a function such as CALLERID(num).
 */
export const CALL_VARIABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * Caller variables reach the channel in their own namespace, `OUTDIAL_VAR_<name>`, so that none
 * can shadow a dialplan global (OUTBOUND_PROMPT), a variable Asterisk itself reads
 * (TRANSFER_CONTEXT, DYNAMIC_FEATURES, …) or one the sidecar sets (TRACEPARENT).
 */
export const CALL_VARIABLE_PREFIX = 'OUTDIAL_VAR_';

/** The channel variable a caller's variable `name` becomes. */
export const channelVariableName = (name: string): string => `${CALL_VARIABLE_PREFIX}${name}`;

export const OriginateCommand = z.object({
  call_id: z.uuid(),
  phone_number: z.string().regex(/^(?=.{7,20}$)\+?[0-9]+$/),
  context: z.string().regex(/^[A-Za-z0-9_-]{1,50}$/),
  extension: z.string().regex(/^[A-Za-z0-9_*#+-]{1,50}$/),
  priority: z.number().int().min(1).max(10),
  timeout_ms: z.number().int().min(1).max(600_000),
  caller_id: z.string().max(50).nullable(),
  variables: z.record(z.string().regex(CALL_VARIABLE_NAME), z.string().max(256)),
  traceparent: z.string().max(64).optional(),
  requested_at: z.iso.datetime({ offset: true }),
});
export type OriginateCommand = z.infer<typeof OriginateCommand>;

export const HangupCommand = z.object({
  call_id: z.uuid(),
  requested_at: z.iso.datetime({ offset: true }),
});
export type HangupCommand = z.infer<typeof HangupCommand>;

/** Why the sidecar cannot take a command now; the API answers 503 with Retry-After. */
export const UNAVAILABLE_REASONS = [
  'breaker_open',
  'queue_full',
  'ari_unreachable',
  'shutting_down',
] as const;

export const OriginateReply = z.discriminatedUnion('outcome', [
  // ARI accepted the originate (or had already accepted it for this call id).
  z.object({
    outcome: z.literal('dialing'),
    call_id: z.uuid(),
    channel: z.string().nullable(),
    // When the call went to dialing, on the sidecar's clock: the time of its `dialing` event. The
    // API records this, not the time the reply reached it (which can be after the call rang or
    // ended). Absent from sidecars older than it.
    dialed_at: z.iso.datetime({ offset: true }).optional(),
  }),
  // Paced: the call waits in the sidecar's queue and is reported `dialing` when it leaves it.
  z.object({ outcome: z.literal('queued'), call_id: z.uuid(), position: z.number().int().min(1) }),
  // The command was repeated for a call the sidecar already finished.
  z.object({ outcome: z.literal('finished'), call_id: z.uuid(), status: CALL_STATUS }),
  // ARI refused the originate for good (a 4xx, or a 5xx after retries).
  z.object({
    outcome: z.literal('rejected'),
    call_id: z.uuid(),
    reason: z.string(),
    detail: z.string(),
    ari_status: z.number().int().nullable(),
  }),
  z.object({
    outcome: z.literal('unavailable'),
    call_id: z.uuid(),
    reason: z.enum(UNAVAILABLE_REASONS),
    retry_after_s: z.number().int().min(1),
  }),
]);
export type OriginateReply = z.infer<typeof OriginateReply>;

export const HangupReply = z.object({
  call_id: z.uuid(),
  // hanging_up: ARI was asked to hang up; canceled: the call left the pacing queue without ringing;
  // not_found: the sidecar knows no live call with this id (it ended, or never reached it).
  outcome: z.enum(['hanging_up', 'canceled', 'not_found']),
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
});
export type SidecarStatus = z.infer<typeof SidecarStatus>;

export const CALL_EVENT_TYPES = ['dialing', 'ringing', 'progress', 'answered', 'ended'] as const;

export const CallEvent = z.object({
  // Unique across everything the sidecar ever sends; the API ignores an id it has seen.
  event_id: z.string().min(1).max(200),
  call_id: z.uuid(),
  // 1, 2, 3… per call, in the order the sidecar saw things happen.
  seq: z.number().int().min(1),
  type: z.enum(CALL_EVENT_TYPES),
  status: CALL_STATUS,
  occurred_at: z.iso.datetime({ offset: true }),
  reason: z.string().max(64).nullable().default(null),
  hangup_cause: z.number().int().min(0).max(255).nullable().default(null),
  hangup_cause_txt: z.string().max(128).nullable().default(null),
  dial_status: z.string().max(32).nullable().default(null),
  channel: z.string().max(200).nullable().default(null),
});
export type CallEvent = z.infer<typeof CallEvent>;
export type CallEventInput = z.input<typeof CallEvent>;

export const EventBatch = z.object({
  sidecar_id: z.string().min(1).max(100),
  batch_id: z.string().min(1).max(100),
  events: z.array(CallEvent).min(1).max(500),
});
export type EventBatch = z.infer<typeof EventBatch>;

export const EventBatchAck = z.object({
  batch_id: z.string(),
  // applied: changed the call; duplicate: seen before; ignored: too late for a finished call or unknown call.
  results: z.array(
    z.object({ event_id: z.string(), result: z.enum(['applied', 'duplicate', 'stale', 'unknown_call']) }),
  ),
});
export type EventBatchAck = z.infer<typeof EventBatchAck>;
