import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IBackoff,
  type IBackoffFactory,
  type IHalfOpenAfterBackoffContext,
  isBrokenCircuitError,
  isTaskCancelledError,
  type RetryPolicy,
  retry,
  type TimeoutPolicy,
  TimeoutStrategy,
  timeout,
} from 'cockatiel';
import { Pool } from 'undici/index.js';
import type { Logger } from '../../api/shared/base/log.ts';
import { AriError, describeError, isAriError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { AriChannel, AriChannelList, AriErrorBody } from './schemas.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * How a request goes. `calls`: the work of placing and following calls (originate, hang-up,
 * reconciliation), through retry → breaker → timeout. `probe`: a readiness probe, one attempt
 * under its own short timeout, neither refused by the breaker nor counted by it: asking whether
 * ARI is up must not make callers be refused once it is, and the answer matters most while the
 * breaker is open.
 */
type Lane = 'calls' | 'probe';

/** What the last exchange with ARI showed, whichever lane it went through. */
export interface Reachability {
  /** null until ARI was first asked. */
  reachable: boolean | null;
  error: string | null;
  /** Date.now() of that exchange. */
  at: number | null;
}

export interface AriClientOptions {
  /** e.g. http://localhost:8088/ari */
  baseUrl: string;
  username: string;
  password: string;
  maxConnections: number;
  /** Connections kept open between requests; requests beyond it ask the server to close. */
  maxKeepalive: number;
  requestTimeoutMs: number;
  /** Timeout of a readiness probe: short, so a hanging ARI is reported within the caller's own deadline. */
  probeTimeoutMs: number;
  breakerFailures: number;
  breakerHalfOpenAfterMs: number;
  retryAttempts: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  metrics: Metrics;
  log: Logger;
}

export interface OriginateRequest {
  channelId: string;
  endpoint: string;
  timeoutS: number;
  callerId: string | null;
  target:
    | { style: 'dialplan'; context: string; extension: string; priority: number }
    | { style: 'stasis'; app: string; appArgs: string };
  variables: Record<string, string>;
}

interface Sent {
  status: number;
  body: unknown;
}

interface RequestSpec {
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

/**
 * ARI over HTTP: one undici Pool, basic auth, and three named cockatiel policies composed as
 * retry → breaker → timeout. Only answers that say something about ARI's health (network
 * errors, timeouts, 5xx other than "Allocation failed") count for the breaker; a 4xx is ARI
 * working as designed. Non-2xx answers come back as AriError values with `retryable`.
 * Maintenance requests (see Lane) take the timeout only.
 */
export class AriClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly authorization: string;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly retryPolicy: RetryPolicy;
  private readonly timeoutPolicy: TimeoutPolicy;
  private readonly probeTimeoutPolicy: TimeoutPolicy;
  private readonly probeTimeoutMs: number;
  private readonly options: AriClientOptions;
  private probing: Promise<void> | null = null;
  private lastContact: Reachability = { reachable: null, error: null, at: null };
  /** Counts the times ARI was seen answering while the breaker was open (see OpenUntilSeen). */
  private seenWhileOpen = 0;
  private inFlight = 0;
  private openedAt = 0;
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly breakerListeners: Array<(state: BreakerState) => void> = [];

  constructor(options: AriClientOptions) {
    this.options = options;
    const url = new URL(options.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(url.origin, {
      connections: options.maxConnections,
      keepAliveTimeout: 30_000,
      connectTimeout: options.requestTimeoutMs,
    });
    this.authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;

    this.breaker = circuitBreaker(
      handleWhen((error) => isAriError(error) && error.countsForBreaker),
      {
        halfOpenAfter: new OpenUntilSeen(options.breakerHalfOpenAfterMs, () => this.seenWhileOpen),
        breaker: new ConsecutiveBreaker(options.breakerFailures),
      },
    );
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
      options.log.warn('ARI circuit breaker opened', { after_failures: options.breakerFailures });
      this.scheduleProbe();
    });
    this.breaker.onHalfOpen(() => options.log.info('ARI circuit breaker half-open: probing'));
    this.breaker.onReset(() => options.log.info('ARI circuit breaker closed'));
    this.breaker.onStateChange(() => {
      const state = this.breakerState();
      options.metrics.breakerState.set(state === 'closed' ? 0 : state === 'half_open' ? 1 : 2);
      for (const listener of this.breakerListeners) listener(state);
    });
    options.metrics.breakerState.set(0);

    // Aggressive: the attempt is abandoned (and its request aborted) the moment time is up.
    this.timeoutPolicy = timeout(options.requestTimeoutMs, TimeoutStrategy.Aggressive);
    this.probeTimeoutMs = Math.min(options.probeTimeoutMs, options.requestTimeoutMs);
    this.probeTimeoutPolicy = timeout(this.probeTimeoutMs, TimeoutStrategy.Aggressive);
    this.retryPolicy = retry(
      handleWhen((error) => isAriError(error) && error.retryable),
      {
        maxAttempts: Math.max(0, options.retryAttempts - 1),
        backoff: new ExponentialBackoff({
          initialDelay: options.retryInitialDelayMs,
          maxDelay: options.retryMaxDelayMs,
        }),
      },
    );
    this.retryPolicy.onRetry((reason) => {
      const error = 'error' in reason ? describeError(reason.error) : 'result';
      options.log.debug('retrying ARI request', { error, delay_ms: Math.round(reason.delay) });
    });
  }

  breakerState(): BreakerState {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half_open';
      default:
        return 'open';
    }
  }

  /** Whole seconds until the breaker lets a probe through; null when it is not open. */
  retryAfterS(): number | null {
    if (this.breakerState() === 'closed') return null;
    const left = this.openedAt + this.options.breakerHalfOpenAfterMs - Date.now();
    return Math.max(1, Math.ceil(left / 1000));
  }

  onBreakerChange(listener: (state: BreakerState) => void): void {
    this.breakerListeners.push(listener);
  }

  /** What the last exchange with ARI showed. */
  reachability(): Reachability {
    return { ...this.lastContact };
  }

  /**
   * ARI was seen answering outside the breaker (the events socket connected, a probe succeeded). An open breaker then sends its test request now rather than
   * at the end of its delay: refusing callers for the rest of it would refuse them for nothing.
   * The breaker still closes only when its own test succeeds.
   */
  noteReachable(): void {
    if (this.closed || this.breakerState() !== 'open') return;
    this.seenWhileOpen += 1;
    this.scheduleProbe(0);
  }

  /**
   * POST /channels. Resolves with the `;1` snapshot; ARI's refusals reject with an AriError.
   * `beforeAttempt` runs before every attempt, retries included: each one is an originate that
   * the pacing window has to count.
   */
  async originate(request: OriginateRequest, beforeAttempt?: () => Promise<void>): Promise<AriChannel> {
    const query = new URLSearchParams({
      endpoint: request.endpoint,
      timeout: String(request.timeoutS),
      channelId: request.channelId,
    });
    if (request.callerId) query.set('callerId', request.callerId);
    if (request.target.style === 'dialplan') {
      query.set('context', request.target.context);
      query.set('extension', request.target.extension);
      query.set('priority', String(request.target.priority));
    } else {
      query.set('app', request.target.app);
      query.set('appArgs', request.target.appArgs);
    }
    const sent = await this.send({
      method: 'POST',
      path: `/channels?${query}`,
      route: '/channels',
      body: { variables: request.variables },
      ...(beforeAttempt ? { beforeAttempt } : {}),
    });
    const body = expectOk(sent, 'originate');
    const channel = AriChannel.safeParse(body);
    // ARI said yes: an odd body must not turn a created call into a failed one.
    return channel.success ? channel.data : { id: request.channelId, name: '', state: 'Down' };
  }

  /** GET /channels/{id}; null when the channel does not exist. */
  async getChannel(id: string): Promise<AriChannel | null> {
    const sent = await this.send({
      method: 'GET',
      path: `/channels/${encodeURIComponent(id)}`,
      route: '/channels/{channelId}',
    });
    if (sent.status === 404) return null;
    return AriChannel.parse(expectOk(sent, 'get channel'));
  }

  async listChannels(): Promise<AriChannel[]> {
    const sent = await this.send({ method: 'GET', path: '/channels', route: '/channels' });
    return AriChannelList.parse(expectOk(sent, 'list channels'));
  }

  /** DELETE /channels/{id}: 'gone' when ARI no longer has it (404). */
  async hangup(id: string): Promise<'hung_up' | 'gone'> {
    const sent = await this.send({
      method: 'DELETE',
      path: `/channels/${encodeURIComponent(id)}`,
      route: '/channels/{channelId}',
    });
    if (sent.status === 404) return 'gone';
    expectOk(sent, 'hangup');
    return 'hung_up';
  }

  /**
   * GET /asterisk/ping as a probe (see Lane): whether ARI answers now. Probes that overlap share
   * one request, so however often readiness is asked, ARI sees at most one ping at a time.
   */
  probe(): Promise<void> {
    this.probing ??= this.send({
      method: 'GET',
      path: '/asterisk/ping',
      route: '/asterisk/ping',
      lane: 'probe',
    })
      .then((sent) => {
        expectOk(sent, 'ping');
      })
      .finally(() => {
        this.probing = null;
      });
    return this.probing;
  }

  stats() {
    return this.pool.stats;
  }

  /** Records what an exchange showed: null for an answer, the error for a failure that says ARI is unwell. */
  private contact(failure: AriError | null): void {
    this.lastContact = { reachable: failure === null, error: failure?.message ?? null, at: Date.now() };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    await this.pool.close().catch(() => this.pool.destroy());
  }

  /**
   * Once open, send the breaker's test request by ourselves after the delay, so that it closes
   * without waiting for traffic. The test goes through the breaker: it is what closes it.
   */
  private scheduleProbe(delayMs = this.options.breakerHalfOpenAfterMs + 5): void {
    if (this.closed) return;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (this.closed || this.breakerState() === 'closed') return;
      // A failed test re-opens the breaker, whose onBreak schedules the next one.
      this.sendOnce({ method: 'GET', path: '/asterisk/ping', route: '/asterisk/ping' })
        .then((sent) => expectOk(sent, 'ping'))
        .catch(() => undefined);
    }, delayMs);
    this.probeTimer.unref?.();
  }

  private send(spec: RequestSpec): Promise<Sent> {
    if (spec.lane === 'probe') return this.attempt(spec, new AbortController().signal);
    return this.retryPolicy.execute(({ signal }) => this.sendOnce(spec, signal));
  }

  /** One attempt through the breaker (and the timeout). */
  private async sendOnce(spec: RequestSpec, signal?: AbortSignal): Promise<Sent> {
    try {
      return await this.breaker.execute(({ signal: inner }) => this.attempt(spec, signal ?? inner), signal);
    } catch (error) {
      if (isBrokenCircuitError(error)) {
        throw new AriError('ARI circuit breaker is open', {
          kind: 'breaker_open',
          retryable: false,
          countsForBreaker: false,
          retryAfterS: this.retryAfterS(),
          cause: error,
        });
      }
      throw error;
    }
  }

  private async attempt(spec: RequestSpec, outer: AbortSignal): Promise<Sent> {
    if (spec.beforeAttempt) await spec.beforeAttempt();
    const { metrics } = this.options;
    const stop = metrics.ariRequestDuration.startTimer({ method: spec.method, route: spec.route });
    const keepAlive = this.inFlight < this.options.maxKeepalive;
    this.inFlight += 1;
    const probe = spec.lane === 'probe';
    const timeoutPolicy = probe ? this.probeTimeoutPolicy : this.timeoutPolicy;
    const limitMs = probe ? this.probeTimeoutMs : this.options.requestTimeoutMs;
    try {
      const sent = await timeoutPolicy.execute(async ({ signal }) => {
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
      }, outer);
      metrics.ariRequests.inc({ method: spec.method, route: spec.route, status: String(sent.status) });
      if (sent.status >= 500 && !isAllocationFailed(sent)) {
        const error = new AriError(`ARI answered ${sent.status} to ${spec.method} ${spec.route}`, {
          kind: 'status',
          status: sent.status,
          ariMessage: ariMessage(sent.body),
          retryable: true,
          countsForBreaker: true,
        });
        this.contact(error);
        throw error;
      }
      this.contact(null);
      if (probe) this.noteReachable();
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
      const failure = new AriError(
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
      this.contact(failure);
      throw failure;
    } finally {
      this.inFlight -= 1;
      stop();
    }
  }
}

/**
 * The breaker's wait before its test request: the configured delay, or none once ARI has been
 * seen answering since the breaker opened (`seen()` moved on; see AriClient.noteReachable).
 */
class OpenUntilSeen implements IBackoffFactory<IHalfOpenAfterBackoffContext> {
  constructor(
    private readonly delayMs: number,
    private readonly seen: () => number,
  ) {}

  next(): IBackoff<IHalfOpenAfterBackoffContext> {
    const mark = this.seen();
    const { delayMs, seen } = this;
    return {
      get duration() {
        return seen() === mark ? delayMs : 0;
      },
      next: () => this.next(),
    };
  }
}

/**
 * The timeout policy's TaskCancelledError. cockatiel's own isTaskCancelledError tests for the
 * bulkhead's marker (3.2.1), so it never recognises one.
 */
function isTimeout(error: unknown): boolean {
  return (
    isTaskCancelledError(error) ||
    (typeof error === 'object' &&
      error !== null &&
      (error as { isTaskCancelledError?: unknown }).isTaskCancelledError === true)
  );
}

/** Errors that mean no connection to ARI was made, so nothing was sent. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function neverConnected(error: unknown): boolean {
  for (let e = error; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECT_FAILURES.has(code)) return true;
  }
  return false;
}

function parseBody(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function ariMessage(body: unknown): string | null {
  const parsed = AriErrorBody.safeParse(body);
  if (!parsed.success) return typeof body === 'string' ? body.slice(0, 200) : null;
  return parsed.data.message ?? parsed.data.error ?? null;
}

/** The recorded 500 for an unknown channel technology: a routing problem, not ARI's health. */
function isAllocationFailed(sent: Sent): boolean {
  return sent.status === 500 && ariMessage(sent.body) === 'Allocation failed';
}

/** 2xx → body; anything else → a non-retryable AriError carrying ARI's status and message. */
function expectOk(sent: Sent, what: string): unknown {
  if (sent.status >= 200 && sent.status < 300) return sent.body;
  const message = ariMessage(sent.body);
  throw new AriError(`ARI refused ${what}: ${sent.status}${message ? ` ${message}` : ''}`, {
    kind: 'status',
    status: sent.status,
    ariMessage: message,
    retryable: false,
    countsForBreaker: false,
  });
}

export function isAllocationFailedError(error: unknown): boolean {
  return isAriError(error) && error.status === 500 && error.ariMessage === 'Allocation failed';
}
