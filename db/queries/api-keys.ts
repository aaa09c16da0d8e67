import { and, desc, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import type { Scope } from '../../api/shared/contract/index.ts';
import { apiKeys, type Role, users } from '../schema.ts';
import type { Db } from '../types.ts';
import { builtOnce } from './prepared.ts';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export interface NewApiKey {
  id: string;
  userId: string;
  name: string;
  secretHash: string;
  scopes: Scope[];
  expiresAt: Date | null;
  createdBy: string;
}

export async function insertApiKey(db: Db, input: NewApiKey): Promise<ApiKeyRow> {
  const [row] = await db.insert(apiKeys).values(input).returning();
  return row!;
}

/** A user's keys, newest first (revoked and expired ones included, so their history stays visible). */
export async function listApiKeys(db: Db, userId: string): Promise<ApiKeyRow[]> {
  return db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.userId, userId))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
}

export async function getApiKey(db: Db, id: string): Promise<ApiKeyRow | null> {
  const rows = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return rows[0] ?? null;
}

/** Revokes a key; revoking it again keeps the first time. Null when there is no such key. */
export async function revokeApiKey(db: Db, id: string): Promise<ApiKeyRow | null> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning();
  return rows[0] ?? null;
}

// Runs on every key-authenticated request: the key and its user as they are now.
const keyAuthLookup = builtOnce('api_key_auth_lookup', (db) =>
  db
    .select({
      keyId: apiKeys.id,
      secretHash: apiKeys.secretHash,
      scopes: apiKeys.scopes,
      expiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
      lastUsedAt: apiKeys.lastUsedAt,
      userId: users.id,
      username: users.username,
      role: users.role,
      isActive: users.isActive,
      tokenVersion: users.tokenVersion,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(eq(apiKeys.id, sql.placeholder('id'))),
);

export interface KeySubject {
  keyId: string;
  secretHash: string;
  scopes: Scope[];
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  userId: string;
  username: string;
  role: Role;
  isActive: boolean;
  tokenVersion: number;
}

export async function getKeySubject(db: Db, id: string): Promise<KeySubject | null> {
  const rows = await keyAuthLookup(db, { id });
  return (rows[0] as KeySubject | undefined) ?? null;
}

/**
 * Records a use of a key, unless one was recorded less than a minute ago: at most one write a minute
 * per key, however many requests and instances use it.
 */
export async function touchApiKey(db: Db, id: string, address: string | null): Promise<void> {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: sql`now()`, lastUsedIp: address })
    .where(
      and(
        eq(apiKeys.id, id),
        or(isNull(apiKeys.lastUsedAt), lte(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`)),
      ),
    );
}

/** Of `ids`, the keys that no longer let anyone in: revoked, expired or gone. */
export async function lapsedApiKeys(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const live = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(
      and(
        inArray(apiKeys.id, ids),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), sql`${apiKeys.expiresAt} > now()`),
      ),
    );
  const alive = new Set(live.map((r) => r.id));
  return new Set(ids.filter((id) => !alive.has(id)));
}
