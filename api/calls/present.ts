import type { CallEventRow, CallRow } from '../../db/queries/calls.ts';
import {
  type AnsweredBy,
  type FlowEventDetail,
  type FlowOutcome,
  isTerminal,
  reasonText,
  UNCOMPLETED_STATUSES,
} from '../shared/contract/index.ts';
import type { CallBody, LegacyCallBody, OriginateResponse } from './bodies.ts';

function failureReason(call: CallRow): string | null {
  if (!(UNCOMPLETED_STATUSES as readonly string[]).includes(call.status)) return null;
  const base = (call.reason && reasonText(call.reason)) ?? call.reason ?? call.status;
  return call.hangupCauseTxt && call.hangupCause
    ? `${base} (cause ${call.hangupCause}: ${call.hangupCauseTxt})`
    : base;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A call as the replaced service's status routes show it (their contract, unchanged). */
export function presentLegacyCall(call: CallRow): LegacyCallBody {
  const duration =
    call.answeredAt && call.endedAt
      ? Math.max(0, (call.endedAt.getTime() - call.answeredAt.getTime()) / 1000)
      : null;
  const terminal = isTerminal(call.status);
  return {
    call_id: call.id,
    phone_number: call.phoneNumber,
    status: call.status,
    channel: call.channel,
    context: call.context,
    extension: call.extension,
    priority: call.priority,
    timeout: call.timeoutMs,
    caller_id: call.callerId,
    variables: call.variables ?? {},
    created_at: call.createdAt.toISOString(),
    updated_at: call.updatedAt.toISOString(),
    dialed_at: iso(call.dialedAt),
    answered_at: iso(call.answeredAt),
    ended_at: iso(call.endedAt),
    duration,
    failure_reason: failureReason(call),
    reason: call.reason,
    hangup_cause: call.hangupCause,
    hangup_cause_txt: call.hangupCauseTxt,
    dial_status: call.dialStatus,
    attempt_number: call.attemptNumber,
    is_active: !terminal,
    is_completed: terminal,
    hangup_requested_at: iso(call.hangupRequestedAt),
    owner_id: call.ownerId,
    status_callback: call.statusCallback,
  };
}

/** A call with what its flow gave: answers, who answered, and how the flow ended. */
export function presentCall(call: CallRow): CallBody {
  return {
    ...presentLegacyCall(call),
    answers: (call.answers ?? {}) as CallBody['answers'],
    answered_by: (call.answeredBy as AnsweredBy | null) ?? null,
    flow: call.flow
      ? {
          flow_id: call.flowId,
          flow_version: call.flowVersion,
          outcome: (call.flowOutcome as FlowOutcome | null) ?? null,
          ended_at_step:
            call.flowEndedStep === null ? null : { index: call.flowEndedStep, id: call.flowEndedStepId },
          detail: call.flowDetail,
        }
      : null,
  };
}

export function presentOriginate(outcome: {
  call: CallRow;
  success: boolean;
  message: string;
  error: string | null;
}): OriginateResponse {
  return {
    success: outcome.success,
    call_id: outcome.call.id,
    phone_number: outcome.call.phoneNumber,
    message: outcome.message,
    channel: outcome.call.channel,
    status: outcome.call.status,
    created_at: outcome.call.createdAt.toISOString(),
    error: outcome.error,
    reason: outcome.call.reason,
  };
}

export function presentEvent(event: CallEventRow) {
  return {
    sequence: event.seq,
    id: String(event.id),
    call_id: event.callId,
    type: event.type,
    status: event.status,
    time: event.occurredAt.toISOString(),
    reason: event.reason,
    hangup_cause: event.hangupCause,
    hangup_cause_txt: event.hangupCauseTxt,
    dial_status: event.dialStatus,
    source: event.source,
    flow: (event.flow as FlowEventDetail | null) ?? null,
  };
}
