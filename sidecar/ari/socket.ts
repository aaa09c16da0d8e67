import type { WebSocket, WebSocketOptions } from 'bun';
import { ExponentialBackoff, type IBackoff } from 'cockatiel';
import type { Logger } from '../../api/shared/base/log.ts';
import { describeError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { AriEvent } from './schemas.ts';

/**
 * The ARI events WebSocket as an explicit state machine:
 *
 *   idle ─start()→ connecting ─open→ open ─close/1006/timeout→ backoff ─timer→ connecting …
 *   any ─close()→ closed (no more reconnects)
 *
 * Reconnects back off exponentially with jitter; the attempt counter resets only after the
 * socket stayed up for a minimum time, so a server that accepts and drops at once is not
 * hammered. A socket that goes silent is pinged; no pong in time means it is half-open, and it
 * is torn down like an abnormal close.
 *
 * The runtime's own WebSocket client (with Bun's headers, ping, pong and terminate), which the `ws`
 * package Bun provides is a wrapper around; the wrapper cost 0.4 MiB of idle memory
 * (test/bench/README.md, "sidecar memory").
 */
export type SocketState =
  | { kind: 'idle' }
  | { kind: 'connecting'; attempt: number; since: number }
  | { kind: 'open'; since: number }
  | { kind: 'backoff'; attempt: number; until: number }
  | { kind: 'closed' };

export interface EventSocketOptions {
  /** ws(s)://…/ari/events?app=…&subscribeAll=true (no credentials in it). */
  url: string;
  headers: Record<string, string>;
  connectTimeoutMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  minUptimeMs: number;
  idlePingMs: number;
  pongTimeoutMs: number;
  onEvent: (event: AriEvent, receivedAt: number) => void;
  onOpen: () => void;
  onDown?: (info: { code: number; reason: string }) => void;
  metrics: Metrics;
  log: Logger;
}

/** The runtime's WebSocket with Bun's options and methods (the DOM's typing of it has neither). */
const BunWebSocket = globalThis.WebSocket as unknown as new (
  url: string,
  options?: WebSocketOptions,
) => WebSocket;

export function eventsUrl(ariHttpUrl: string, app: string): string {
  const url = new URL(`${ariHttpUrl.replace(/\/+$/, '')}/events`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('app', app);
  url.searchParams.set('subscribeAll', 'true');
  return url.toString();
}

export class AriEventSocket {
  private current: SocketState = { kind: 'idle' };
  private ws: WebSocket | null = null;
  private attempt = 0;
  private backoff: IBackoff<unknown> | null = null;
  private readonly backoffFactory: ExponentialBackoff<unknown>;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly options: EventSocketOptions;

  constructor(options: EventSocketOptions) {
    this.options = options;
    this.backoffFactory = new ExponentialBackoff({
      initialDelay: options.initialDelayMs,
      maxDelay: options.maxDelayMs,
    });
  }

  get state(): SocketState {
    return this.current;
  }

  isOpen(): boolean {
    return this.current.kind === 'open';
  }

  start(): void {
    if (this.current.kind !== 'idle') return;
    this.connect();
  }

  /** Stops for good: no reconnect after this. */
  close(): void {
    if (this.current.kind === 'closed') return;
    this.transition({ kind: 'closed' });
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try {
        ws.close(1000, 'sidecar stopping');
      } catch {
        ws.terminate();
      }
    }
  }

  /** Drops the connection as if the network had (tests, and a socket found dead). */
  terminate(): void {
    this.ws?.terminate();
  }

  private transition(next: SocketState): void {
    const wasOpen = this.current.kind === 'open';
    this.current = next;
    this.options.metrics.wsConnected.set(next.kind === 'open' ? 1 : 0);
    if (wasOpen && next.kind !== 'open') this.stopLiveness();
  }

  private later(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.stopLiveness();
  }

  private connect(): void {
    const attempt = this.attempt;
    this.transition({ kind: 'connecting', attempt, since: Date.now() });
    const ws = new BunWebSocket(this.options.url, { headers: this.options.headers });
    this.ws = ws;
    const connectTimer = this.later(this.options.connectTimeoutMs, () => {
      if (this.ws === ws && this.current.kind === 'connecting') {
        this.options.log.warn('ARI events socket: connect timed out', {
          timeout_ms: this.options.connectTimeoutMs,
        });
        ws.terminate();
      }
    });

    ws.addEventListener('open', () => {
      if (this.ws !== ws || this.current.kind !== 'connecting') return;
      clearTimeout(connectTimer);
      this.timers.delete(connectTimer);
      this.transition({ kind: 'open', since: Date.now() });
      this.options.log.info('ARI events socket open', { attempt });
      this.later(this.options.minUptimeMs, () => {
        if (this.ws === ws && this.current.kind === 'open') {
          this.attempt = 0;
          this.backoff = null;
        }
      });
      this.armIdle(ws);
      this.options.onOpen();
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      this.armIdle(ws);
      this.handleMessage(event.data);
    });
    ws.addEventListener('pong', () => {
      if (this.ws === ws) this.armIdle(ws);
    });
    ws.addEventListener('error', (event) => {
      if (this.ws !== ws) return;
      const error =
        (event as ErrorEvent).error ?? new Error((event as ErrorEvent).message ?? 'WebSocket error');
      this.options.log.warn('ARI events socket error', { error: describeError(error) });
    });
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return;
      clearTimeout(connectTimer);
      this.timers.delete(connectTimer);
      this.ws = null;
      if (this.current.kind === 'closed') return;
      const { code } = event;
      const text = event.reason ?? '';
      const wasOpen = this.current.kind === 'open';
      // 1006: no close frame at all. Asterisk closes this way on restart, stop and crash alike.
      this.options.log.warn(wasOpen ? 'ARI events socket closed' : 'ARI events socket could not connect', {
        code,
        reason: text,
        abnormal: code === 1006,
      });
      if (wasOpen) this.options.onDown?.({ code, reason: text });
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    this.attempt += 1;
    this.backoff = this.backoff ? this.backoff.next(undefined) : this.backoffFactory.next();
    const delay = Math.round(this.backoff.duration);
    this.transition({ kind: 'backoff', attempt: this.attempt, until: Date.now() + delay });
    this.options.metrics.wsReconnects.inc();
    this.later(delay, () => {
      if (this.current.kind === 'backoff') this.connect();
    });
  }

  private handleMessage(data: unknown): void {
    const receivedAt = Date.now();
    let json: unknown;
    try {
      json = JSON.parse(String(data));
    } catch {
      this.options.log.warn('ARI events socket: message is not JSON');
      return;
    }
    const parsed = AriEvent.safeParse(json);
    if (!parsed.success) {
      const type = (json as { type?: unknown })?.type;
      this.options.log.warn('ARI event does not match its schema; ignored', {
        type: typeof type === 'string' ? type : null,
        issues: parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.')}: ${issue.message}`),
      });
      return;
    }
    try {
      this.options.onEvent(parsed.data, receivedAt);
    } catch (error) {
      // A failing handler must not take the socket (or the process) down with it.
      this.options.log.error('ARI event handler failed', {
        type: parsed.data.type,
        error: describeError(error),
      });
    }
  }

  /** Silence for idlePingMs → ping; no pong within pongTimeoutMs → the socket is dead. */
  private armIdle(ws: WebSocket): void {
    if (this.pongTimer) {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.ws !== ws || this.current.kind !== 'open') return;
      try {
        ws.ping();
      } catch {
        // a failing ping is as good as a missing pong
      }
      this.pongTimer = setTimeout(() => {
        this.pongTimer = null;
        if (this.ws !== ws || this.current.kind !== 'open') return;
        this.options.log.warn('ARI events socket: no pong; treating it as half-open', {
          timeout_ms: this.options.pongTimeoutMs,
        });
        ws.terminate();
      }, this.options.pongTimeoutMs);
    }, this.options.idlePingMs);
  }

  private stopLiveness(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.idleTimer = null;
    this.pongTimer = null;
  }
}
