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
  type RetryPolicy,
  retry,
} from 'cockatiel';
import type { Logger } from '../../api/shared/base/log.ts';
import { AriError, describeError, isAriError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { expectOk, type Sent } from './answers.ts';
import { AriChannel, AriChannelList } from './schemas.ts';
import { AriTransport, type FileAnswer, type RequestSpec } from './transport.ts';

export { isAllocationFailedError } from './answers.ts';
export type { FileAnswer, Sent };

export type BreakerState = 'closed' | 'open' | 'half_open';

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

/**
 * ARI over HTTP: its REST operations, through three named cockatiel policies composed as
 * retry → breaker → timeout (the timeout and the exchange itself are in ./transport.ts). Only
 * answers that say something about ARI's health (network errors, timeouts, 5xx other than
 * "Allocation failed") count for the breaker; a 4xx is ARI working as designed. Non-2xx answers
 * come back as AriError values with `retryable`. Readiness probes (see Lane) take the timeout only.
 */
export class AriClient {
  private readonly transport: AriTransport;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly retryPolicy: RetryPolicy;
  private readonly options: AriClientOptions;
  private probing: Promise<void> | null = null;
  private lastContact: Reachability = { reachable: null, error: null, at: null };
  /** Counts the times ARI was seen answering while the breaker was open (see OpenUntilSeen). */
  private seenWhileOpen = 0;
  private openedAt = 0;
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly breakerListeners: Array<(state: BreakerState) => void> = [];

  constructor(options: AriClientOptions) {
    this.options = options;
    this.transport = new AriTransport(options);

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

  /** DELETE /channels/{id} (with a Q.850 `reason_code`): 'gone' when ARI no longer has it (404). */
  async hangup(id: string, reasonCode?: number): Promise<'hung_up' | 'gone'> {
    const query = reasonCode === undefined ? '' : `?reason_code=${reasonCode}`;
    const sent = await this.send({
      method: 'DELETE',
      path: `/channels/${encodeURIComponent(id)}${query}`,
      route: '/channels/{channelId}',
    });
    if (sent.status === 404) return 'gone';
    expectOk(sent, 'hangup');
    return 'hung_up';
  }

  /**
   * Any other operation (what a flow does after answer: play, record, continue…), through the same
   * policies; ARI's answer as it came, for the caller to read (see expectOk).
   */
  request(spec: Omit<RequestSpec, 'lane' | 'beforeAttempt'>): Promise<Sent> {
    return this.send(spec);
  }

  /**
   * GET of a file (a stored recording's audio): its status, type and body as a stream, so the
   * audio passes through without being held. Outside the retry and breaker: a download is asked
   * for by a person, who asks again.
   */
  openFile(path: string, route: string): Promise<FileAnswer> {
    return this.transport.openFile(path, route);
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

  /** Records what an exchange showed: null for an answer, the error for a failure that says ARI is unwell. */
  private contact(failure: AriError | null): void {
    this.lastContact = { reachable: failure === null, error: failure?.message ?? null, at: Date.now() };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    await this.transport.close();
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

  /** One attempt under the timeout; what it shows of ARI is recorded (see reachability). */
  private async attempt(spec: RequestSpec, outer: AbortSignal): Promise<Sent> {
    if (spec.beforeAttempt) await spec.beforeAttempt();
    let sent: Sent;
    try {
      sent = await this.transport.exchange(spec, outer);
    } catch (error) {
      // Every failure of the exchange says ARI is unwell (a refusal is an answer, not a failure).
      if (isAriError(error)) this.contact(error);
      throw error;
    }
    this.contact(null);
    if (spec.lane === 'probe') this.noteReachable();
    return sent;
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
