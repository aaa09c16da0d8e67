import { and, eq, inArray, or, sql } from 'drizzle-orm';
import {
  type CallStatus,
  type EventResult,
  FLOW_EVENT_TYPES,
  type FlowEventDetail,
  isTerminal,
  MILESTONE_EVENT_TYPES,
  STATUS_RANK as RANK,
} from '../../api/shared/contract/index.ts';
import { callEvents, callRecordings, calls, webhookDeliveries } from '../schema.ts';
import type { Db } from '../types.ts';
import { type CallEventRow, type CallRow, EVENTS_LOCK, type WebhookPlanner } from './calls.ts';
import {
  type FlowFact,
  flowOnceKey,
  foldFlowResults,
  isFlowEventType,
  type NewRecording,
} from './flow-results.ts';
import { builtOnce, jsonText, pgArray } from './prepared.ts';

/**
 * Applying call events to the log and to their calls: what a batch does (planCallEvents, no I/O) and
 * writing it (applyCallEvents), under the event log's lock (calls.ts).
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
const ONCE_TYPES: readonly string[] = MILESTONE_EVENT_TYPES;

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

/**
 * Writes what a batch changed in its calls in one statement, however many calls it touched: it runs
 * under the event log's lock, where every round trip holds up every other sidecar's batch. The rows
 * travel as one JSON document (as the contacts import's do).
 */
async function updateChangedCalls(tx: Pick<Db, 'execute'>, changed: CallRow[]): Promise<void> {
  const rows = JSON.stringify(
    changed.map((c) => ({
      id: c.id,
      status: c.status,
      last_event_seq: c.lastEventSeq,
      reason: c.reason,
      hangup_cause: c.hangupCause,
      hangup_cause_txt: c.hangupCauseTxt,
      dial_status: c.dialStatus,
      channel: c.channel,
      dialed_at: c.dialedAt,
      answered_at: c.answeredAt,
      ended_at: c.endedAt,
      updated_at: c.updatedAt,
      answers: c.answers,
      answered_by: c.answeredBy,
      flow_outcome: c.flowOutcome,
      flow_ended_step: c.flowEndedStep,
      flow_ended_step_id: c.flowEndedStepId,
      flow_detail: c.flowDetail,
    })),
  );
  await tx.execute(sql`
    update ${calls} c set status = v.status, last_event_seq = v.last_event_seq, reason = v.reason,
      hangup_cause = v.hangup_cause, hangup_cause_txt = v.hangup_cause_txt, dial_status = v.dial_status,
      channel = v.channel, dialed_at = v.dialed_at, answered_at = v.answered_at, ended_at = v.ended_at,
      updated_at = v.updated_at, answers = v.answers, answered_by = v.answered_by,
      flow_outcome = v.flow_outcome, flow_ended_step = v.flow_ended_step,
      flow_ended_step_id = v.flow_ended_step_id, flow_detail = v.flow_detail
    from jsonb_to_recordset(${rows}::jsonb) as v(id uuid, status text, last_event_seq integer, reason text,
      hangup_cause integer, hangup_cause_txt text, dial_status text, channel text, dialed_at timestamptz,
      answered_at timestamptz, ended_at timestamptz, updated_at timestamptz, answers jsonb, answered_by text,
      flow_outcome text, flow_ended_step integer, flow_ended_step_id text, flow_detail text)
    where c.id = v.id`);
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

// The statements every batch of events runs, built once (see builtOnce); ids travel as one array each.
// The event log's lock comes first, as a one-time filter evaluated before the scan (so before any of
// the calls' rows is locked: the lock order every event writer keeps); locked rows are read as they
// are once the lock is held.
const callsForUpdate = builtOnce('calls_for_update_locked', (db) =>
  db
    .select()
    .from(calls)
    .where(
      and(
        sql`${calls.id} = any(${sql.placeholder('ids')}::uuid[])`,
        sql`(select pg_advisory_xact_lock(${EVENTS_LOCK})) is not null`,
      ),
    )
    .for('update'),
);

const knownEvents = builtOnce('known_call_events', (db) =>
  db
    .select({
      eventId: callEvents.eventId,
      callId: callEvents.callId,
      type: callEvents.type,
      occurredAt: callEvents.occurredAt,
      flow: callEvents.flow,
    })
    .from(callEvents)
    .where(
      or(
        sql`${callEvents.eventId} = any(${sql.placeholder('eventIds')}::text[])`,
        and(
          sql`${callEvents.callId} = any(${sql.placeholder('callIds')}::uuid[])`,
          inArray(callEvents.type, ONCE_TYPES),
        ),
        and(
          sql`${callEvents.callId} = any(${sql.placeholder('flowCallIds')}::uuid[])`,
          inArray(callEvents.type, FLOW_EVENT_TYPES),
        ),
      ),
    ),
);

type NewCallEvent = typeof callEvents.$inferInsert;
const EVENT_FIELDS = [
  'callId',
  'ownerId',
  'seq',
  'eventId',
  'type',
  'status',
  'reason',
  'hangupCause',
  'hangupCauseTxt',
  'dialStatus',
  'source',
  'flow',
  'occurredAt',
] as const satisfies ReadonlyArray<keyof NewCallEvent>;

/** Inserting n events, built once per n up to a batch of this many; larger batches are built each time. */
const BUILT_EVENT_BATCH = 8;
const insertEventsOf = Array.from({ length: BUILT_EVENT_BATCH }, (_, i) =>
  builtOnce(`call_events_insert_${i + 1}`, (db) =>
    db
      .insert(callEvents)
      .values(
        Array.from({ length: i + 1 }, (_, row) => {
          const values: Record<string, unknown> = {};
          for (const field of EVENT_FIELDS) {
            const name = sql.placeholder(`${field}${row}`);
            values[field] = field === 'flow' ? sql`${name}::jsonb` : name;
          }
          return values as NewCallEvent;
        }),
      )
      .returning(),
  ),
);

async function insertEvents(tx: Db, rows: NewCallEvent[]): Promise<CallEventRow[]> {
  const insert = insertEventsOf[rows.length - 1];
  if (!insert) return tx.insert(callEvents).values(rows).returning();
  const values: Record<string, unknown> = {};
  for (const [row, event] of rows.entries()) {
    for (const field of EVENT_FIELDS) {
      const value = event[field];
      values[`${field}${row}`] = field === 'flow' ? jsonText(value) : (value ?? null);
    }
  }
  return insert(tx, values);
}

/**
 * Applies call events idempotently and monotonically: an event id seen before, a second event of a
 * once-only type, or anything that would move a call backwards or out of a terminal status changes
 * nothing. Events of one call are applied in the order given, their times kept in order (see
 * planCallEvents). A whole batch costs a handful of statements (lock, read the calls and what they
 * already have, insert the events, one update per call), not a round of statements per event.
 */
export async function applyCallEvents(
  db: Db,
  inputs: CallEventInput[],
  options: {
    sidecarId?: string;
    webhook?: WebhookPlanner;
    /**
     * Runs in the same transaction, after the calls are written, with the calls these events finished
     * (each once: only the event that made it terminal counts). Campaign accounting hangs here.
     */
    onEnded?: (tx: Db, ended: CallRow[]) => Promise<void>;
    /**
     * Runs in the same transaction with the calls whose flow finished an `optout` step in these
     * events (each such step once: a repeated report is a duplicate). The do-not-call list hangs here.
     */
    onOptout?: (tx: Db, optedOut: CallRow[]) => Promise<void>;
  } = {},
): Promise<AppliedEvent[]> {
  if (inputs.length === 0) return [];
  return db.transaction(async (tx) => {
    const callIds = [...new Set(inputs.map((i) => i.callId))];
    // Takes the event log's lock, then locks the calls. What they already have is read by the next
    // statement, whose snapshot is taken once the lock is held.
    const rows = await callsForUpdate(tx, { ids: pgArray(callIds) });
    // Calls with flow events in the batch: all their recorded flow events, to fold the results again.
    const flowCallIds = [...new Set(inputs.filter((i) => isFlowEventType(i.type)).map((i) => i.callId))];
    const known = await knownEvents(tx, {
      eventIds: pgArray(inputs.map((i) => i.eventId)),
      callIds: pgArray(callIds),
      flowCallIds: pgArray(flowCallIds),
    });
    const {
      out,
      inserts: pending,
      changed,
      recordings,
    } = planCallEvents(
      rows,
      known.map((k) => ({ ...k, flow: k.flow as FlowEventDetail | null })),
      inputs,
      { sidecarId: options.sidecarId },
    );
    if (pending.length === 0) return out;

    // Sent together (the event log's lock is held: each round trip here holds up every other writer).
    const [inserted] = await Promise.all([
      insertEvents(
        tx,
        pending.map((p) => p.values),
      ),
      changed.length > 0 ? updateChangedCalls(tx, changed) : undefined,
    ]);
    const byEventId = new Map(inserted.map((e) => [e.eventId, e]));
    for (const p of pending) out[p.index]!.event = byEventId.get(p.values.eventId) ?? null;
    for (const [callId, rows] of recordings) {
      await tx.delete(callRecordings).where(eq(callRecordings.callId, callId));
      if (rows.length > 0) await tx.insert(callRecordings).values(rows);
    }

    if (options.webhook) {
      const deliveries: Array<typeof webhookDeliveries.$inferInsert> = [];
      for (const p of pending) {
        const applied = out[p.index]!;
        const plan = options.webhook(applied.call!, applied.event!, applied.previousStatus);
        if (plan)
          deliveries.push({
            callId: applied.call!.id,
            eventId: applied.event!.id,
            url: plan.url,
            payload: plan.payload,
          });
      }
      if (deliveries.length > 0) await tx.insert(webhookDeliveries).values(deliveries);
    }
    if (options.onEnded) {
      const ended = out
        .filter((o) => o.result === 'applied' && o.call && isTerminal(o.call.status))
        .filter((o) => o.previousStatus === null || !isTerminal(o.previousStatus))
        .map((o) => changed.find((c) => c.id === o.call!.id) ?? o.call!);
      if (ended.length > 0) await options.onEnded(tx as unknown as Db, ended);
    }
    if (options.onOptout) {
      const optedOut = new Map<string, CallRow>();
      for (const p of pending) {
        const { input, call } = out[p.index]!;
        if (input.type === 'step_finished' && input.flow?.verb === 'optout' && call)
          optedOut.set(call.id, call);
      }
      if (optedOut.size > 0) await options.onOptout(tx as unknown as Db, [...optedOut.values()]);
    }
    return out;
  });
}
