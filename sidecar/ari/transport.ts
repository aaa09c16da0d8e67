import { type TimeoutPolicy, TimeoutStrategy, timeout } from 'cockatiel';
import { AriError, describeError, isAriError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import {
  ariMessage,
  isAllocationFailed,
  isTimeout,
  neverConnected,
  parseBody,
  type Sent,
} from './answers.ts';

/**
 * How a request goes. `calls`: the work of placing and following calls (originate, hang-up,
 * reconciliation), through retry → breaker → timeout. `probe`: a readiness probe, one attempt
 * under its own short timeout, neither refused by the breaker nor counted by it: asking whether
 * ARI is up must not make callers be refused once it is, and the answer matters most while the
 * breaker is open.
 */
export type Lane = 'calls' | 'probe';

export interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below the ARI base, with query. */
  path: string;
  /** Route template for metrics (never the raw path: ids would explode the label set). */
  route: string;
  body?: unknown;
  /** Runs before each attempt (pacing of originates). */
  beforeAttempt?: () => Promise<void>;
  /** Default `calls`. */
  lane?: Lane;
}

/** A file from ARI: the body streams on a 200; otherwise ARI's error answer. */
export interface FileAnswer {
  status: number;
  contentType: string;
  body: ReadableStream<Uint8Array> | null;
  error: unknown;
}

export interface TransportOptions {
  /** e.g. http://localhost:8088/ari */
  baseUrl: string;
  username: string;
  password: string;
  maxConnections: number;
  /** Connections kept open between requests; requests beyond it ask the server to close. */
  maxKeepalive: number;
  requestTimeoutMs: number;
  probeTimeoutMs: number;
  metrics: Metrics;
}

/**
 * At most `size` holders at once; the others wait their turn in order. A waiter whose signal aborts
 * leaves the line (and rejects with the signal's reason), so a request that timed out waiting never
 * takes a connection afterwards.
 */
class Slots {
  private free: number;
  private readonly waiting: Array<{ grant: () => void }> = [];
  private readonly drained: Array<() => void> = [];

  constructor(private readonly size: number) {
    this.free = size;
  }

  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) {
      next.grant();
      return;
    }
    this.free += 1;
    if (this.free === this.size) for (const resolve of this.drained.splice(0)) resolve();
  }

  /** Resolves once nothing holds a slot and nobody waits for one. */
  idle(): Promise<void> {
    if (this.free === this.size) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }
}

/**
 * One HTTP exchange with ARI: the runtime's fetch, at most `maxConnections` requests at once (the
 * others wait their turn, as in a connection pool: HTTP/1.1 carries one request per connection),
 * basic auth, the lane's timeout (aggressive: the attempt is abandoned and its request aborted the
 * moment time is up, its wait for a connection included), request metrics, and the failures that
 * say something about ARI's health (network errors, timeouts, 5xx other than "Allocation failed")
 * turned into AriError values. Retries and the breaker are the caller's.
 *
 * The connections are a Bun.FetchSession of the transport's own, as they were an undici Pool's:
 * never shared with the sidecar's other requests (to the API), never through a proxy named by
 * HTTP_PROXY and the like (ARI is beside the sidecar), idle ones closed after 30 s and at most
 * maxKeepalive of them kept. Requests beyond the keep-alive budget still ask for their connection
 * to be closed, as before. The Pool is gone because undici (its HTTP parser is WebAssembly,
 * instantiated on the first connection) took 7 MiB of the idle sidecar's 68 (test/bench/README.md,
 * "sidecar memory").
 */
export class AriTransport {
  private readonly origin: string;
  private readonly basePath: string;
  private readonly authorization: string;
  private readonly slots: Slots;
  private readonly session: Bun.FetchSession;
  private readonly timeoutPolicy: TimeoutPolicy;
  private readonly probeTimeoutPolicy: TimeoutPolicy;
  private readonly probeTimeoutMs: number;
  private inFlight = 0;
  private closed = false;

  constructor(private readonly options: TransportOptions) {
    const url = new URL(options.baseUrl);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.slots = new Slots(Math.max(1, options.maxConnections));
    this.session = new Bun.FetchSession({
      proxy: false,
      keepAlive: { idleTimeout: 30, maxIdleSockets: Math.max(0, options.maxKeepalive) },
    });
    this.authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
    this.timeoutPolicy = timeout(options.requestTimeoutMs, TimeoutStrategy.Aggressive);
    this.probeTimeoutMs = Math.min(options.probeTimeoutMs, options.requestTimeoutMs);
    this.probeTimeoutPolicy = timeout(this.probeTimeoutMs, TimeoutStrategy.Aggressive);
  }

  /** Sends `spec` once; resolves with any answer but a 5xx that counts against ARI's health. */
  async exchange(spec: RequestSpec, outer: AbortSignal): Promise<Sent> {
    const { metrics } = this.options;
    const stop = metrics.ariRequestDuration.startTimer({ method: spec.method, route: spec.route });
    const keepAlive = this.inFlight < this.options.maxKeepalive;
    this.inFlight += 1;
    const probe = spec.lane === 'probe';
    const timeoutPolicy = probe ? this.probeTimeoutPolicy : this.timeoutPolicy;
    const limitMs = probe ? this.probeTimeoutMs : this.options.requestTimeoutMs;
    try {
      const sent = await timeoutPolicy.execute(({ signal }) => this.request(spec, keepAlive, signal), outer);
      metrics.ariRequests.inc({ method: spec.method, route: spec.route, status: String(sent.status) });
      if (sent.status >= 500 && !isAllocationFailed(sent)) {
        throw new AriError(`ARI answered ${sent.status} to ${spec.method} ${spec.route}`, {
          kind: 'status',
          status: sent.status,
          ariMessage: ariMessage(sent.body),
          retryable: true,
          countsForBreaker: true,
        });
      }
      return sent;
    } catch (error) {
      if (isAriError(error)) throw error;
      const timedOut = isTimeout(error);
      metrics.ariRequests.inc({
        method: spec.method,
        route: spec.route,
        status: timedOut ? 'timeout' : 'error',
      });
      // A POST that may have reached ARI is never sent again: ARI may have carried it out, and
      // a second originate would ring the callee twice once the first channel is gone.
      const outcomeUnknown = spec.method === 'POST' && (timedOut || !neverConnected(error));
      throw new AriError(
        timedOut
          ? `ARI did not answer ${spec.method} ${spec.route} within ${limitMs} ms`
          : `ARI unreachable (${spec.method} ${spec.route}): ${describeError(error)}`,
        {
          kind: timedOut ? 'timeout' : 'network',
          retryable: !outcomeUnknown,
          countsForBreaker: true,
          outcomeUnknown,
          cause: error,
        },
      );
    } finally {
      this.inFlight -= 1;
      stop();
    }
  }

  private async request(spec: RequestSpec, keepAlive: boolean, signal: AbortSignal): Promise<Sent> {
    const headers: Record<string, string> = {
      authorization: this.authorization,
      accept: 'application/json',
    };
    // A request beyond the keep-alive budget asks for its connection to be closed afterwards,
    // which bounds the idle ones to maxKeepalive.
    if (!keepAlive) headers.connection = 'close';
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = JSON.stringify(spec.body);
      headers['content-type'] = 'application/json';
    }
    const response = await this.fetch(`${this.basePath}${spec.path}`, spec.method, headers, body, signal);
    try {
      const text = await response.text();
      return { status: response.status, body: parseBody(text) };
    } finally {
      this.slots.release();
    }
  }

  /**
   * fetch once a slot is free; the slot is the caller's to release once the body is read. Never
   * follows a redirect (ARI sends none; its answer is returned as it came).
   */
  private async fetch(
    path: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    // As a closed pool did: refused, without a connection made.
    if (this.closed) throw new Error('the ARI client is closed');
    await this.slots.acquire(signal);
    try {
      return await this.session.fetch(`${this.origin}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal,
        redirect: 'manual',
      });
    } catch (error) {
      this.slots.release();
      throw error;
    }
  }

  /** See AriClient.openFile: the request timeout covers the answer's head, not the whole body. */
  async openFile(path: string, route: string): Promise<FileAnswer> {
    const { metrics, requestTimeoutMs } = this.options;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), requestTimeoutMs);
    let response: Response;
    try {
      response = await this.fetch(
        `${this.basePath}${path}`,
        'GET',
        { authorization: this.authorization },
        undefined,
        controller.signal,
      );
    } catch (error) {
      metrics.ariRequests.inc({ method: 'GET', route, status: 'error' });
      throw new AriError(`ARI unreachable (GET ${route}): ${describeError(error)}`, {
        kind: controller.signal.aborted ? 'timeout' : 'network',
        retryable: false,
        countsForBreaker: false,
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
    metrics.ariRequests.inc({ method: 'GET', route, status: String(response.status) });
    const contentType = response.headers.get('content-type') ?? 'application/octet-stream';
    if (response.status !== 200 || response.body === null) {
      let error: unknown = null;
      try {
        error = parseBody(await response.text());
      } finally {
        this.slots.release();
      }
      return { status: response.status, contentType, body: null, error };
    }
    return { status: 200, contentType, body: this.holdingSlot(response.body), error: null };
  }

  /** `body` as it streams, its slot released once it is read to the end, fails or is cancelled. */
  private holdingSlot(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.slots.release();
    };
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            release();
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (error) {
          release();
          controller.error(error);
        }
      },
      async cancel(reason) {
        release();
        await reader.cancel(reason);
      },
    });
  }

  /**
   * Refuses new requests, waits for those under way to finish and closes the idle connections (as
   * undici's pool.close did).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.slots.idle();
    this.session.close();
  }
}
