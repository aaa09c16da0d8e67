/**
 * Why a call ended as it did: the machine-readable `reason` of a call and of its final event. The
 * channel carries a reason as a plain string (a newer sidecar may know more of them); these are the
 * ones Outdial itself gives.
 */
export const CALL_REASONS = [
  'normal',
  'busy',
  'rejected',
  'timeout',
  'no_answer',
  'congestion',
  'invalid_number',
  'pbx_routing',
  'pbx_unreachable',
  'pbx_shutdown',
  'lost',
  'hangup_requested',
  'invalid_request',
  'flow_interrupted',
  'unknown',
] as const;
export type CallReason = (typeof CALL_REASONS)[number];

/** The words the API shows for the reason of a call that did not complete. */
const REASON_TEXT: Partial<Record<CallReason, string>> = {
  busy: 'The callee is busy',
  rejected: 'The callee rejected the call',
  timeout: 'No answer before the ring timeout',
  no_answer: 'The network reported no answer',
  congestion: 'The network is congested or the route is unavailable',
  invalid_number: 'The number does not exist',
  pbx_routing: 'The PBX could not route the call',
  pbx_unreachable: 'The PBX could not be reached',
  lost: 'The call was lost when the PBX restarted or disconnected',
  hangup_requested: 'Hung up through the API',
  invalid_request: 'The PBX refused the originate request',
  flow_interrupted: 'The sidecar restarted while the call ran its flow, which was ended',
  unknown: 'The call failed',
};

/** The reason in words, or null for a reason that has none. */
export function reasonText(reason: string): string | null {
  return Object.hasOwn(REASON_TEXT, reason) ? REASON_TEXT[reason as CallReason]! : null;
}

/** Why the sidecar cannot take a command now; the API answers 503 with Retry-After. */
export const UNAVAILABLE_REASONS = [
  'breaker_open',
  'queue_full',
  'ari_unreachable',
  'shutting_down',
] as const;
export type UnavailableReason = (typeof UNAVAILABLE_REASONS)[number];
