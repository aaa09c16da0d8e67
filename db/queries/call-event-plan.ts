import {
  type CallStatus,
  type EventResult,
  type FlowEventDetail,
  isTerminal,
  MILESTONE_EVENT_TYPES,
  STATUS_RANK as RANK,
} from '../../api/shared/contract/index.ts';
import type { callEvents } from '../schema.ts';
import type { CallEventRow, CallRow } from './calls.ts';
import {
  type FlowFact,
  flowOnceKey,
  foldFlowResults,
  isFlowEventType,
  type NewRecording,
} from './flow-results.ts';

/**
 * What a batch of call events does, decided with no I/O (planCallEvents); call-events.ts writes it.
 */

/** The state change a call event carries, from whichever side produced it. */
export interface CallEventInput {
  eventId: string;
  callId: string;
  type: string;
  /** The status the event moves the call to; omitted for events that leave it as it is then. */
  status?: CallStatus;
  occurredAt: Date;
  reason?: string | null;
  hangupCause?: number | null;
  hangupCauseTxt?: string | null;
  dialStatus?: string | null;
  channel?: string | null;
  source: string;
  /** Flow events only: the step and what it gave. */
  flow?: FlowEventDetail | null;
}

export type ApplyResult = EventResult;

// Types that happen at most once in a call's life, whoever reports them first. They are also its
// milestones: each moves the status, and their times are kept in order (see planCallEvents).
export const ONCE_TYPES: readonly string[] = MILESTONE_EVENT_TYPES;

export interface AppliedEvent {
  input: CallEventInput;
  result: ApplyResult;
  event: CallEventRow | null;
  /** The call as this event left it. */
  call: CallRow | null;
  /** The call's status before this event. */
  previousStatus: CallStatus | null;
}

/** An event the database already holds, as far as deciding on new ones needs it. */
export interface KnownEvent {
  eventId: string;
  callId: string;
  type: string;
  occurredAt: Date;
  /** For flow events: their detail (the fold of a call's flow results reads it). */
  flow?: FlowEventDetail | null;
}

export interface EventPlan {
  /** One entry per input, in order; `event` stays null until its row is inserted. */
  out: AppliedEvent[];
  /** The rows to insert, each with the index of its input. */
  inserts: Array<{ index: number; values: typeof callEvents.$inferInsert }>;
  /** The calls the events changed, as they are to be written. */
  changed: CallRow[];
  /** Per call whose flow results changed: its recordings as they are to be listed (replacing the old). */
  recordings: Map<string, NewRecording[]>;
}

/** The call after one event, as the database will hold it; `at` is the event's time. */
function advance(
  call: CallRow,
  input: CallEventInput,
  status: CallStatus,
  seq: number,
  at: Date,
  now: Date,
): CallRow {
  const next: CallRow = { ...call, status, lastEventSeq: seq, updatedAt: now };
  if (input.reason != null) next.reason = input.reason;
  if (input.hangupCause != null) next.hangupCause = input.hangupCause;
  if (input.hangupCauseTxt != null) next.hangupCauseTxt = input.hangupCauseTxt;
  if (input.dialStatus) next.dialStatus = input.dialStatus;
  if (input.channel) next.channel = input.channel;
  if ((status === 'dialing' || status === 'ringing' || status === 'answered') && !call.dialedAt) {
    next.dialedAt = at;
  }
  if (status === 'answered' && !call.answeredAt) next.answeredAt = at;
  if (isTerminal(status) && !isTerminal(call.status)) next.endedAt = at;
  return next;
}

const latest = (a: Date, b: Date | null | undefined): Date => (b && b.getTime() > a.getTime() ? b : a);

/**
 * Decides what a list of call events does, with no I/O: which apply and which are duplicates,
 * stale or for unknown calls, and what each call becomes. `known` holds the calls' recorded events
 * of a once-only type, and any recorded event whose id is among the inputs.
 *
 * Times: a milestone keeps the time its reporter gave (for the PBX's events, the sidecar's clock),
 * raised to the call's latest milestone so far when it is earlier, so that a call's times never
 * run backwards: created ≤ dialed ≤ ringing ≤ answered ≤ ended. One is earlier when the sidecar's
 * clock is behind the API's (which stamps created_at), or when an event reports something that
 * happened before a milestone already recorded from the other side. An event in order keeps its
 * time exactly. Events without a status of their own (hangup_requested) keep theirs and are not
 * milestones.
 *
 * Flow events (step_started, step_finished, flow_ended) never move the status and are taken even
 * after the call ended (the sidecar may report the flow's end after the hang-up). Each is recorded
 * once per step run (flow_ended once per call), and the call's answers, answered_by and flow end are
 * folded again from all its flow events (foldFlowResults), so order and repeats change nothing.
 * `known` must then also hold every recorded flow event of those calls, with its detail.
 */
export function planCallEvents(
  rows: CallRow[],
  known: KnownEvent[],
  inputs: CallEventInput[],
  options: { sidecarId?: string | undefined; now?: Date } = {},
): EventPlan {
  const now = options.now ?? new Date();
  const state = new Map<string, CallRow>(rows.map((r) => [r.id, r]));
  // Per call, the time of its latest milestone.
  const floor = new Map<string, Date>(
    rows.map((r) => [r.id, latest(latest(latest(r.createdAt, r.dialedAt), r.answeredAt), r.endedAt)]),
  );
  const seenIds = new Set(known.map((k) => k.eventId));
  const seenOnce = new Set<string>();
  const flowFacts = new Map<string, FlowFact[]>();
  const flowChanged = new Set<string>();
  const factsOf = (callId: string) => {
    const facts = flowFacts.get(callId) ?? [];
    flowFacts.set(callId, facts);
    return facts;
  };
  for (const k of known) {
    if (isFlowEventType(k.type) && state.has(k.callId)) {
      seenOnce.add(flowOnceKey(k.callId, k.type, k.flow ?? null));
      factsOf(k.callId).push({ type: k.type, flow: k.flow ?? null, occurredAt: k.occurredAt });
      continue;
    }
    if (!ONCE_TYPES.includes(k.type) || !state.has(k.callId)) continue;
    seenOnce.add(`${k.callId} ${k.type}`);
    floor.set(k.callId, latest(floor.get(k.callId)!, k.occurredAt));
  }

  const out: AppliedEvent[] = [];
  const inserts: EventPlan['inserts'] = [];
  for (const input of inputs) {
    const call = state.get(input.callId);
    // A sidecar may only report on the calls that were handed to it.
    if (!call || (options.sidecarId !== undefined && call.sidecarId !== options.sidecarId)) {
      out.push({ input, result: 'unknown_call', event: null, call: null, previousStatus: null });
      continue;
    }
    const milestone = ONCE_TYPES.includes(input.type);
    const flow = isFlowEventType(input.type);
    const onceKey = flow
      ? flowOnceKey(input.callId, input.type, input.flow ?? null)
      : `${input.callId} ${input.type}`;
    if (seenIds.has(input.eventId) || ((milestone || flow) && seenOnce.has(onceKey))) {
      out.push({ input, result: 'duplicate', event: null, call, previousStatus: call.status });
      continue;
    }
    const status = flow ? call.status : (input.status ?? call.status);
    if (!flow && (isTerminal(call.status) || RANK[status] < RANK[call.status])) {
      out.push({ input, result: 'stale', event: null, call, previousStatus: call.status });
      continue;
    }
    const seq = call.lastEventSeq + 1;
    seenIds.add(input.eventId);
    seenOnce.add(onceKey);
    let at = input.occurredAt;
    if (milestone) {
      at = latest(at, floor.get(call.id));
      floor.set(call.id, at);
    }
    const next = flow
      ? { ...call, lastEventSeq: seq, updatedAt: now }
      : advance(call, input, status, seq, at, now);
    if (flow) {
      factsOf(call.id).push({ type: input.type, flow: input.flow ?? null, occurredAt: at });
      flowChanged.add(call.id);
    }
    state.set(input.callId, next);
    inserts.push({
      index: out.length,
      values: {
        callId: input.callId,
        ownerId: call.ownerId,
        seq,
        eventId: input.eventId,
        type: input.type,
        status,
        reason: input.reason ?? null,
        hangupCause: input.hangupCause ?? null,
        hangupCauseTxt: input.hangupCauseTxt ?? null,
        dialStatus: input.dialStatus ?? null,
        source: input.source,
        flow: flow ? (input.flow ?? null) : null,
        occurredAt: at,
      },
    });
    out.push({ input, result: 'applied', event: null, call: next, previousStatus: call.status });
  }
  // The flow's results, folded again from every flow event of each call a flow event changed; the
  // calls as the events left them carry them too.
  const recordings = new Map<string, NewRecording[]>();
  for (const callId of flowChanged) {
    const call = state.get(callId)!;
    const results = foldFlowResults(callId, options.sidecarId ?? call.sidecarId, flowFacts.get(callId)!);
    const next: CallRow = {
      ...call,
      answers: results.answers,
      answeredBy: results.answeredBy,
      flowOutcome: results.outcome,
      flowEndedStep: results.endedStep,
      flowEndedStepId: results.endedStepId,
      flowDetail: results.detail,
    };
    state.set(callId, next);
    for (const o of out)
      if (o.result === 'applied' && o.call?.id === callId) o.call = { ...o.call, ...pick(next) };
    recordings.set(callId, results.recordings);
  }
  const changed = rows.map((r) => state.get(r.id)!).filter((call, i) => call !== rows[i]);
  return { out, inserts, changed, recordings };
}

/** The flow's results of a call row. */
const pick = (c: CallRow) => ({
  answers: c.answers,
  answeredBy: c.answeredBy,
  flowOutcome: c.flowOutcome,
  flowEndedStep: c.flowEndedStep,
  flowEndedStepId: c.flowEndedStepId,
  flowDetail: c.flowDetail,
});
