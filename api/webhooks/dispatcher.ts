import {
  claimDueDeliveries,
  type DeliveryRow,
  deliveryEndpoint,
  recordAttempt,
} from '../../db/queries/webhooks.ts';
import type { Services } from '../services.ts';
import { SIGNATURE_HEADER, signWebhook } from './signature.ts';
import { isWebhookRefused } from './transport.ts';

/** Exponential backoff with full jitter: a random wait up to base·2^(attempt−1), capped. */
function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(baseMs / 2, Math.round(random() * ceiling));
}

/** What sending webhooks takes of the services. */
export type DispatchServices = Pick<Services, 'config' | 'db' | 'logger' | 'metrics' | 'webhooks'> & {
  keys: Pick<Services['keys'], 'signing'>;
};

/** An attempt that had no answer within WEBHOOK_TIMEOUT_MS. */
class AttemptTimedOut extends Error {
  override name = 'AttemptTimedOut';
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/**
 * Runs `send` with a signal that aborts after `ms`, and settles then even if `send` does not. (Not
 * cockatiel's timeout policy: cockatiel aborts a controller at module scope, which Workers refuse.)
 */
async function withDeadline<T>(ms: number, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new AttemptTimedOut(ms);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([send(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function attemptDelivery(services: DispatchServices, d: DeliveryRow) {
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
      // A call's delivery names the event it reports; a campaign's, its campaign.
      ...(d.eventId === null
        ? { 'Outdial-Campaign-Id': String(d.campaignId) }
        : { 'Outdial-Event-Id': String(d.eventId) }),
      'Outdial-Attempt': String(attempt),
    };
    const res = await withDeadline(config.WEBHOOK_TIMEOUT_MS, (signal) =>
      services.webhooks.post(d.url, d.payload, headers, signal),
    );
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

export interface WebhookPoolOptions {
  /** Attempts in flight at once (WEBHOOK_CONCURRENCY unless given). */
  concurrency?: number;
  /** Hands every piece of work the pool starts to whoever must wait for it (Workers' waitUntil). */
  track?: (work: Promise<unknown>) => void;
}

export interface WebhookPool {
  /** Takes what is due and fits, and starts it; returns at once. */
  wake(): void;
  /** Resolves once nothing is in flight and nothing due could be taken. */
  drain(): Promise<void>;
  /** Takes nothing more; resolves once the attempts in flight have been recorded. */
  close(): Promise<void>;
}

/**
 * Sends due deliveries with at most `concurrency` attempts in flight, and at most
 * WEBHOOK_ENDPOINT_CONCURRENCY (never more than half of `concurrency`) to one endpoint, each attempt
 * cut off after WEBHOOK_TIMEOUT_MS whatever the transport does. A slot that frees up is filled at
 * once, so an endpoint that stalls holds its own slots and delays no other endpoint's deliveries.
 */
export function createWebhookPool(services: DispatchServices, options: WebhookPoolOptions = {}): WebhookPool {
  const { config, logger } = services;
  const concurrency = options.concurrency ?? config.WEBHOOK_CONCURRENCY;
  const perEndpoint = Math.max(1, Math.min(config.WEBHOOK_ENDPOINT_CONCURRENCY, Math.floor(concurrency / 2)));
  // The lease outlasts the attempt (cut off by the timeout) and the recording of its outcome.
  const leaseSeconds = Math.ceil(config.WEBHOOK_TIMEOUT_MS / 1000) + 30;
  const busy = new Map<string, number>();
  const attempts = new Set<Promise<void>>();
  const idle: Array<() => void> = [];
  let claiming: Promise<void> | null = null;
  let again = false;
  let closed = false;

  const settle = () => {
    if (claiming || attempts.size > 0) return;
    for (const resolve of idle.splice(0)) resolve();
  };

  const start = (d: DeliveryRow) => {
    const endpoint = deliveryEndpoint(d.url);
    busy.set(endpoint, (busy.get(endpoint) ?? 0) + 1);
    const work: Promise<void> = attemptDelivery(services, d)
      .catch((error) => logger.warn('webhook attempt not recorded', { error, deliveryId: d.id }))
      .finally(() => {
        const left = (busy.get(endpoint) ?? 1) - 1;
        if (left > 0) busy.set(endpoint, left);
        else busy.delete(endpoint);
        attempts.delete(work);
        // A slot is free, and the call's next delivery may now be due.
        wake();
        settle();
      });
    attempts.add(work);
    options.track?.(work);
  };

  const claim = async () => {
    do {
      again = false;
      for (;;) {
        const room = concurrency - attempts.size;
        if (closed || room <= 0) break;
        const due = await claimDueDeliveries(services.db, { limit: room, perEndpoint, busy, leaseSeconds });
        if (due.length === 0) break;
        for (const d of due) start(d);
      }
    } while (again && !closed);
  };

  function wake() {
    if (closed) return;
    if (claiming) {
      again = true;
      return;
    }
    const work: Promise<void> = claim()
      .catch((error) => logger.warn('webhook dispatch failed', { error }))
      .finally(() => {
        claiming = null;
        if (again) wake();
        settle();
      });
    claiming = work;
    options.track?.(work);
  }

  return {
    wake,
    drain() {
      const done = new Promise<void>((resolve) => idle.push(resolve));
      wake();
      settle();
      return done;
    },
    async close() {
      closed = true;
      const done = new Promise<void>((resolve) => idle.push(resolve));
      settle();
      await done;
    },
  };
}

/** The Bun-side dispatcher: polls every WEBHOOK_POLL_MS, and at once when events were just recorded. */
export function startWebhookDispatcher(services: DispatchServices): {
  stop(): Promise<void>;
  wake(): void;
} {
  const pool = createWebhookPool(services);
  const poll = setInterval(pool.wake, services.config.WEBHOOK_POLL_MS);
  pool.wake();
  return {
    wake: pool.wake,
    async stop() {
      clearInterval(poll);
      await pool.close();
    },
  };
}
