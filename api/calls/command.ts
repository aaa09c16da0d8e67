import type { CallRow } from '../../db/queries/calls.ts';
import type { Flow, OriginateCommand } from '../shared/contract/index.ts';

/** The originate command for a stored call, as the API signs it for a sidecar (POST /calls and leases). */
export function originateCommandOf(call: CallRow, requestedAt: Date = new Date()): OriginateCommand {
  return {
    call_id: call.id,
    phone_number: call.phoneNumber,
    context: call.context,
    extension: call.extension,
    priority: call.priority,
    timeout_ms: call.timeoutMs,
    caller_id: call.callerId,
    variables: call.variables,
    ...(call.flow ? { flow: call.flow as Flow } : {}),
    ...(call.traceparent ? { traceparent: call.traceparent } : {}),
    requested_at: requestedAt.toISOString(),
  };
}
