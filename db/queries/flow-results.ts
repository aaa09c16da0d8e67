import {
  type AnsweredBy,
  FLOW_EVENT_TYPES,
  type FlowAnswer,
  type FlowEventDetail,
  type FlowOutcome,
  recordingBelongsTo,
} from '../../api/shared/contract/index.ts';
import type { callRecordings } from '../schema.ts';

/**
 * What a call's flow gave, folded from its flow events with no I/O: answers by name, who answered,
 * how the flow ended, and the recordings to list. The fold takes every flow event of the call (those
 * recorded and those being applied) and orders them by `run`, so the result is the same whatever
 * order and batching the events came in: the latest run's answer of a name wins, the latest amd
 * says who answered.
 */

export type FlowEventType = (typeof FLOW_EVENT_TYPES)[number];

export const isFlowEventType = (type: string): type is FlowEventType =>
  (FLOW_EVENT_TYPES as readonly string[]).includes(type);

/** A flow event as the fold needs it. */
export interface FlowFact {
  type: string;
  flow: FlowEventDetail | null;
  occurredAt: Date;
}

/**
 * What makes a flow event the same as another, whatever its id: a step's start or finish happens
 * once per run, the flow's end once per call.
 */
export function flowOnceKey(callId: string, type: string, flow: FlowEventDetail | null): string {
  return type === 'flow_ended' ? `${callId} flow_ended` : `${callId} ${type} ${flow?.run ?? '-'}`;
}

export type NewRecording = typeof callRecordings.$inferInsert;

export interface FlowResults {
  answers: Record<string, FlowAnswer>;
  answeredBy: AnsweredBy | null;
  outcome: FlowOutcome | null;
  endedStep: number | null;
  endedStepId: string | null;
  detail: string | null;
  recordings: NewRecording[];
}

export function foldFlowResults(callId: string, sidecarId: string | null, facts: FlowFact[]): FlowResults {
  const finished = facts
    .filter((f) => f.type === 'step_finished' && f.flow)
    .sort((a, b) => a.flow!.run - b.flow!.run);
  const answers: Record<string, FlowAnswer> = {};
  const recordingsByName = new Map<string, NewRecording>();
  let answeredBy: AnsweredBy | null = null;
  for (const f of finished) {
    const detail = f.flow!;
    if (detail.answered_by) answeredBy = detail.answered_by;
    if (!detail.answer) continue;
    const { name, value } = detail.answer;
    answers[name] = value;
    recordingsByName.delete(name);
    // Only a recording named for this call can be served or deleted through its sidecar.
    if (typeof value === 'object' && recordingBelongsTo(callId, value.recording)) {
      for (const [other, row] of recordingsByName)
        if (row.recording === value.recording) recordingsByName.delete(other);
      recordingsByName.set(name, {
        callId,
        name,
        recording: value.recording,
        durationMs: value.duration_ms,
        sidecarId,
        format: 'wav',
        recordedAt: f.occurredAt,
      });
    }
  }
  const end = facts.find((f) => f.type === 'flow_ended' && f.flow)?.flow ?? null;
  return {
    answers,
    answeredBy,
    outcome: end?.outcome ?? (end ? 'finished' : null),
    endedStep: end?.step ?? null,
    endedStepId: end?.step_id ?? null,
    detail: end?.detail ?? null,
    recordings: [...recordingsByName.values()],
  };
}
