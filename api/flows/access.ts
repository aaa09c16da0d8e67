import { readableOwner, writableOwner } from '../auth/owner.ts';
import type { AuthUser } from '../services.ts';

/**
 * Whose flows `user` may read: null for every flow, or the one owner whose flows it may read. As for
 * calls, admins and viewers read all; an operator reads, uses and changes its own. Writing is
 * further limited to admins and operators by the routes.
 */
export function readableFlowsOwner(user: Pick<AuthUser, 'id' | 'role'>): string | null {
  return readableOwner(user);
}

/** Whose flows `user` may change or place calls with: an admin any, an operator its own. */
export function writableFlowsOwner(user: Pick<AuthUser, 'id' | 'role'>): string | null {
  return writableOwner(user);
}
