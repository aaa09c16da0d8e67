import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { FLOW_EVENT_TYPES, type FlowEventDetail, isTerminal } from '../../api/shared/contract/index.ts';
import { callEvents, callRecordings, calls, webhookDeliveries } from '../schema.ts';
import type { Db } from '../types.ts';
import { type AppliedEvent, type CallEventInput, ONCE_TYPES, planCallEvents } from './call-event-plan.ts';
import { type CallEventRow, type CallRow, EVENTS_LOCK, type WebhookPlanner } from './calls.ts';
import { isFlowEventType } from './flow-results.ts';
import { builtOnce, jsonText, pgArray } from './prepared.ts';

/**
 * Applying call events to the log and to their calls: what a batch does is decided in
 * call-event-plan.ts (no I/O); applyCallEvents writes it, under the event log's lock (calls.ts).
 */

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
