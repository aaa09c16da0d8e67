import { and, eq, sql } from 'drizzle-orm';
import { ACTIVE_STATUSES } from '../../api/shared/contract/index.ts';
import { auditLog, sidecars, usedJtis } from '../schema.ts';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

export type SidecarRow = typeof sidecars.$inferSelect;

export interface AuditEntry {
  actorId: string | null;
  /** The API key the actor used, if the request came with one. */
  actorKeyId?: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  clientAddress?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown> | null;
}

export async function writeAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values({
    actorId: entry.actorId,
    actorKeyId: entry.actorKeyId ?? null,
    action: entry.action,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId ?? null,
    clientAddress: entry.clientAddress ?? null,
    requestId: entry.requestId ?? null,
    details: entry.details ?? null,
  });
}

export async function listAudit(db: Db, limit = 100) {
  return db.select().from(auditLog).orderBy(sql`${auditLog.id} desc`).limit(limit);
}

/** Records a single-use id; false when it was recorded before (a replay). */
export async function claimJti(db: Db, jti: string, expiresAt: Date): Promise<boolean> {
  const rows = await db.insert(usedJtis).values({ jti, expiresAt }).onConflictDoNothing().returning();
  return rows.length > 0;
}

export async function upsertSidecar(
  db: Db,
  input: { id: string; url: string; publicKey: JsonWebKey },
): Promise<void> {
  await db
    .insert(sidecars)
    .values({ id: input.id, url: input.url, publicKey: input.publicKey })
    .onConflictDoUpdate({
      target: sidecars.id,
      set: { url: input.url, publicKey: input.publicKey, updatedAt: sql`now()` },
    });
}

export async function getSidecar(db: Db, id: string): Promise<SidecarRow | null> {
  const rows = await db.select().from(sidecars).where(eq(sidecars.id, id));
  return rows[0] ?? null;
}

export async function touchSidecar(db: Db, id: string): Promise<void> {
  await db.update(sidecars).set({ lastSeenAt: sql`now()` }).where(eq(sidecars.id, id));
}

/** Deletes bookkeeping rows that have outlived their use. */

/** A sidecar's calls not yet final (its load) and its recorded capacity. */
export interface SidecarLoad {
  id: string;
  load: number;
  capacity: number | null;
}

/**
 * The load of each named sidecar, counted from the calls themselves (so every API instance sees the
 * same figure) over the partial index of active calls, with the capacity its row records.
 */
export async function sidecarLoads(db: Db, ids: readonly string[]): Promise<SidecarLoad[]> {
  if (ids.length === 0) return [];
  const named = sql.join(
    ids.map((id) => sql`(${id})`),
    sql`, `,
  );
  const rows = await db.execute(sql`
    select f.id,
      (select count(*)::int from calls c
        where c.sidecar_id = f.id and c.status in (${sql.raw(ACTIVE_STATUSES.map((s) => `'${s}'`).join(', '))})) as load,
      (select s.max_concurrent_calls from sidecars s where s.id = f.id) as capacity
    from (values ${named}) as f(id)`);
  return rowsOf<{ id: string; load: number | string; capacity: number | string | null }>(rows).map((r) => ({
    id: r.id,
    load: Number(r.load),
    capacity: r.capacity == null ? null : Number(r.capacity),
  }));
}

/** Records the capacity a sidecar reported (MAX_CONCURRENT_CALLS), writing only when it changed. */
export async function recordSidecarCapacity(db: Db, id: string, capacity: number): Promise<void> {
  await db
    .update(sidecars)
    .set({ maxConcurrentCalls: capacity, updatedAt: sql`now()` })
    .where(and(eq(sidecars.id, id), sql`${sidecars.maxConcurrentCalls} is distinct from ${capacity}`));
}
