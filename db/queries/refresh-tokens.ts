import { and, eq, isNull, sql } from 'drizzle-orm';
import { type Role, refreshTokens, users } from '../schema.ts';
import type { Db } from '../types.ts';
import { rowsOf } from './prepared.ts';

export type RefreshTokenRow = typeof refreshTokens.$inferSelect;
export type NewRefreshToken = typeof refreshTokens.$inferInsert;

export async function insertRefreshToken(db: Db, row: NewRefreshToken): Promise<void> {
  await db.insert(refreshTokens).values(row);
}

/** What the presented token was, and what was done about it. */
export type Rotation =
  | { kind: 'rotated'; parent: RefreshTokenRow }
  | { kind: 'unknown' }
  | { kind: 'revoked'; row: RefreshTokenRow }
  | { kind: 'expired'; row: RefreshTokenRow }
  | { kind: 'reuse'; row: RefreshTokenRow; revokedAccessTokens: number }
  | { kind: 'user_ended'; row: RefreshTokenRow };

/** The user as a refresh needs it: active, and the token version its family was started under. */
export interface RefreshSubject {
  isActive: boolean;
  tokenVersion: number;
  role: Role;
}

/**
 * Rotates the refresh token whose hash is `tokenHash`: in one transaction that holds the lock of its
 * family's first row, the presented row is read again, and
 * - used before: reuse, the whole family is revoked with its access tokens;
 * - revoked, expired, or its user deactivated, logged out everywhere, given a new password or another
 *   role since the family began: refused (the last ones end the family);
 * - else it is marked used and `child(parent, user)` is inserted beside it.
 * Every refresh and every revocation of a family takes the same lock first, so two uses of one token
 * at once are served one after the other: the second finds it used, and its revocation sees the
 * child the first inserted. Never two live children.
 */
export async function rotateRefreshToken(
  db: Db,
  input: {
    tokenHash: string;
    now: Date;
    child: (parent: RefreshTokenRow, user: RefreshSubject) => Promise<NewRefreshToken>;
  },
): Promise<Rotation> {
  const [found] = await db
    .select({ id: refreshTokens.id, familyId: refreshTokens.familyId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, input.tokenHash));
  if (!found) return { kind: 'unknown' };
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db;
    await lockFamily(tx, found.familyId);
    const [row] = await tx.select().from(refreshTokens).where(eq(refreshTokens.id, found.id));
    if (!row) return { kind: 'unknown' } as const;
    if (row.revokedAt) return { kind: 'revoked', row } as const;
    if (row.usedAt) {
      const revokedAccessTokens = await revokeFamilyLocked(tx, row.familyId, input.now);
      return { kind: 'reuse', row, revokedAccessTokens } as const;
    }
    if (row.expiresAt.getTime() <= input.now.getTime()) return { kind: 'expired', row } as const;
    const [user] = await tx
      .select({ isActive: users.isActive, tokenVersion: users.tokenVersion, role: users.role })
      .from(users)
      .where(eq(users.id, row.userId));
    if (!user?.isActive || user.tokenVersion !== row.tokenVersion || user.role !== row.role) {
      await revokeFamilyLocked(tx, row.familyId, input.now);
      return { kind: 'user_ended', row } as const;
    }
    const child = await input.child(row, user);
    await tx.update(refreshTokens).set({ usedAt: input.now }).where(eq(refreshTokens.id, row.id));
    await tx.insert(refreshTokens).values(child);
    return { kind: 'rotated', parent: row } as const;
  });
}

/** The lock every change to a family takes first: its first row's (the family id is that row's id). */
async function lockFamily(tx: Db, familyId: string): Promise<void> {
  await tx.execute(sql`select 1 from refresh_tokens where id = ${familyId}::uuid for update`);
}

/**
 * Revokes every row of a family and the access tokens issued beside them that have not expired yet;
 * the family's lock is held. Returns how many access tokens were revoked.
 */
async function revokeFamilyLocked(tx: Db, familyId: string, now: Date): Promise<number> {
  await tx
    .update(refreshTokens)
    .set({ revokedAt: now })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
  const result = await tx.execute(sql`
    with revoked as (
      insert into revoked_tokens (jti, user_id, expires_at)
      select access_jti, user_id, access_expires_at from refresh_tokens
      where family_id = ${familyId}::uuid and access_expires_at > ${now.toISOString()}::timestamptz
      on conflict do nothing
      returning 1)
    select count(*)::int as n from revoked`);
  return Number(rowsOf<{ n: number | string }>(result)[0]?.n ?? 0);
}

/** The family, and its user, of the access token `accessJti` or of the refresh token hashed `tokenHash`. */
export async function findFamily(
  db: Db,
  by: { accessJti: string } | { tokenHash: string },
): Promise<{ familyId: string; userId: string } | null> {
  const [found] = await db
    .select({ familyId: refreshTokens.familyId, userId: refreshTokens.userId })
    .from(refreshTokens)
    .where(
      'accessJti' in by
        ? eq(refreshTokens.accessJti, by.accessJti)
        : eq(refreshTokens.tokenHash, by.tokenHash),
    )
    .limit(1);
  return found ?? null;
}

/** Ends a family (logout): its refresh tokens, and the access tokens issued in it that have not expired. */
export async function revokeFamily(db: Db, familyId: string, now: Date): Promise<void> {
  await db.transaction(async (txn) => {
    const tx = txn as unknown as Db;
    await lockFamily(tx, familyId);
    await revokeFamilyLocked(tx, familyId, now);
  });
}

/**
 * Marks every refresh family of a user ended (log out everywhere, password reset, deactivation, role
 * change). A refresh racing this is refused all the same: it compares the user's token version, role
 * and active flag with the family's. The access tokens are left to what ended the families: a bumped
 * token version or a deactivation stops them already, and a role change takes effect on each request.
 */
export async function revokeUserRefreshTokens(db: Db, userId: string, now: Date): Promise<number> {
  const rows = await db
    .update(refreshTokens)
    .set({ revokedAt: now })
    .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)))
    .returning({ id: refreshTokens.id });
  return rows.length;
}
