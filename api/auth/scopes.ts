import type { Role } from '../../db/schema.ts';
import { SCOPES, type Scope } from '../shared/contract/index.ts';

/** What each role may do, in scopes: a key can never do more than its user's role grants now. */
export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  admin: SCOPES,
  operator: ['calls:read', 'calls:write', 'flows:read', 'flows:write', 'campaigns:read', 'campaigns:write'],
  viewer: ['calls:read', 'flows:read', 'campaigns:read'],
};

/** A key's effective rights: its scopes that its user's role still grants. */
export function effectiveScopes(scopes: readonly Scope[], role: Role): ReadonlySet<Scope> {
  const granted = new Set(ROLE_SCOPES[role]);
  return new Set(scopes.filter((s) => granted.has(s)));
}
