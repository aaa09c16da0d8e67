import { and, desc, eq, lt, or, sql } from 'drizzle-orm';
import { dncNumbers } from '../schema.ts';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

export type DncRow = typeof dncNumbers.$inferSelect;
type DncSource = DncRow['source'];

/**
 * Puts a number (E.164) on the do-not-call list. A number already listed keeps its entry as it was
 * (who added it, when, and why): `created` says which.
 */
export async function addDnc(
  db: Db,
  values: { phoneNumber: string; note: string | null; addedBy: string | null; source: DncSource },
): Promise<{ entry: DncRow; created: boolean }> {
  const [inserted] = await db.insert(dncNumbers).values(values).onConflictDoNothing().returning();
  if (inserted) return { entry: inserted, created: true };
  const existing = await getDnc(db, values.phoneNumber);
  // Removed between the two statements: add it again.
  return existing ? { entry: existing, created: false } : addDnc(db, values);
}

/**
 * Puts many numbers on the list in one statement (all or none); numbers already listed keep their
 * entries. Answers how many were added.
 */
export async function addDncMany(
  db: Db,
  entries: Array<{ phoneNumber: string; note: string | null }>,
  addedBy: string | null,
  source: DncSource,
): Promise<number> {
  if (entries.length === 0) return 0;
  const rows = entries.map((e) => ({ phone_number: e.phoneNumber, note: e.note }));
  const result = rowsOf<{ n: number | string }>(
    await db.execute(sql`with added as (
      insert into ${dncNumbers} (phone_number, note, source, added_by)
      select r.phone_number, r.note, ${source}, ${addedBy}::uuid
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(phone_number text, note text)
      on conflict (phone_number) do nothing
      returning 1)
    select count(*) as n from added`),
  );
  return Number(result[0]?.n ?? 0);
}

export async function getDnc(db: Db, phoneNumber: string): Promise<DncRow | null> {
  const rows = await db.select().from(dncNumbers).where(eq(dncNumbers.phoneNumber, phoneNumber)).limit(1);
  return rows[0] ?? null;
}

/** Takes a number off the list; null when it was not on it. */
export async function removeDnc(db: Db, phoneNumber: string): Promise<DncRow | null> {
  const [row] = await db.delete(dncNumbers).where(eq(dncNumbers.phoneNumber, phoneNumber)).returning();
  return row ?? null;
}

/** The list, newest first; `before` is the keyset cursor (added_at, phone_number) of the page before. */
export async function listDnc(
  db: Db,
  filter: { before?: { addedAt: Date; phoneNumber: string } | undefined; limit: number },
): Promise<DncRow[]> {
  const b = filter.before;
  return db
    .select()
    .from(dncNumbers)
    .where(
      b
        ? or(
            lt(dncNumbers.addedAt, b.addedAt),
            and(eq(dncNumbers.addedAt, b.addedAt), lt(dncNumbers.phoneNumber, b.phoneNumber)),
          )
        : undefined,
    )
    .orderBy(desc(dncNumbers.addedAt), desc(dncNumbers.phoneNumber))
    .limit(filter.limit);
}
