import { writeAudit } from '../../db/queries/misc.ts';
import {
  type LoginReservation,
  type LoginSlot,
  recordLoginFailure,
  releaseLoginAttempt,
  reserveAddressAttempt,
  reserveNameAttempt,
} from '../../db/queries/throttle.ts';
import { getUserByUsername, touchLastLogin } from '../../db/queries/users.ts';
import { canonicalUsername } from '../../db/username.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import type { Logger } from '../shared/base/log.ts';
import { isHasherBusy, MAX_PASSWORD_BYTES } from './passwords.ts';
import { type Session, startSession } from './sessions.ts';

/**
 * Password login, throttled in the database so that every instance sees the same counts.
 *
 * A password check is reserved before it is made, in one atomic statement per key (db/queries/throttle.ts):
 * - the name (its canonical form, db/username.ts, so every spelling that logs in as it counts against
 *   it): at most MAX_FAILED_LOGIN_ATTEMPTS checks per LOGIN_FAILURE_WINDOW, however many arrive at
 *   once; that many failures lock it for LOGIN_LOCKOUT_DURATION (429 with Retry-After), and a check
 *   that succeeds while it is locked is refused too. A success gives back its own place only: the
 *   failures before it still count;
 * - the client address: MAX_FAILED_LOGINS_PER_ADDRESS checks per window, then one check per
 *   window / MAX_FAILED_LOGINS_PER_ADDRESS seconds. It slows a spray of guesses without locking out
 *   the other accounts behind that address.
 * A login refused by either costs no hash. The check itself goes through the hasher's fair queue
 * (limitHasher), charged to the name and the address. Unknown users cost one bcrypt check like
 * everyone else.
 */
export async function login(
  services: Services,
  input: { username: string; password: string },
  meta: { clientAddress: string | null; userAgent: string | null; requestId: string; logger: Logger },
): Promise<Session> {
  const { config, db } = services;
  const nameKey = await throttleKey('user', canonicalUsername(input.username));
  const addressKey = meta.clientAddress ? await throttleKey('addr', meta.clientAddress) : null;

  const byName = await reserveNameAttempt(db, {
    key: nameKey,
    maxAttempts: config.MAX_FAILED_LOGIN_ATTEMPTS,
    windowSeconds: config.LOGIN_FAILURE_WINDOW,
  });
  if (!byName.granted) throw refused(services, byName, 'name');
  const slots: LoginSlot[] = [byName.slot];
  // Set once the check was made: its places are then settled below, not given back.
  let checked = false;
  try {
    if (addressKey) {
      const byAddress = await reserveAddressAttempt(db, {
        key: addressKey,
        budget: config.MAX_FAILED_LOGINS_PER_ADDRESS,
        windowSeconds: config.LOGIN_FAILURE_WINDOW,
      });
      if (!byAddress.granted) throw refused(services, byAddress, 'address');
      slots.push(byAddress.slot);
    }

    const user = await getUserByUsername(db, input.username);
    const tooLong = new TextEncoder().encode(input.password).length > MAX_PASSWORD_BYTES;
    let matches: boolean;
    try {
      matches = await services.passwords.verify(
        tooLong ? '' : input.password,
        user?.passwordHash ?? services.dummyPasswordHash,
        addressKey ? [nameKey, addressKey] : [nameKey],
      );
    } catch (error) {
      if (!isHasherBusy(error)) throw error;
      services.metrics.loginAttempt('busy');
      throw new ApiError('busy', 'Too many logins are being checked right now; try again shortly', {
        retryAfter: 1,
      });
    }
    checked = true;

    // A service user (can_login false) acts only through API keys, whatever password is tried.
    if (!user?.isActive || !user.canLogin || !matches || tooLong) {
      services.metrics.loginAttempt('failure');
      // The address's place stays taken: a failure is what it counts.
      const locked = await recordLoginFailure(db, byName.slot, {
        maxFailures: config.MAX_FAILED_LOGIN_ATTEMPTS,
        lockSeconds: config.LOGIN_LOCKOUT_DURATION,
      });
      services.background(
        writeAudit(db, {
          actorId: user?.id ?? null,
          action: 'auth.login_failed',
          targetType: 'user',
          targetId: input.username.slice(0, 150),
          clientAddress: meta.clientAddress,
          requestId: meta.requestId,
          details: { locked },
        }).catch((error) => meta.logger.error('audit write failed', { error })),
      );
      throw new ApiError('invalid_credentials', 'Invalid credentials');
    }

    const [lockedFor] = await Promise.all(slots.map((slot) => releaseLoginAttempt(db, slot)));
    if (lockedFor) {
      // Other checks locked the name while this one ran: the right password does not lift a lock.
      services.metrics.loginAttempt('locked');
      throw lockedError(lockedFor);
    }
    const session = await startSession(services, user, meta);
    services.metrics.loginAttempt('success');
    services.background(
      Promise.all([
        touchLastLogin(db, user.id),
        writeAudit(db, {
          actorId: user.id,
          action: 'auth.login',
          targetType: 'user',
          targetId: user.id,
          clientAddress: meta.clientAddress,
          requestId: meta.requestId,
          details: { jti: session.access.jti, family_id: session.familyId },
        }),
      ]).catch((error) => meta.logger.error('login bookkeeping failed', { error })),
    );
    return session;
  } finally {
    // Refused by the address, busy, or failed on the way: no check was made, so its places go back.
    if (!checked) {
      await Promise.all(slots.map((slot) => releaseLoginAttempt(db, slot))).catch((error) =>
        meta.logger.error('giving back a login place failed', { error }),
      );
    }
  }
}

function refused(
  services: Services,
  reservation: Extract<LoginReservation, { granted: false }>,
  by: 'name' | 'address',
): ApiError {
  services.metrics.loginAttempt('locked');
  const { retryAfter } = reservation;
  if (by === 'address') {
    return new ApiError(
      'login_locked',
      `Too many failed logins from your address; try again in ${retryAfter} s`,
      {
        retryAfter,
      },
    );
  }
  if (reservation.locked) return lockedError(retryAfter);
  return new ApiError('login_locked', 'Too many logins for this name at once; try again in 1 s', {
    retryAfter,
  });
}

function lockedError(retryAfter: number): ApiError {
  return new ApiError('login_locked', `Too many failed logins; try again in ${retryAfter} s`, { retryAfter });
}

/** Longer keys are hashed: a btree index entry holds at most about 2.7 kB, and NFKC can lengthen a name 18-fold. */
const MAX_KEY_BYTES = 200;

/** The throttle key for a canonical name or an address: readable when short, a SHA-256 when long. */
async function throttleKey(kind: 'user' | 'addr', value: string): Promise<string> {
  const bytes = new TextEncoder().encode(value);
  if (bytes.length <= MAX_KEY_BYTES) return `${kind}:${value}`;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return `${kind}:sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
