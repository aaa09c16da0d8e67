import { and, desc, eq, gte, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import type { CallStatus } from '../../api/shared/contract/index.ts';
import { callEvents, calls, webhookDeliveries } from '../schema.ts';
import type { Db } from '../types.ts';
import { markFlowVersionUsed } from './flows.ts';
import { builtOnce, decodeRow, jsonText, rowsOf } from './prepared.ts';

export type CallRow = typeof calls.$inferSelect;
export type NewCall = typeof calls.$inferInsert;
export type CallEventRow = typeof callEvents.$inferSelect;

// Only the owner sees a call, unless the reader is an admin (owner = null).
const byIdForReader = builtOnce('call_by_id_for_reader', (db) =>
  db
    .select()
    .from(calls)
    .where(
      and(
        eq(calls.id, sql.placeholder('id')),
        sql`(${sql.placeholder('owner')}::uuid is null or ${calls.ownerId} = ${sql.placeholder('owner')}::uuid)`,
      ),
    ),
);

export async function getCallForReader(db: Db, id: string, ownerId: string | null): Promise<CallRow | null> {
  const rows = await byIdForReader(db, { id, owner: ownerId });
  return rows[0] ?? null;
}

export async function getCall(db: Db, id: string): Promise<CallRow | null> {
  return getCallForReader(db, id, null);
}

// Commit order of event rows must follow their ids so that a reader resuming "after id N" never
// misses a row that committed late; taking this lock in every writing transaction guarantees it.
export const EVENTS_LOCK = 727_110_002;

/**
 * Takes the event log's write lock for the rest of the transaction. Every transaction that writes call
 * events takes it first, before any row lock (campaign leases and accounting too), so they never deadlock.
 */
export async function lockEventLog(tx: Pick<Db, 'execute'>): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${EVENTS_LOCK})`);
}

export interface InsertCallResult {
  call: CallRow;
  event: CallEventRow;
  /** Whether a webhook delivery was planned with the call's first event. */
  delivery: boolean;
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
  if (!plan) return false;
  await tx
    .insert(webhookDeliveries)
    .values({ callId: call.id, eventId: event.id, url: plan.url, payload: plan.payload });
  return true;
}

/** What a new call is given; the rest (status, times, sequence) the database and the log set. */
export type NewCallInput = Pick<
  NewCall,
  | 'ownerId'
  | 'phoneNumber'
  | 'context'
  | 'extension'
  | 'priority'
  | 'timeoutMs'
  | 'callerId'
  | 'variables'
  | 'sidecarId'
  | 'statusCallback'
  | 'statusCallbackEvents'
  | 'traceparent'
  | 'flow'
  | 'flowId'
  | 'flowVersion'
> & { id: string };

/**
 * Inserts a new call as `pending` together with the first entry of its event log. A call that runs a
 * saved flow's version marks that version used in the same transaction; when the flow was archived
 * meanwhile, nothing is stored and FlowArchivedError is thrown.
 */
export async function insertCall(
  db: Db,
  values: NewCallInput,
  options: { webhook?: WebhookPlanner } = {},
): Promise<InsertCallResult> {
  return db.transaction(async (tx) => {
    if (values.flowId && values.flowVersion) await markFlowVersionUsed(tx, values.flowId, values.flowVersion);
    // One statement: the event log's lock, the call, and its first event, whose id is drawn only once
    // the lock is held (its source rows join the lock's). The lock is then held for one round trip
    // (to COMMIT) rather than three, as the originate path takes it for every call.
    const [row] = rowsOf<{ call: unknown; event: unknown }>(
      await tx.execute(sql`
        with lock as (select pg_advisory_xact_lock(${EVENTS_LOCK})),
        c as (
          insert into ${calls} (id, owner_id, phone_number, context, extension, priority, timeout_ms,
            caller_id, variables, sidecar_id, status_callback, status_callback_events, traceparent,
            flow, flow_id, flow_version, status, last_event_seq)
          values (${values.id}, ${values.ownerId}, ${values.phoneNumber}, ${values.context},
            ${values.extension}, ${values.priority}, ${values.timeoutMs}, ${values.callerId ?? null},
            ${jsonText(values.variables ?? {})}::jsonb, ${values.sidecarId ?? null}, ${values.statusCallback ?? null},
            ${jsonText(values.statusCallbackEvents)}::jsonb, ${values.traceparent ?? null}, ${jsonText(values.flow)}::jsonb,
            ${values.flowId ?? null}, ${values.flowVersion ?? null}, 'pending', 1)
          returning *),
        e as (
          insert into ${callEvents} (call_id, owner_id, seq, event_id, type, status, source, occurred_at)
          select c.id, c.owner_id, 1, c.id::text || ':created', 'created', 'pending', 'api', c.created_at
          from c cross join lock
          returning *)
        select row_to_json(c) as call, row_to_json(e) as event from c cross join e`),
    );
    const call = decodeRow(calls, row!.call);
    const event = decodeRow(callEvents, row!.event);
    const delivery = await planWebhook(tx, options.webhook, call, event, null);
    return { call, event, delivery };
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

/**
 * Hands a call that no sidecar has yet to another one (the first refused the connection, so the
 * command never arrived); only while it is still `pending`.
 */
export async function reassignCallSidecar(db: Db, callId: string, sidecarId: string): Promise<void> {
  await db
    .update(calls)
    .set({ sidecarId, updatedAt: sql`now()` })
    .where(and(eq(calls.id, callId), eq(calls.status, 'pending')));
}
