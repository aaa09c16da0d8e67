import { and, eq, lt, sql } from 'drizzle-orm';
import { idempotencyKeys } from '../schema.ts';
import type { Db } from '../types.ts';

export type ClaimResult =
  | { kind: 'claimed' }
  | { kind: 'in_flight' }
  | { kind: 'mismatch' }
  | { kind: 'replay'; status: number; body: unknown };

/**
 * Claims a key for one request. Exactly one of any number of concurrent claims wins (the primary
 * key decides); the others see the first request in flight, its stored answer, or a mismatch.
 * An expired key is removed and claimed anew.
 */
export async function claimIdempotencyKey(
  db: Db,
  input: { userId: string; key: string; requestHash: string; ttlSeconds: number },
): Promise<ClaimResult> {
  const expiresAt = new Date(Date.now() + input.ttlSeconds * 1000);
  for (let attempt = 0; attempt < 2; attempt++) {
    const inserted = await db
      .insert(idempotencyKeys)
      .values({ userId: input.userId, key: input.key, requestHash: input.requestHash, expiresAt })
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key });
    if (inserted.length > 0) return { kind: 'claimed' };
    const rows = await db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.userId, input.userId), eq(idempotencyKeys.key, input.key)));
    const row = rows[0];
    if (!row) continue; // released between our insert and select: try once more
    if (row.expiresAt.getTime() <= Date.now()) {
      await db
        .delete(idempotencyKeys)
        .where(
          and(
            eq(idempotencyKeys.userId, input.userId),
            eq(idempotencyKeys.key, input.key),
            lt(idempotencyKeys.expiresAt, sql`now()`),
          ),
        );
      continue;
    }
    if (row.requestHash !== input.requestHash) return { kind: 'mismatch' };
    if (row.state === 'in_flight') return { kind: 'in_flight' };
    return { kind: 'replay', status: row.responseStatus ?? 200, body: row.responseBody };
  }
  return { kind: 'in_flight' };
}

export async function completeIdempotencyKey(
  db: Db,
  input: { userId: string; key: string; status: number; body: unknown; callId: string | null },
): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ state: 'done', responseStatus: input.status, responseBody: input.body, callId: input.callId })
    .where(and(eq(idempotencyKeys.userId, input.userId), eq(idempotencyKeys.key, input.key)));
}

/** Forgets a key whose request did not take (validation passed but the PBX was unreachable, or a crash). */
export async function releaseIdempotencyKey(db: Db, input: { userId: string; key: string }): Promise<void> {
  await db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.userId, input.userId), eq(idempotencyKeys.key, input.key)));
}
