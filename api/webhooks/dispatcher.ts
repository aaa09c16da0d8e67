import { claimDueDeliveries, type DeliveryRow, recordAttempt } from '../../db/queries/webhooks.ts';
import type { Services } from '../services.ts';
import { SIGNATURE_HEADER, signWebhook } from './signature.ts';
import { isWebhookRefused } from './transport.ts';

/** Exponential backoff with full jitter: a random wait up to base·2^(attempt−1), capped. */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(baseMs / 2, Math.round(random() * ceiling));
}

async function attemptDelivery(services: Services, d: DeliveryRow): Promise<void> {
  const { config } = services;
  const attempt = d.attempts + 1;
  const startedAt = new Date();
  const started = performance.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  let permanent = false;
  try {
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': 'Outdial-Webhooks/1',
      [SIGNATURE_HEADER]: await signWebhook(services.keys.signing, d.payload),
      'Outdial-Delivery-Id': String(d.id),
      'Outdial-Event-Id': String(d.eventId),
      'Outdial-Attempt': String(attempt),
    };
    const res = await services.webhooks.post(d.url, d.payload, headers, config.WEBHOOK_TIMEOUT_MS);
    statusCode = res.status;
    if (res.status >= 300 && res.status < 400) error = `redirect (${res.status}) not followed`;
    else if (res.status < 200 || res.status >= 300) error = `answered ${res.status}`;
  } catch (e) {
    permanent = isWebhookRefused(e);
    error = permanent
      ? `refused: ${(e as Error).message}`
      : `request failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  const durationMs = Math.round(performance.now() - started);
  const ageMs = Date.now() - d.createdAt.getTime();
  const nextAt = new Date(
    Date.now() + backoffMs(attempt, config.WEBHOOK_RETRY_BASE_MS, config.WEBHOOK_RETRY_MAX_MS),
  );
  const giveUp =
    permanent ||
    attempt >= config.WEBHOOK_MAX_ATTEMPTS ||
    nextAt.getTime() - d.createdAt.getTime() > config.WEBHOOK_MAX_AGE * 1000 ||
    ageMs > config.WEBHOOK_MAX_AGE * 1000;
  await recordAttempt(services.db, {
    deliveryId: d.id,
    attempt,
    startedAt,
    durationMs,
    statusCode,
    error,
    next:
      error === null
        ? { state: 'delivered' }
        : giveUp
          ? { state: 'failed' }
          : { state: 'pending', at: nextAt },
  });
  services.metrics.webhookAttempt(error === null ? 'delivered' : giveUp ? 'failed' : 'retry');
}

/** Works off the deliveries that are due now; returns how many were attempted. */
export async function runDueWebhooks(services: Services, limit = 20): Promise<number> {
  const due = await claimDueDeliveries(services.db, limit);
  await Promise.all(due.map((d) => attemptDelivery(services, d)));
  return due.length;
}

/** The Bun-side loop: polls every WEBHOOK_POLL_MS, and at once when events were just recorded. */
export function startWebhookDispatcher(services: Services): { stop(): Promise<void>; wake(): void } {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  const tick = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = null;
    running = (async () => {
      try {
        while (!stopped && (await runDueWebhooks(services)) > 0) {
          // keep going while there is work
        }
      } catch (error) {
        services.logger.warn('webhook dispatch failed', { error });
      } finally {
        running = null;
        if (!stopped) timer = setTimeout(tick, again ? 0 : services.config.WEBHOOK_POLL_MS);
        again = false;
      }
    })();
  };
  timer = setTimeout(tick, 0);
  return {
    wake: tick,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
