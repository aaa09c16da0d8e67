import { type HousekeepingResult, runHousekeeping } from '../db/queries/housekeeping.ts';
import type { Db } from '../db/types.ts';
import type { Config } from './config.ts';
import type { Logger } from './shared/base/log.ts';

/**
 * One round of housekeeping with the configured retention and windows: on Bun every few minutes,
 * on Workers from the hourly Cron Trigger. Logs what it deleted, if anything.
 */
export async function housekeep(
  db: Db,
  config: Pick<
    Config,
    'CALL_RETENTION_DAYS' | 'AUDIT_RETENTION_DAYS' | 'LOGIN_FAILURE_WINDOW' | 'RATE_LIMIT_WINDOW'
  >,
  logger: Logger,
): Promise<HousekeepingResult> {
  const result = await runHousekeeping(db, {
    callRetentionDays: config.CALL_RETENTION_DAYS,
    auditRetentionDays: config.AUDIT_RETENTION_DAYS,
    loginFailureWindowSeconds: config.LOGIN_FAILURE_WINDOW,
    rateLimitWindowSeconds: config.RATE_LIMIT_WINDOW,
  });
  if (Object.values(result).some((n) => n > 0)) logger.info('housekeeping', { deleted: result });
  return result;
}
