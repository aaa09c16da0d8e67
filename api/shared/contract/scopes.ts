/**
 * What an API key may do. A key carries some of these; what it may really do is its scopes and
 * what its user's role grants now (api/auth/scopes.ts), so a demoted user's keys lose at once what
 * the role lost. A session (a JWT from a login) has every right of its role.
 */
export const SCOPES = [
  'calls:read',
  'calls:write',
  'flows:read',
  'flows:write',
  'campaigns:read',
  'campaigns:write',
  'users:admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * An API key as shown once to its creator: `odk_live_<key id>_<secret>`, the key id 16 hex digits and the secret
 * 43 base64url characters (256 random bits). The fixed prefix lets secret scanners find a leaked key;
 * the key id names it in lists, logs and the audit log; only a hash of the secret is kept.
 */
export const API_KEY_PREFIX = 'odk_live_';
export const API_KEY_ID_LENGTH = 16;
export const API_KEY_SECRET_LENGTH = 43;
export const API_KEY_PATTERN = new RegExp(
  `^${API_KEY_PREFIX}([0-9a-f]{${API_KEY_ID_LENGTH}})_([A-Za-z0-9_-]{${API_KEY_SECRET_LENGTH}})$`,
);
