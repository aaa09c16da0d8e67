import { Readable } from 'node:stream';
import { type TimeoutPolicy, TimeoutStrategy, timeout } from 'cockatiel';
import { Pool } from 'undici/index.js';
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
 * One HTTP exchange with ARI: an undici Pool with basic auth, the lane's timeout (aggressive: the
 * attempt is abandoned and its request aborted the moment time is up), request metrics, and the
 * failures that say something about ARI's health (network errors, timeouts, 5xx other than
 * "Allocation failed") turned into AriError values. Retries and the breaker are the caller's.
 */
export class AriTransport {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly authorization: string;
  private readonly timeoutPolicy: TimeoutPolicy;
  private readonly probeTimeoutPolicy: TimeoutPolicy;
  private readonly probeTimeoutMs: number;
  private inFlight = 0;

  constructor(private readonly options: TransportOptions) {
    const url = new URL(options.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(url.origin, {
      connections: options.maxConnections,
      keepAliveTimeout: 30_000,
      connectTimeout: options.requestTimeoutMs,
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
    // undici cannot cap idle sockets by count; a request beyond the keep-alive budget asks
    // for its socket to be closed afterwards, which bounds the idle ones to maxKeepalive.
    if (!keepAlive) headers.connection = 'close';
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = JSON.stringify(spec.body);
      headers['content-type'] = 'application/json';
    }
    const response = await this.pool.request({
      method: spec.method,
      path: `${this.basePath}${spec.path}`,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal,
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: parseBody(text) };
  }

  /** See AriClient.openFile: the request timeout covers the answer's head, not the whole body. */
  async openFile(path: string, route: string): Promise<FileAnswer> {
    const { metrics, requestTimeoutMs } = this.options;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), requestTimeoutMs);
    try {
      const response = await this.pool.request({
        method: 'GET',
        path: `${this.basePath}${path}`,
        headers: { authorization: this.authorization },
        signal: controller.signal,
      });
      clearTimeout(timer);
      metrics.ariRequests.inc({ method: 'GET', route, status: String(response.statusCode) });
      const header = response.headers['content-type'];
      const contentType = (Array.isArray(header) ? header[0] : header) ?? 'application/octet-stream';
      if (response.statusCode !== 200) {
        return {
          status: response.statusCode,
          contentType,
          body: null,
          error: parseBody(await response.body.text()),
        };
      }
      return {
        status: 200,
        contentType,
        body: Readable.toWeb(response.body) as unknown as ReadableStream<Uint8Array>,
        error: null,
      };
    } catch (error) {
      clearTimeout(timer);
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
  }

  stats() {
    return this.pool.stats;
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => this.pool.destroy());
  }
}
