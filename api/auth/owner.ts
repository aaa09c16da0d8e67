import type { AuthUser } from '../services.ts';

/**
 * Whose owned things (calls, flows, campaigns) `user` may read: null for everyone's, or the one owner
 * whose things it may read. Admins and viewers read all (a viewer is the read-only role); an operator
 * reads its own.
 */
export function readableOwner(user: Pick<AuthUser, 'id' | 'role'>): string | null {
  return user.role === 'admin' || user.role === 'viewer' ? null : user.id;
}

/** Whose owned things `user` may change: an admin anyone's, an operator its own (viewers none: the routes refuse them). */
export function writableOwner(user: Pick<AuthUser, 'id' | 'role'>): string | null {
  return user.role === 'admin' ? null : user.id;
}
