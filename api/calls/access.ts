import type { CallRow } from '../../db/queries/calls.ts';
import { readableOwner } from '../auth/owner.ts';
import type { AuthUser } from '../services.ts';

/**
 * Whose calls `user` may read: null for every call, or the id of the one owner whose calls it
 * may read. Admins and viewers read every call (a viewer is the read-only role: it places and
 * hangs up nothing, so calls of its own are not what it is for); an operator reads its own.
 * Every route and stream that shows calls asks here.
 */
export function readableCallsOwner(user: Pick<AuthUser, 'id' | 'role'>): string | null {
  return readableOwner(user);
}

/** Whether `user` may read `call` (readableCallsOwner), for a call already read by id alone. */
export function callReadable(user: Pick<AuthUser, 'id' | 'role'>, call: Pick<CallRow, 'ownerId'>): boolean {
  const owner = readableCallsOwner(user);
  return owner === null || call.ownerId === owner;
}
