import { ExponentialBackoff, handleWhen, type RetryPolicy, retry } from 'cockatiel';
import type { SigningKey } from '../api/shared/base/keys.ts';
import type { Logger } from '../api/shared/base/log.ts';
import { signChannelMessage } from '../api/shared/base/signing.ts';
import {
  API_EVENTS_PATH,
  type EventBatch,
  EventBatchAck,
  sidecarPrincipal,
  TYP_EVENTS,
} from '../api/shared/contract/index.ts';
import { DeliveryError, describeError, isDeliveryError } from './errors.ts';
import type { Metrics } from './metrics.ts';
import type { OutboxRow, Store } from './store.ts';

export interface OutboxOptions {
  store: Store;
  key: SigningKey;
  sidecarId: string;
  apiUrl: string;
  apiIssuer: string;
  batchSize: number;
  initialDelayMs: number;
  maxDelayMs: number;
  requestTimeoutMs: number;
  metrics: Metrics;
  log: Logger;
}

/**
 * Delivers the outbox to the API: oldest first, one batch at a time (so per-call order holds),
 * each send signed anew. Rows are deleted only when the API acknowledged them. While the API
 * is down or refuses our signature, the same batch is retried with jittered exponential backoff;
 * a batch refused as malformed is split until the offending event is alone, and that one goes
 * to the dead letters instead of blocking everything behind it.
 */
export class OutboxSender {
  private readonly options: OutboxOptions;
  private readonly url: string;
  private readonly path: string;
  private readonly policy: RetryPolicy;
  private readonly stopController = new AbortController();
  private wake: (() => void) | null = null;
  private pending = false;
  private loop: Promise<void> | null = null;
  private limit: number;
  private idleWaiters: Array<() => void> = [];
  /** The last delivery failed and is being retried. */
  private failing = false;

  constructor(options: OutboxOptions) {
    this.options = options;
    const url = new URL(`${options.apiUrl}${API_EVENTS_PATH}`);
    this.url = url.toString();
    // The API verifies against the route it serves, whatever prefix a proxy in front may add.
    this.path = API_EVENTS_PATH;
    this.limit = options.batchSize;
    this.policy = retry(
      handleWhen((error) => isDeliveryError(error) && error.retryable),
      {
        maxAttempts: Number.POSITIVE_INFINITY,
        backoff: new ExponentialBackoff({
          initialDelay: options.initialDelayMs,
          maxDelay: options.maxDelayMs,
        }),
      },
    );
    this.policy.onRetry((reason) => {
      this.failing = true;
      options.log.warn('event delivery failed; retrying', {
        error: 'error' in reason ? describeError(reason.error) : 'unexpected result',
        attempt: reason.attempt,
        delay_ms: Math.round(reason.delay),
        outbox_depth: options.store.outboxDepth(),
      });
    });
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  /** New rows were written. */
  notify(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Whether the API is currently refusing or unreachable (for readiness and status). */
  isFailing(): boolean {
    return this.failing;
  }

  /** Resolves true once the outbox is empty, false if that did not happen within `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.options.store.outboxDepth() === 0) return true;
    this.notify();
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(this.options.store.outboxDepth() === 0);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    this.wake?.();
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const { store, log } = this.options;
    const stopped = this.stopController.signal;
    while (!stopped.aborted) {
      const rows = store.peekOutbox(this.limit);
      if (rows.length === 0) {
        for (const waiter of this.idleWaiters.splice(0)) waiter();
        await this.waitForWork();
        continue;
      }
      const batchId = crypto.randomUUID();
      try {
        const acked = await this.policy.execute(({ signal }) => this.send(rows, batchId, signal), stopped);
        this.failing = false;
        this.limit = this.options.batchSize;
        this.acknowledge(rows, acked);
      } catch (error) {
        if (stopped.aborted) break;
        if (isDeliveryError(error) && !error.retryable) {
          this.refused(rows, error);
          continue;
        }
        // Not a delivery answer at all (a bug or a broken row): keep the rows, slow down.
        log.error('event delivery loop error', { error: describeError(error) });
        await sleep(this.options.maxDelayMs, stopped);
      }
    }
  }

  private waitForWork(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, 1000);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        this.pending = false;
        done();
      };
    });
  }

  private async send(rows: OutboxRow[], batchId: string, signal: AbortSignal): Promise<Set<string>> {
    const { key, sidecarId, apiIssuer, requestTimeoutMs } = this.options;
    const batch: EventBatch = {
      sidecar_id: sidecarId,
      batch_id: batchId,
      events: rows.map((row) => row.event),
    };
    const body = JSON.stringify(batch);
    // A fresh signature (and jti) per attempt: the API refuses a jti it has seen.
    const token = await signChannelMessage({
      key,
      issuer: sidecarPrincipal(sidecarId),
      audience: apiIssuer,
      typ: TYP_EVENTS,
      method: 'POST',
      path: this.path,
      body,
    });
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeoutMs)]),
      });
    } catch (error) {
      throw new DeliveryError(`API unreachable: ${describeError(error)}`, {
        status: null,
        retryable: true,
        cause: error,
      });
    }
    const text = await response.text().catch(() => '');
    if (response.status === 400 || response.status === 422) {
      throw new DeliveryError(
        `API refused the batch as malformed (${response.status}): ${text.slice(0, 300)}`,
        {
          status: response.status,
          retryable: false,
        },
      );
    }
    if (!response.ok) {
      throw new DeliveryError(`API answered ${response.status}: ${text.slice(0, 200)}`, {
        status: response.status,
        retryable: true,
      });
    }
    let ack: EventBatchAck;
    try {
      ack = EventBatchAck.parse(JSON.parse(text));
    } catch (error) {
      throw new DeliveryError('API acknowledged with an unreadable body', {
        status: response.status,
        retryable: true,
        cause: error,
      });
    }
    const ours = new Set(rows.map((row) => row.event.event_id));
    const acked = new Set(ack.results.map((r) => r.event_id).filter((id) => ours.has(id)));
    if (acked.size === 0) {
      throw new DeliveryError('API acknowledged none of the batch', {
        status: response.status,
        retryable: true,
      });
    }
    return acked;
  }

  private acknowledge(rows: OutboxRow[], acked: Set<string>): void {
    const { store, metrics, log } = this.options;
    const now = Date.now();
    const done = rows.filter((row) => acked.has(row.event.event_id));
    store.deleteOutbox(done.map((row) => row.id));
    for (const row of done) metrics.eventLag.observe(Math.max(0, now - row.observedAt) / 1000);
    if (done.length < rows.length) {
      log.warn('API left events of a batch unacknowledged; they will be sent again', {
        unacknowledged: rows.length - done.length,
      });
    }
    log.debug('events delivered', { count: done.length });
  }

  private refused(rows: OutboxRow[], error: DeliveryError): void {
    const { store, log } = this.options;
    if (rows.length > 1) {
      // Find the offending event: halve the batch until it is alone.
      this.limit = Math.max(1, Math.ceil(rows.length / 2));
      log.warn('API refused a batch as malformed; splitting it', { size: rows.length, status: error.status });
      return;
    }
    store.deadLetter(rows, error.status, error.message);
    log.error('API refused an event as malformed; moved to dead letters', {
      call_id: rows[0]!.event.call_id,
      event_id: rows[0]!.event.event_id,
      status: error.status,
      detail: error.message,
    });
    this.limit = this.options.batchSize;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
