import type { Role } from '../../db/schema.ts';

/** What a request or a stream was let in with: the token's identity and the user's role at the time. */
export interface Grant {
  userId: string;
  jti: string;
  /** The token's `ver` claim. */
  tokenVersion: number;
  role: Role;
  expiresAt: Date;
  /** The API key it was let in with, or null for a session token. */
  keyId: string | null;
}

/** The user as the database has it now, and whether the grant's token id (or key) is revoked. */
export interface SubjectNow {
  role: Role;
  isActive: boolean;
  tokenVersion: number;
  revoked: boolean;
}

/**
 * Whether a token still speaks for its user: not revoked, minted at the user's current token version
 * (a password reset or "log out everywhere" moves it on), and the user active.
 */
export function tokenHonoured(subject: SubjectNow | null, tokenVersion: number): subject is SubjectNow {
  return !!subject && subject.isActive && !subject.revoked && subject.tokenVersion === tokenVersion;
}

/**
 * Why something let in with `grant` must stop now, or null. Besides what every request checks, a
 * long-lived holder (a live stream) stops at the token's expiry, and when the role it was let in
 * with changes: what it may see was decided from that role.
 */
export function grantLost(
  grant: Grant,
  subject: SubjectNow | null,
  now = Date.now(),
): 'expired' | 'revoked' | 'role_changed' | null {
  if (now >= grant.expiresAt.getTime()) return 'expired';
  // A key is a credential of its own: a password reset or "log out everywhere" ends sessions, not keys.
  const honoured =
    grant.keyId === null
      ? tokenHonoured(subject, grant.tokenVersion)
      : !!subject && subject.isActive && !subject.revoked;
  if (!honoured || !subject) return 'revoked';
  if (subject.role !== grant.role) return 'role_changed';
  return null;
}
