import {
  deleteCalls,
  expiredCallsWithRecordings,
  type HousekeepingResult,
  runHousekeeping,
} from '../db/queries/housekeeping.ts';
import { recordingsOfCalls } from '../db/queries/recordings.ts';
import type { Db } from '../db/types.ts';
import type { SidecarFleet } from './calls/fleet.ts';
import type { Config } from './config.ts';
import type { Logger } from './shared/base/log.ts';
import { recordingBelongsTo } from './shared/contract/index.ts';

/** Calls with recordings handled per round: each costs a command to its sidecar. */
const RECORDING_CALLS_PER_ROUND = 100;

/**
 * One round of housekeeping with the configured retention and windows: on Bun every few minutes,
 * on Workers from the hourly Cron Trigger. Logs what it deleted, if anything.
 *
 * A finished call whose flow made recordings goes only once its sidecar says they are deleted from
 * the PBX (or were missing): a sidecar that cannot be reached, or that fails to delete one, keeps the
 * call for a later round. Without a sidecar client such calls are kept.
 */
export async function housekeep(
  db: Db,
  config: Pick<
    Config,
    | 'CALL_RETENTION_DAYS'
    | 'AUDIT_RETENTION_DAYS'
    | 'CAMPAIGN_RETENTION_DAYS'
    | 'LOGIN_FAILURE_WINDOW'
    | 'RATE_LIMIT_WINDOW'
  >,
  logger: Logger,
  sidecars?: SidecarFleet,
): Promise<HousekeepingResult> {
  const result = await runHousekeeping(db, {
    callRetentionDays: config.CALL_RETENTION_DAYS,
    auditRetentionDays: config.AUDIT_RETENTION_DAYS,
    campaignRetentionDays: config.CAMPAIGN_RETENTION_DAYS,
    loginFailureWindowSeconds: config.LOGIN_FAILURE_WINDOW,
    rateLimitWindowSeconds: config.RATE_LIMIT_WINDOW,
  });
  if (sidecars) result.calls += await deleteCallsWithRecordings(db, config, logger, sidecars);
  if (Object.values(result).some((n) => n > 0)) logger.info('housekeeping', { deleted: result });
  return result;
}

async function deleteCallsWithRecordings(
  db: Db,
  config: Pick<Config, 'CALL_RETENTION_DAYS'>,
  logger: Logger,
  sidecars: SidecarFleet,
): Promise<number> {
  const ids = await expiredCallsWithRecordings(db, {
    callRetentionDays: config.CALL_RETENTION_DAYS,
    limit: RECORDING_CALLS_PER_ROUND,
  });
  const recordings = await recordingsOfCalls(db, ids);
  const gone: string[] = [];
  for (const callId of ids) {
    const entry = recordings.get(callId);
    // Names that are not this call's were never stored under it: nothing to delete on the PBX.
    const names = (entry?.recordings ?? []).filter((r) => recordingBelongsTo(callId, r));
    if (names.length === 0) {
      gone.push(callId);
      continue;
    }
    const sidecar = sidecars.clientFor(entry?.sidecarId);
    if (!sidecar) {
      logger.warn('recordings kept: their sidecar is not this API’s', {
        call_id: callId,
        sidecar: entry?.sidecarId,
      });
      continue;
    }
    try {
      const failed: Array<{ recording: string; error: string }> = [];
      const deleted = new Set<string>();
      for (let i = 0; i < names.length; i += 200) {
        const reply = await sidecar.recordingDelete({
          call_id: callId,
          recordings: names.slice(i, i + 200),
          requested_at: new Date().toISOString(),
        });
        failed.push(...reply.failed);
        for (const d of reply.deleted) deleted.add(d);
      }
      if (failed.length === 0 && names.every((n) => deleted.has(n))) gone.push(callId);
      else
        logger.warn('recordings not deleted; the call is kept for a later round', {
          call_id: callId,
          failed,
        });
    } catch (error) {
      logger.warn('sidecar unreachable; calls with recordings are kept for a later round', {
        call_id: callId,
        error: error instanceof Error ? error.message : String(error),
      });
      break;
    }
  }
  return deleteCalls(db, gone);
}
