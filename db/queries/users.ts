import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import { calls, type Role, revokedTokens, users } from '../schema.ts';
import type { Db } from '../types.ts';
import { canonicalUsername } from '../username.ts';
import { builtOnce } from './prepared.ts';

export type UserRow = typeof users.$inferSelect;

const byId = builtOnce('user_by_id', (db) =>
  db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder('id'))),
);

const byCanonicalUsername = builtOnce('user_by_canonical_username', (db) =>
  db
    .select()
    .from(users)
    .where(eq(users.usernameCanonical, sql.placeholder('canonical'))),
);

// Runs on every authenticated request: the user as it is now and whether this token was revoked.
const authLookup = builtOnce('auth_lookup', (db) =>
  db
    .select({
      id: users.id,
      username: users.username,
      role: users.role,
      isActive: users.isActive,
      tokenVersion: users.tokenVersion,
      revoked: sql<boolean>`exists (select 1 from ${revokedTokens} where ${revokedTokens.jti} = ${sql.placeholder('jti')})`,
    })
    .from(users)
    .where(eq(users.id, sql.placeholder('id'))),
);

// getAuthSubject and a call by id in one statement: a read of one call costs one round trip.
const authLookupWithCall = builtOnce('auth_lookup_with_call', (db) =>
  db
    .select({
      id: users.id,
      username: users.username,
      role: users.role,
      isActive: users.isActive,
      tokenVersion: users.tokenVersion,
      revoked: sql<boolean>`exists (select 1 from ${revokedTokens} where ${revokedTokens.jti} = ${sql.placeholder('jti')})`,
      call: calls,
    })
    .from(users)
    .leftJoin(calls, eq(calls.id, sql`${sql.placeholder('call')}::uuid`))
    .where(eq(users.id, sql.placeholder('id'))),
);

export interface AuthSubject {
  id: string;
  username: string;
  role: Role;
  isActive: boolean;
  tokenVersion: number;
  revoked: boolean;
}

export async function getAuthSubject(db: Db, id: string, jti: string): Promise<AuthSubject | null> {
  const rows = await authLookup(db, { id, jti });
  return (rows[0] as AuthSubject | undefined) ?? null;
}

/**
 * getAuthSubject, and the call `callId` whoever owns it (null when there is none): the caller decides
 * whether the subject may see it. `callId` must be a UUID.
 */
export async function getAuthSubjectAndCall(
  db: Db,
  id: string,
  jti: string,
  callId: string,
): Promise<{ subject: AuthSubject; call: typeof calls.$inferSelect | null } | null> {
  const rows = await authLookupWithCall(db, { id, jti, call: callId });
  const row = rows[0];
  if (!row) return null;
  const { call, ...subject } = row;
  return { subject: subject as AuthSubject, call };
}

/** The users behind a set of open streams as they are now, and which of their token ids are revoked. */
export interface AuthSubjects {
  users: Map<string, Omit<AuthSubject, 'revoked'>>;
  revoked: Set<string>;
}

/** getAuthSubject for many users and tokens at once, in one statement. */
export async function getAuthSubjects(db: Db, ids: string[], jtis: string[]): Promise<AuthSubjects> {
  const out: AuthSubjects = { users: new Map(), revoked: new Set() };
  if (ids.length === 0) return out;
  const people = db
    .select({
      key: sql<string>`${users.id}::text`.as('key'),
      username: users.username,
      role: users.role,
      isActive: users.isActive,
      tokenVersion: users.tokenVersion,
    })
    .from(users)
    .where(inArray(users.id, ids));
  const tokens = db
    .select({
      key: revokedTokens.jti,
      username: sql<string>`null::text`.as('username'),
      role: sql<Role>`null::text`.as('role'),
      isActive: sql<boolean>`null::boolean`.as('is_active'),
      tokenVersion: sql<number>`null::integer`.as('token_version'),
    })
    .from(revokedTokens)
    .where(inArray(revokedTokens.jti, jtis.length > 0 ? jtis : ['']));
  for (const row of await people.unionAll(tokens)) {
    const { key, ...user } = row;
    if (user.isActive === null) out.revoked.add(key);
    else out.users.set(key, { id: key, ...user });
  }
  return out;
}

export async function getUserById(db: Db, id: string): Promise<UserRow | null> {
  const rows = await byId(db, { id });
  return rows[0] ?? null;
}

/** The user whose name is `username` in any spelling that folds to the same canonical form. */
export async function getUserByUsername(db: Db, username: string): Promise<UserRow | null> {
  const rows = await byCanonicalUsername(db, { canonical: canonicalUsername(username) });
  return rows[0] ?? null;
}

export interface NewUser {
  username: string;
  passwordHash: string;
  role: Role;
  createdBy?: string | null;
  /** False for a service user, which acts only through API keys. */
  canLogin?: boolean;
}

/** Inserts a user; null when the username, or another spelling of it (db/username.ts), is taken. */
export async function createUser(db: Db, input: NewUser): Promise<UserRow | null> {
  const rows = await db
    .insert(users)
    .values({
      username: input.username,
      usernameCanonical: canonicalUsername(input.username),
      passwordHash: input.passwordHash,
      role: input.role,
      createdBy: input.createdBy ?? null,
      canLogin: input.canLogin ?? true,
    })
    .onConflictDoNothing()
    .returning();
  return rows[0] ?? null;
}

export async function listUsers(db: Db, options: { after?: string; limit: number }): Promise<UserRow[]> {
  return db
    .select()
    .from(users)
    .where(options.after ? gt(users.username, options.after) : undefined)
    .orderBy(asc(users.username))
    .limit(options.limit);
}

export async function countActiveAdmins(db: Db): Promise<number> {
  const rows = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.isActive, true)));
  return Number(rows[0]?.n ?? 0);
}

export async function updateUser(
  db: Db,
  id: string,
  patch: { role?: Role; isActive?: boolean; passwordHash?: string; bumpTokenVersion?: boolean },
): Promise<UserRow | null> {
  const rows = await db
    .update(users)
    .set({
      ...(patch.role !== undefined ? { role: patch.role } : {}),
      ...(patch.isActive !== undefined ? { isActive: patch.isActive } : {}),
      ...(patch.passwordHash !== undefined ? { passwordHash: patch.passwordHash } : {}),
      ...(patch.bumpTokenVersion ? { tokenVersion: sql`${users.tokenVersion} + 1` } : {}),
      updatedAt: sql`now()`,
    })
    .where(eq(users.id, id))
    .returning();
  return rows[0] ?? null;
}

export type AdminKeepingUpdate =
  | { ok: true; before: UserRow; after: UserRow }
  | { ok: false; reason: 'not_found' | 'last_admin' };

/**
 * Changes a user's role or active flag unless that would leave no active admin. The check and the change
 * are one transaction that first locks the rows of the active admins, in id order: a concurrent change
 * waits for it, then sees its outcome, so two admins demoting or deactivating each other at once leave
 * one (and two such transactions never wait on each other in a cycle).
 */
export async function updateUserKeepingAnAdmin(
  db: Db,
  id: string,
  patch: { role?: Role; isActive?: boolean },
): Promise<AdminKeepingUpdate> {
  return db.transaction(async (tx) => {
    const admins = await tx
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.role, 'admin'), eq(users.isActive, true)))
      .orderBy(asc(users.id))
      .for('update');
    const [before] = await tx.select().from(users).where(eq(users.id, id)).for('update');
    if (!before) return { ok: false, reason: 'not_found' } as const;
    const losesAdmin =
      before.role === 'admin' &&
      before.isActive &&
      ((patch.role !== undefined && patch.role !== 'admin') || patch.isActive === false);
    if (losesAdmin && admins.every((admin) => admin.id === id))
      return { ok: false, reason: 'last_admin' } as const;
    const after = await updateUser(tx as unknown as Db, id, patch);
    if (!after) return { ok: false, reason: 'not_found' } as const;
    return { ok: true, before, after } as const;
  });
}

export async function touchLastLogin(db: Db, id: string): Promise<void> {
  await db.update(users).set({ lastLoginAt: sql`now()` }).where(eq(users.id, id));
}

export async function revokeToken(
  db: Db,
  input: { jti: string; userId: string; expiresAt: Date },
): Promise<void> {
  await db
    .insert(revokedTokens)
    .values({ jti: input.jti, userId: input.userId, expiresAt: input.expiresAt })
    .onConflictDoNothing();
}
