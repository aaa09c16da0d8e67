import { writeAudit } from '../../db/queries/misc.ts';
import { activeLock, clearLoginFailures, recordLoginFailure } from '../../db/queries/throttle.ts';
import { getUserByUsername, touchLastLogin } from '../../db/queries/users.ts';
import { ApiError } from '../errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { Services } from '../services.ts';
import { isHasherBusy, MAX_PASSWORD_BYTES } from './passwords.ts';
import { type IssuedToken, issueAccessToken } from './tokens.ts';

/**
 * Password login with throttling kept in the database: MAX_FAILED_LOGIN_ATTEMPTS failures within
 * LOGIN_FAILURE_WINDOW lock the username for LOGIN_LOCKOUT_DURATION (and many failures from one
 * address lock that address). A locked login answers 429 without looking at the password, so the
 * right password does not get through either. Unknown users cost one bcrypt check like everyone else.
 */
export async function login(
  services: Services,
  input: { username: string; password: string },
  meta: { clientAddress: string | null; requestId: string; logger: Logger },
): Promise<IssuedToken> {
  const { config, db } = services;
  const userKey = `user:${input.username.toLowerCase()}`;
  const addrKey = meta.clientAddress ? `addr:${meta.clientAddress}` : null;
  const keys = addrKey ? [userKey, addrKey] : [userKey];

  const lockedUntil = await activeLock(db, keys);
  if (lockedUntil) {
    services.metrics.loginAttempt('locked');
    throw lockedError(lockedUntil);
  }

  const user = await getUserByUsername(db, input.username);
  const tooLong = new TextEncoder().encode(input.password).length > MAX_PASSWORD_BYTES;
  let matches: boolean;
  try {
    matches = await services.passwords.verify(
      tooLong ? '' : input.password,
      user?.passwordHash ?? services.dummyPasswordHash,
    );
  } catch (error) {
    if (!isHasherBusy(error)) throw error;
    services.metrics.loginAttempt('busy');
    throw new ApiError('busy', 'Too many logins are being checked right now; try again shortly', {
      retryAfter: 1,
    });
  }
  if (!user?.isActive || !matches || tooLong) {
    services.metrics.loginAttempt('failure');
    const userLock = await recordLoginFailure(db, {
      key: userKey,
      windowSeconds: config.LOGIN_FAILURE_WINDOW,
      maxFailures: config.MAX_FAILED_LOGIN_ATTEMPTS,
      lockSeconds: config.LOGIN_LOCKOUT_DURATION,
    });
    if (addrKey) {
      await recordLoginFailure(db, {
        key: addrKey,
        windowSeconds: config.LOGIN_FAILURE_WINDOW,
        maxFailures: config.MAX_FAILED_LOGINS_PER_ADDRESS,
        lockSeconds: config.LOGIN_LOCKOUT_DURATION,
      });
    }
    services.background(
      writeAudit(db, {
        actorId: user?.id ?? null,
        action: 'auth.login_failed',
        targetType: 'user',
        targetId: input.username.slice(0, 150),
        clientAddress: meta.clientAddress,
        requestId: meta.requestId,
        details: { locked: userLock !== null },
      }).catch((error) => meta.logger.error('audit write failed', { error })),
    );
    throw new ApiError('invalid_credentials', 'Invalid credentials');
  }

  await clearLoginFailures(db, userKey);
  const issued = await issueAccessToken({
    key: services.keys.signing,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    userId: user.id,
    tokenVersion: user.tokenVersion,
    ttlSeconds: config.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
  });
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
        details: { jti: issued.jti },
      }),
    ]).catch((error) => meta.logger.error('login bookkeeping failed', { error })),
  );
  return issued;
}

function lockedError(until: Date): ApiError {
  const retryAfter = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
  return new ApiError('login_locked', `Too many failed logins; try again in ${retryAfter} s`, { retryAfter });
}
