import { and, desc, eq, gte, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import { type CallStatus, callEvents, calls, TERMINAL_STATUSES, webhookDeliveries } from '../schema.ts';
import type { Db } from '../types.ts';
import { preparedFor, rowsOf } from './prepared.ts';

export type CallRow = typeof calls.$inferSelect;
export type NewCall = typeof calls.$inferInsert;
export type CallEventRow = typeof callEvents.$inferSelect;

export function isTerminal(status: CallStatus): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

// Only the owner sees a call, unless the reader is an admin (owner = null).
const byIdForReader = preparedFor((db) =>
  db
    .select()
    .from(calls)
    .where(
      and(
        eq(calls.id, sql.placeholder('id')),
        sql`(${sql.placeholder('owner')}::uuid is null or ${calls.ownerId} = ${sql.placeholder('owner')}::uuid)`,
      ),
    )
    .prepare('call_by_id_for_reader'),
);

export async function getCallForReader(db: Db, id: string, ownerId: string | null): Promise<CallRow | null> {
  const rows = await byIdForReader(db).execute({ id, owner: ownerId });
  return rows[0] ?? null;
}

export async function getCall(db: Db, id: string): Promise<CallRow | null> {
  return getCallForReader(db, id, null);
}

// Commit order of event rows must follow their ids so that a reader resuming "after id N" never
// misses a row that committed late; taking this lock in every writing transaction guarantees it.
const EVENTS_LOCK = 727_110_002;

export interface InsertCallResult {
  call: CallRow;
  event: CallEventRow;
}

/**
 * Decides whether a status change goes to the call's webhook and with which body. It runs inside
 * the transaction that records the event, so a delivery exists exactly when its event does.
 */
export type WebhookPlanner = (
  call: CallRow,
  event: CallEventRow,
  previousStatus: CallStatus | null,
) => { url: string; payload: string } | null;

async function planWebhook(
  tx: Pick<Db, 'insert'>,
  planner: WebhookPlanner | undefined,
  call: CallRow,
  event: CallEventRow,
  previousStatus: CallStatus | null,
) {
  const plan = planner?.(call, event, previousStatus);
  if (!plan) return;
  await tx
    .insert(webhookDeliveries)
    .values({ callId: call.id, eventId: event.id, url: plan.url, payload: plan.payload });
}

/** Inserts a new call as `pending` together with the first entry of its event log. */
export async function insertCall(
  db: Db,
  values: NewCall,
  options: { webhook?: WebhookPlanner } = {},
): Promise<InsertCallResult> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${EVENTS_LOCK})`);
    const [call] = await tx
      .insert(calls)
      .values({ ...values, status: 'pending', lastEventSeq: 1 })
      .returning();
    const [event] = await tx
      .insert(callEvents)
      .values({
        callId: call!.id,
        seq: 1,
        eventId: `${call!.id}:created`,
        type: 'created',
        status: 'pending',
        source: 'api',
        occurredAt: call!.createdAt,
      })
      .returning();
    await planWebhook(tx, options.webhook, call!, event!, null);
    return { call: call!, event: event! };
  });
}

export interface ListCallsFilter {
  ownerId: string | null;
  status?: CallStatus | undefined;
  phoneNumber?: string | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  /** Keyset cursor: rows strictly older than this (created_at, id) pair. */
  before?: { createdAt: Date; id: string } | undefined;
  limit: number;
}

export async function listCalls(db: Db, filter: ListCallsFilter): Promise<CallRow[]> {
  const where: SQL[] = [];
  if (filter.ownerId) where.push(eq(calls.ownerId, filter.ownerId));
  if (filter.status) where.push(eq(calls.status, filter.status));
  if (filter.phoneNumber) where.push(eq(calls.phoneNumber, filter.phoneNumber));
  if (filter.createdAfter) where.push(gte(calls.createdAt, filter.createdAfter));
  if (filter.createdBefore) where.push(lte(calls.createdAt, filter.createdBefore));
  if (filter.before) {
    const b = filter.before;
    where.push(
      or(lt(calls.createdAt, b.createdAt), and(eq(calls.createdAt, b.createdAt), lt(calls.id, b.id)))!,
    );
  }
  return db
    .select()
    .from(calls)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(calls.createdAt), desc(calls.id))
    .limit(filter.limit);
}

export async function markHangupRequested(db: Db, id: string): Promise<CallRow | null> {
  const rows = await db
    .update(calls)
    .set({ hangupRequestedAt: sql`coalesce(${calls.hangupRequestedAt}, now())`, updatedAt: sql`now()` })
    .where(eq(calls.id, id))
    .returning();
  return rows[0] ?? null;
}

export async function listCallEvents(db: Db, callId: string): Promise<CallEventRow[]> {
  return db.select().from(callEvents).where(eq(callEvents.callId, callId)).orderBy(callEvents.seq);
}

/** The state change a call event carries, from whichever side produced it. */
export interface CallEventInput {
  eventId: string;
  callId: string;
  type: string;
  status: CallStatus;
  occurredAt: Date;
  reason?: string | null;
  hangupCause?: number | null;
  hangupCauseTxt?: string | null;
  dialStatus?: string | null;
  channel?: string | null;
  source: string;
}

export type ApplyResult = 'applied' | 'duplicate' | 'stale' | 'unknown_call';

const RANK: Record<CallStatus, number> = {
  pending: 0,
  dialing: 1,
  ringing: 2,
  answered: 3,
  completed: 4,
  busy: 4,
  no_answer: 4,
  failed: 4,
  canceled: 4,
};

// Types that happen at most once in a call's life, whoever reports them first.
const ONCE_TYPES = new Set(['created', 'dialing', 'ringing', 'progress', 'answered', 'ended']);

export interface AppliedEvent {
  input: CallEventInput;
  result: ApplyResult;
  event: CallEventRow | null;
  call: CallRow | null;
  /** The call's status before this event. */
  previousStatus: CallStatus | null;
}

/**
 * Applies call events idempotently and monotonically: an event id seen before, a second event of a
 * once-only type, or anything that would move a call backwards or out of a terminal status changes
 * nothing. Events of one call are applied in the order given.
 */
export async function applyCallEvents(
  db: Db,
  inputs: CallEventInput[],
  options: { sidecarId?: string; webhook?: WebhookPlanner } = {},
): Promise<AppliedEvent[]> {
  if (inputs.length === 0) return [];
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${EVENTS_LOCK})`);
    const out: AppliedEvent[] = [];
    const locked = new Map<string, CallRow | null>();
    for (const input of inputs) {
      let call = locked.get(input.callId);
      if (call === undefined) {
        const rows = await tx.select().from(calls).where(eq(calls.id, input.callId)).for('update');
        call = rows[0] ?? null;
        locked.set(input.callId, call);
      }
      // A sidecar may only report on the calls that were handed to it.
      if (!call || (options.sidecarId !== undefined && call.sidecarId !== options.sidecarId)) {
        out.push({ input, result: 'unknown_call', event: null, call: null, previousStatus: null });
        continue;
      }
      const seen = rowsOf<{ n: number }>(
        await tx.execute(
          sql`select count(*)::int as n from ${callEvents} where ${callEvents.eventId} = ${input.eventId}
              or (${callEvents.callId} = ${input.callId} and ${callEvents.type} = ${input.type}
                  and ${ONCE_TYPES.has(input.type)})`,
        ),
      );
      if (Number(seen[0]?.n ?? 0) > 0) {
        out.push({ input, result: 'duplicate', event: null, call, previousStatus: call.status });
        continue;
      }
      if (isTerminal(call.status) || RANK[input.status] < RANK[call.status]) {
        out.push({ input, result: 'stale', event: null, call, previousStatus: call.status });
        continue;
      }
      const seq = call.lastEventSeq + 1;
      const [event] = await tx
        .insert(callEvents)
        .values({
          callId: input.callId,
          seq,
          eventId: input.eventId,
          type: input.type,
          status: input.status,
          reason: input.reason ?? null,
          hangupCause: input.hangupCause ?? null,
          hangupCauseTxt: input.hangupCauseTxt ?? null,
          dialStatus: input.dialStatus ?? null,
          source: input.source,
          occurredAt: input.occurredAt,
        })
        .returning();
      const terminal = isTerminal(input.status);
      const patch: Partial<NewCall> = {
        status: input.status,
        lastEventSeq: seq,
        updatedAt: new Date(),
      };
      if (input.reason !== undefined && input.reason !== null) patch.reason = input.reason;
      if (input.hangupCause !== undefined && input.hangupCause !== null)
        patch.hangupCause = input.hangupCause;
      if (input.hangupCauseTxt !== undefined && input.hangupCauseTxt !== null) {
        patch.hangupCauseTxt = input.hangupCauseTxt;
      }
      if (input.dialStatus) patch.dialStatus = input.dialStatus;
      if (input.channel) patch.channel = input.channel;
      if (['dialing', 'ringing', 'answered'].includes(input.status) && !call.dialedAt) {
        patch.dialedAt = input.occurredAt;
      }
      if (input.status === 'answered' && !call.answeredAt) patch.answeredAt = input.occurredAt;
      if (terminal) patch.endedAt = input.occurredAt;
      const [updated] = await tx.update(calls).set(patch).where(eq(calls.id, input.callId)).returning();
      const previousStatus = call.status;
      call = updated!;
      locked.set(input.callId, call);
      await planWebhook(tx, options.webhook, call, event!, previousStatus);
      out.push({ input, result: 'applied', event: event!, call, previousStatus });
    }
    return out;
  });
}
