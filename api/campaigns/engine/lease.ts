import { expiredAttempts, leaseAttempts, nextLeaseDue } from '../../../db/queries/campaign-engine.ts';
import { originateCommandOf } from '../../calls/command.ts';
import { recordEvents } from '../../calls/record.ts';
import type { Services } from '../../services.ts';
import type { LeaseReply, LeaseRequest } from '../../shared/contract/index.ts';
import { planLease } from './plan.ts';

/**
 * The longest a sidecar is told to wait before asking again (nothing running, or nothing due soon):
 * a campaign started or resumed, or a retry come due, reaches every sidecar within a second, for one
 * small lease request a second from each idle sidecar.
 */
export const IDLE_POLL_MS = 1_000;

/**
 * A sidecar's lease: first the attempts whose lease passed undialled end `lost` (any sidecar's: no
 * timer is needed on Workers), then up to `capacity` due contacts become calls handed to this sidecar,
 * answered as the originate commands it runs, with when to ask again.
 */
export async function leaseForSidecar(services: Services, request: LeaseRequest): Promise<LeaseReply> {
  await expireLeases(services);
  const now = services.now();
  const { config } = services;
  const { calls } =
    request.capacity > 0
      ? await leaseAttempts(services.db, {
          sidecarId: request.sidecar_id,
          capacity: request.capacity,
          now,
          plan: planLease,
          leaseMarginMs: config.CAMPAIGN_LEASE_MARGIN_SECONDS * 1000,
          progressWebhookSeconds: config.CAMPAIGN_PROGRESS_WEBHOOK_SECONDS,
          defaults: {
            context: config.DEFAULT_CONTEXT,
            extension: config.DEFAULT_EXTENSION,
            priority: config.DEFAULT_PRIORITY,
            callerId: config.DEFAULT_CALLER_ID || null,
          },
        })
      : { calls: [] };
  if (calls.length > 0) {
    services.eventsRecorded();
    for (const _ of calls) services.metrics.callLaunched();
  }
  const due = await nextLeaseDue(services.db);
  // From the clock as the answer leaves, not as the lease began: at a campaign's full pace the
  // lease's own time would otherwise be added to every second's worth.
  const wait = due ? due.getTime() - services.now().getTime() : IDLE_POLL_MS;
  return {
    commands: calls.map((call) => originateCommandOf(call, now)),
    next_poll_ms: Math.max(0, Math.min(IDLE_POLL_MS, Math.ceil(wait))),
  };
}

/**
 * Attempts whose sidecar vanished end failed/lost (and are accounted): taken and never dialled, or up
 * when the sidecar went silent for CAMPAIGN_LEASE_MARGIN_SECONDS.
 */
export async function expireLeases(services: Services): Promise<number> {
  const ids = await expiredAttempts(services.db, {
    now: services.now(),
    // Whether a sidecar was heard from lately is read on the real clock, as last_seen_at is written.
    realNow: new Date(),
    silentMs: services.config.CAMPAIGN_LEASE_MARGIN_SECONDS * 1000,
  });
  if (ids.length === 0) return 0;
  await recordEvents(
    services,
    ids.map((callId) => ({
      eventId: `${callId}:lease_expired`,
      callId,
      type: 'ended',
      status: 'failed' as const,
      reason: 'lost',
      occurredAt: new Date(),
      source: 'api',
    })),
  );
  return ids.length;
}
