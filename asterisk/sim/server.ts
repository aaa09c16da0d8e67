/**
 * An ARI simulator that behaves like the Asterisk 22 recorded in shared/ari-traces: the REST
 * resources Outdial uses, the events websocket, and faults (restart, dropped sockets, failing or
 * hanging HTTP) for tests. See asterisk/sim/README.md for how to run it and what it covers.
 *
 * This file composes the pieces: authentication (http/auth.ts), the REST router (http/router.ts
 * and one module per resource), the events socket (http/events-socket.ts), the /_sim/ control and
 * HTTP faults (http/control.ts), and the listener's life (restart, stop) below.
 */
import type { Server } from 'bun';
import { Engine, type EventsBeforeReply } from './engine.ts';
import { basicAuth, unauthorized } from './http/auth.ts';
import { control, HttpFaults } from './http/control.ts';
import { EventSockets, type WsData } from './http/events-socket.ts';
import { Lifecycle } from './http/lifecycle.ts';
import { json } from './http/respond.ts';
import { type AriContext, route } from './http/router.ts';

export interface SimOptions {
  /** 0 picks a free port. */
  port?: number;
  hostname?: string;
  username?: string;
  password?: string;
  /** Multiplies every dialplan wait and the originate timeout: 0.05 runs 20x faster. */
  timeScale?: number;
  asteriskVersion?: string;
  log?: (line: string) => void;
  /**
   * Whether events of an originate or DELETE reach the websocket before its HTTP reply.
   * 'sometimes' (default) follows the recorded frequencies with a seeded generator.
   */
  eventsBeforeReply?: EventsBeforeReply;
  /** Seed of the 'sometimes' generator; the same seed and requests give the same orders. */
  seed?: number;
  /** Sees every event written to a socket and every HTTP request as it arrives (benchmarks). */
  tap?: SimTap;
}

/** Observers of the simulator's traffic; `at` is performance.now() of this process. */
export interface SimTap {
  /** An event written to an events socket. */
  sent?(data: string, at: number): void;
  /** An HTTP request as it arrives, before faults, authentication and routing. */
  request?(method: string, path: string, at: number): void;
}

export type HttpFault =
  | null
  | { kind: 'status'; status: number; body?: unknown; count?: number; paths?: RegExp }
  | { kind: 'hang'; count?: number; paths?: RegExp };

export interface OriginateRecord {
  /** performance.now() when the request arrived. */
  at: number;
  /** The channelId the client asked for (query, body or path), null when Asterisk picks one. */
  channelId: string | null;
  endpoint: string;
  status: number;
}

export interface RestartOptions {
  /** How long the port refuses connections; default 1000 ms × timeScale (`core restart now`). */
  downMs?: number;
  /**
   * Recording 70: with live calls and a subscribeAll app connected, Asterisk first waits for
   * channels (15 s + 1 s), delivering nothing, then sends their hangups and drops the sockets.
   */
  withLiveCallDelayMs?: number;
}

export interface SimHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
  restart(opts?: RestartOptions): Promise<void>;
  dropWebSockets(): void;
  setHttpFault(fault: HttpFault): void;
  originates: OriginateRecord[];
  liveChannels(): number;
  stats(): { originates: number; events: number; sockets: number };
}

/** The path after /ari, split and decoded (a segment that does not decode stays as it is). */
const ariSegments = (path: string): string[] =>
  path
    .slice('/ari'.length)
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });

/** Starts a simulator; resolves once it listens. */
export const startAriSimulator = async (options: SimOptions = {}): Promise<SimHandle> => {
  const hostname = options.hostname ?? '127.0.0.1';
  const timeScale = options.timeScale ?? 1;
  if (!Number.isFinite(timeScale) || timeScale < 0)
    throw new Error(`timeScale must be >= 0, got ${timeScale}`);
  const log = options.log ?? (() => {});
  const engine = new Engine({
    timeScale,
    asteriskVersion: options.asteriskVersion ?? '22.10.1',
    eventsBeforeReply: options.eventsBeforeReply ?? 'sometimes',
    seed: options.seed ?? 1,
    log,
  });
  const authorized = basicAuth(options.username ?? 'ariuser', options.password ?? 'aripass');
  const sockets = new EventSockets(engine, options.tap?.sent);
  const onRequest = options.tap?.request;
  const faults = new HttpFaults();
  const ctx: AriContext = { engine, originates: [] };

  const fetchHandler = async (req: Request, server: Server<WsData>): Promise<Response | undefined> => {
    if (life.holding) return faults.hang();
    const url = new URL(req.url);
    const path = url.pathname;
    onRequest?.(req.method, path, performance.now());
    if (path.startsWith('/_sim/')) return authorized(req, url) ? control(req, url, handle) : unauthorized();
    if (path !== '/ari' && !path.startsWith('/ari/')) return new Response('Not Found', { status: 404 });
    const f = faults.take(req.method, path);
    if (f?.kind === 'hang') return faults.hang();
    if (f?.kind === 'status') return json(f.status, f.body ?? { message: `Simulated HTTP ${f.status}` });
    if (!authorized(req, url)) return unauthorized();
    const segs = ariSegments(path);
    if (segs.length === 1 && segs[0] === 'events') return sockets.upgrade(req, url, server);
    return route(ctx, req, url, segs);
  };

  const listen = (port: number): Server<WsData> =>
    Bun.serve<WsData>({
      port,
      hostname,
      // A 'hang' fault must really hang, and event sockets may sit idle for as long as a call lasts.
      idleTimeout: 0,
      fetch: fetchHandler,
      websocket: sockets.handler,
    });
  const life = new Lifecycle(engine, sockets, faults, listen, timeScale, log, options.port ?? 0);
  const url = `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${life.port}`;

  const handle: SimHandle = {
    url,
    port: life.port,
    originates: ctx.originates,
    stop: () => life.stop(),
    restart: (opts: RestartOptions = {}) => life.restart(opts),
    dropWebSockets: () => sockets.terminateAll(),
    setHttpFault: (f: HttpFault) => faults.set(f),
    liveChannels: () => engine.liveChannelCount,
    stats: () => ({ originates: ctx.originates.length, events: engine.eventsSent, sockets: sockets.size }),
  };
  log(JSON.stringify({ sim: 'listening', url, timeScale }));
  return handle;
};
