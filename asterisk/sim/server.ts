/**
 * An ARI simulator that behaves like the Asterisk 22 recorded in shared/ari-traces: the REST
 * resources Outdial uses, the events websocket, and faults (restart, dropped sockets, failing or
 * hanging HTTP) for tests. See asterisk/sim/README.md for how to run it and what it covers.
 */
import type { Server, ServerWebSocket } from 'bun';
import { Engine, type EventsBeforeReply, type Reply, type Sink } from './engine.ts';
import { HANGUP_REASONS } from './model.ts';
import { type ArgError, parseOriginateArgs, planOriginate } from './originate.ts';

export type { EventsBeforeReply } from './engine.ts';

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

interface WsData {
  id: number;
  apps: string[];
  subscribeAll: boolean;
}

const JSON_TYPE = { 'Content-Type': 'application/json' };

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { ...JSON_TYPE, ...headers } });

const reply = (r: Reply): Response =>
  r.status === 204 || r.body === undefined
    ? new Response(null, { status: r.status, headers: r.headers })
    : json(r.status, r.body, r.headers);

const message = (status: number, text: string): Response => json(status, { message: text });

const UNAUTHORIZED_HEADERS = { 'WWW-Authenticate': 'Basic realm="Asterisk REST Interface"' };

const MISSING_APP_HTML =
  '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n' +
  '</head><body>\r\n<h1>Bad Request</h1>\r\n<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n' +
  '<address>Asterisk</address>\r\n</body></html>\r\n';

const HELLO_WORLD = { id: 'hello-world', formats: [{ language: 'en', format: 'gsm' }] };

const API_DOCS = [
  ['asterisk', 'Asterisk resources'],
  ['endpoints', 'Endpoint resources'],
  ['channels', 'Channel resources'],
  ['bridges', 'Bridge resources'],
  ['recordings', 'Recording resources'],
  ['sounds', 'Sound resources'],
  ['playbacks', 'Playback control resources'],
  ['deviceStates', 'Device state resources'],
  ['mailboxes', 'Mailboxes resources'],
  ['events', 'WebSocket resource'],
  ['applications', 'Stasis application resources'],
] as const;

const truthy = (v: string | null): boolean => v !== null && /^(1|true|yes|on|y|t)$/i.test(v);

const isArgError = (v: unknown): v is ArgError =>
  typeof v === 'object' && v !== null && 'status' in v && 'body' in v && !('tech' in v);

/** Starts a simulator; resolves once it listens. */
export const startAriSimulator = async (options: SimOptions = {}): Promise<SimHandle> => {
  const hostname = options.hostname ?? '127.0.0.1';
  const username = options.username ?? 'ariuser';
  const password = options.password ?? 'aripass';
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

  const sockets = new Set<ServerWebSocket<WsData>>();
  const sinks = new Map<number, Sink>();
  const originates: OriginateRecord[] = [];
  let nextSocketId = 1;
  let fault: HttpFault = null;
  /** Requests that must not be answered (a 'hang' fault, or Asterisk busy shutting down). */
  const hung = new Set<() => void>();
  let holding = false;
  let restarting: Promise<void> | null = null;
  let stopped = false;

  const hang = (): Promise<Response> =>
    new Promise<Response>((resolve) => {
      const release = () => resolve(new Response(null, { status: 503 }));
      hung.add(release);
    });
  const releaseHung = () => {
    for (const release of hung) release();
    hung.clear();
  };

  const authorized = (req: Request, url: URL): boolean => {
    const check = (pair: string): boolean => {
      const colon = pair.indexOf(':');
      return colon >= 0 && pair.slice(0, colon) === username && pair.slice(colon + 1) === password;
    };
    const header = req.headers.get('authorization');
    // Like res_ari: a Basic header wins over ?api_key, even when it is wrong.
    if (header !== null) {
      const m = /^basic\s+(.+)$/i.exec(header.trim());
      if (!m) return false;
      try {
        return check(atob(m[1] as string));
      } catch {
        return false;
      }
    }
    for (const [name, value] of url.searchParams) {
      if (name.toLowerCase() === 'api_key') return check(value);
    }
    return false;
  };

  const takeFault = (method: string, path: string): HttpFault => {
    if (!fault) return null;
    const f = fault;
    if (f.paths && !f.paths.test(path) && !f.paths.test(`${method} ${path}`)) return null;
    if (f.count !== undefined) {
      f.count--;
      if (f.count <= 0) fault = null;
    }
    return f;
  };

  const readBody = async (req: Request, query: URLSearchParams): Promise<{ value?: unknown } | Response> => {
    const text = await req.text();
    const type = req.headers.get('content-type') ?? '';
    if (/^application\/x-www-form-urlencoded/i.test(type)) {
      for (const [k, v] of new URLSearchParams(text)) query.append(k, v);
      return {};
    }
    if (text.trim() === '') return {};
    try {
      return { value: JSON.parse(text) as unknown };
    } catch {
      return message(400, 'Error parsing request body');
    }
  };

  const originate = async (query: URLSearchParams, body: { value?: unknown }, pathId?: string) => {
    const args = parseOriginateArgs(
      query,
      body.value === undefined ? { kind: 'none' } : { kind: 'json', value: body.value },
      pathId,
    );
    const record: OriginateRecord = {
      at: performance.now(),
      channelId: isArgError(args) ? (pathId ?? query.get('channelId')) : (args.channelId ?? null),
      endpoint: isArgError(args) ? (query.get('endpoint') ?? '') : (args.endpoint ?? ''),
      status: 0,
    };
    originates.push(record);
    if (isArgError(args)) {
      record.status = args.status;
      return json(args.status, args.body);
    }
    const plan = planOriginate(args);
    if (isArgError(plan)) {
      record.status = plan.status;
      return json(plan.status, plan.body);
    }
    const gated = engine.gated(() => engine.originate(plan), Engine.originatePrefix);
    record.status = gated.value.status;
    if (gated.sentBeforeReply > 0) await Bun.sleep(2);
    const res = json(gated.value.status, gated.value.body);
    gated.afterReply();
    return res;
  };

  const hangup = async (id: string, query: URLSearchParams) => {
    if (engine.channel(id) === undefined) return message(404, 'Channel not found');
    const reason = query.get('reason') ?? '';
    const reasonCode = query.get('reason_code') ?? '';
    let cause = 16;
    if (reason !== '' && reasonCode !== '')
      return message(400, "The reason and reason_code can't both be specified");
    if (reasonCode !== '') {
      const m = /^\s*([+-]?\d+)/.exec(reasonCode);
      if (!m) return message(400, 'Invalid reason for hangup reason code provided');
      cause = Number.parseInt(m[1] as string, 10);
    } else if (reason !== '') {
      const code = HANGUP_REASONS[reason];
      if (code === undefined) return message(400, 'Invalid reason for hangup reason provided');
      cause = code;
    }
    const gated = engine.gated(() => engine.hangup(id, cause), Engine.hangupPrefix);
    if (gated.sentBeforeReply > 0) await Bun.sleep(2);
    const res = reply(gated.value);
    gated.afterReply();
    return res;
  };

  /** The ARI resources; `null` means the path exists but not for this method. */
  const route = async (req: Request, url: URL, segs: string[]): Promise<Response | null> => {
    const method = req.method;
    const query = new URLSearchParams(url.search);
    const body = await readBody(req, query);
    if (body instanceof Response) return body;
    const [resource, a, b, c] = segs;
    const n = segs.length;
    switch (resource) {
      case 'asterisk':
        if (n === 2 && a === 'info') return method === 'GET' ? json(200, engine.info()) : null;
        if (n === 2 && a === 'ping') return method === 'GET' ? json(200, engine.ping()) : null;
        break;
      case 'applications':
        if (n === 1) return method === 'GET' ? json(200, engine.applications()) : null;
        if (n === 2 && a !== undefined) {
          if (method !== 'GET') return null;
          const app = engine.application(a);
          return app === undefined ? message(404, 'Application not found') : json(200, app);
        }
        break;
      case 'channels':
        if (n === 1) {
          if (method === 'GET') return json(200, engine.channelList());
          if (method === 'POST') return originate(query, body);
          return null;
        }
        if (a === undefined) break;
        if (n === 2) {
          if (method === 'GET') {
            const ch = engine.channel(a);
            return ch ? json(200, ch) : message(404, 'Channel not found');
          }
          if (method === 'POST') return originate(query, body, a);
          if (method === 'DELETE') return hangup(a, query);
          return null;
        }
        if (n === 3 && b === 'variable')
          return method === 'GET' ? reply(engine.variable(a, query.get('variable'))) : null;
        if (n === 3 && b === 'answer') return method === 'POST' ? reply(engine.answerChannel(a)) : null;
        if ((n === 3 && b === 'play') || (n === 4 && b === 'play' && c !== undefined)) {
          if (method !== 'POST') return null;
          const media = query.getAll('media').flatMap((m) => m.split(','));
          const playbackId = n === 4 ? (c as string) : query.get('playbackId');
          // Recording 34: PlaybackStarted reached the socket before the 201.
          const gated = engine.gated(
            () => engine.play(a, media, query.get('lang'), playbackId),
            (_r, published, mode) => (mode === 'never' ? 0 : published),
          );
          if (gated.sentBeforeReply > 0) await Bun.sleep(2);
          const res = reply(gated.value);
          gated.afterReply();
          return res;
        }
        break;
      case 'endpoints':
      case 'bridges':
        if (n === 1) return method === 'GET' ? json(200, []) : null;
        break;
      case 'sounds':
        if (n === 1) return method === 'GET' ? json(200, [HELLO_WORLD]) : null;
        if (n === 2) {
          if (method !== 'GET') return null;
          return a === 'hello-world' ? json(200, HELLO_WORLD) : message(404, 'Sound not found');
        }
        break;
      case 'api-docs':
        if (n === 2 && a === 'resources.json') {
          if (method !== 'GET') return null;
          return json(200, {
            _copyright: 'Copyright (C) 2012 - 2013, Digium, Inc.',
            _author: 'David M. Lee, II <dlee@digium.com>',
            _svn_revision: '$Revision$',
            apiVersion: '10.0.0',
            swaggerVersion: '1.1',
            basePath: `${url.origin}/ari`,
            apis: API_DOCS.map(([p, description]) => ({ path: `/api-docs/${p}.{format}`, description })),
          });
        }
        break;
    }
    return message(404, 'Resource not found');
  };

  const events = (req: Request, url: URL, server: Server<WsData>): Response | undefined => {
    const app = url.searchParams.get('app') ?? '';
    const apps = app
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (apps.length === 0) {
      return new Response(MISSING_APP_HTML, { status: 400, headers: { 'Content-Type': 'text/html' } });
    }
    const data: WsData = {
      id: nextSocketId++,
      apps,
      subscribeAll: truthy(url.searchParams.get('subscribeAll')),
    };
    if (server.upgrade(req, { data })) return undefined;
    return new Response('Upgrade Required', { status: 426 });
  };

  const control = async (req: Request, url: URL): Promise<Response> => {
    if (!authorized(req, url)) return json(401, { message: 'Authentication required' }, UNAUTHORIZED_HEADERS);
    const what = `${req.method} ${url.pathname}`;
    const num = (name: string) => {
      const v = url.searchParams.get(name);
      return v === null || v === '' ? undefined : Number(v);
    };
    switch (what) {
      case 'POST /_sim/restart': {
        const opts: RestartOptions = {};
        const downMs = num('downMs');
        const delay = num('withLiveCallDelayMs');
        if (downMs !== undefined) opts.downMs = downMs;
        if (delay !== undefined) opts.withLiveCallDelayMs = delay;
        // Answer first: the restart takes this very listener down.
        setTimeout(() => void handle.restart(opts), 5);
        return json(202, { restarting: true });
      }
      case 'POST /_sim/drop-websockets': {
        const dropped = sockets.size;
        handle.dropWebSockets();
        return json(200, { dropped });
      }
      case 'POST /_sim/fault': {
        let raw: unknown;
        try {
          const text = await req.text();
          raw = text.trim() === '' ? null : JSON.parse(text);
        } catch {
          return message(400, 'fault must be JSON');
        }
        if (raw === null) {
          fault = null;
          return json(200, { fault: null });
        }
        const f = raw as {
          kind?: unknown;
          status?: unknown;
          body?: unknown;
          count?: unknown;
          paths?: unknown;
        };
        const paths = typeof f.paths === 'string' ? new RegExp(f.paths) : undefined;
        const count = typeof f.count === 'number' ? f.count : undefined;
        if (f.kind === 'status' && typeof f.status === 'number') {
          fault = { kind: 'status', status: f.status, body: f.body, count, paths };
        } else if (f.kind === 'hang') {
          fault = { kind: 'hang', count, paths };
        } else {
          return message(400, "fault needs kind 'status' (with status) or 'hang'");
        }
        return json(200, { fault: raw });
      }
      case 'GET /_sim/originates':
        return json(200, originates);
      case 'GET /_sim/stats':
        return json(200, handle.stats());
    }
    return message(404, 'Resource not found');
  };

  const fetchHandler = async (req: Request, server: Server<WsData>): Promise<Response | undefined> => {
    if (holding) return hang();
    const url = new URL(req.url);
    const path = url.pathname;
    if (path.startsWith('/_sim/')) return control(req, url);
    if (path !== '/ari' && !path.startsWith('/ari/')) return new Response('Not Found', { status: 404 });
    const f = takeFault(req.method, path);
    if (f?.kind === 'hang') return hang();
    if (f?.kind === 'status') return json(f.status, f.body ?? { message: `Simulated HTTP ${f.status}` });
    if (!authorized(req, url)) return json(401, { message: 'Authentication required' }, UNAUTHORIZED_HEADERS);
    const segs = path
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
    if (segs.length === 1 && segs[0] === 'events') return events(req, url, server);
    const res = await route(req, url, segs);
    return res ?? message(405, 'Invalid method');
  };

  const listen = (port: number): Server<WsData> =>
    Bun.serve<WsData>({
      port,
      hostname,
      // A 'hang' fault must really hang, and event sockets may sit idle for as long as a call lasts.
      idleTimeout: 0,
      fetch: fetchHandler,
      websocket: {
        idleTimeout: 0,
        sendPings: false,
        open(ws) {
          sockets.add(ws);
          const sink: Sink = {
            id: ws.data.id,
            send: (data) => {
              ws.send(data);
            },
            isOpen: () => ws.readyState === 1,
          };
          sinks.set(ws.data.id, sink);
          engine.attach(sink, ws.data.apps, ws.data.subscribeAll);
        },
        message() {},
        close(ws) {
          sockets.delete(ws);
          const sink = sinks.get(ws.data.id);
          sinks.delete(ws.data.id);
          if (sink) engine.detach(sink);
        },
      },
    });

  let server = listen(options.port ?? 0);
  const port = server.port as number;
  const url = `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;

  /** Like `kill -9`: no close frame, the peer sees 1006. */
  const terminateSockets = () => {
    for (const ws of [...sockets]) ws.terminate();
  };

  const doRestart = async (opts: RestartOptions): Promise<void> => {
    const downMs = opts.downMs ?? Math.round(1000 * timeScale);
    log(JSON.stringify({ sim: 'restart', downMs, withLiveCallDelayMs: opts.withLiveCallDelayMs ?? 0 }));
    holding = true;
    if (opts.withLiveCallDelayMs && engine.liveChannelCount > 0 && engine.hasSubscribeAllApp()) {
      engine.freeze();
      await Bun.sleep(opts.withLiveCallDelayMs);
      engine.shutdownCalls();
      // Let the last events leave before the connections drop.
      await Bun.sleep(5);
    }
    terminateSockets();
    engine.reset();
    await server.stop(true);
    releaseHung();
    if (downMs > 0) await Bun.sleep(downMs);
    if (stopped) return;
    server = listen(port);
    holding = false;
  };

  const handle: SimHandle = {
    url,
    port,
    originates,
    async stop() {
      if (stopped) return;
      stopped = true;
      holding = true;
      await restarting?.catch(() => {});
      engine.reset();
      for (const ws of [...sockets]) ws.close(1001, 'shutdown');
      await server.stop(true);
      releaseHung();
    },
    restart(opts: RestartOptions = {}) {
      if (stopped) return Promise.resolve();
      if (!restarting) {
        restarting = doRestart(opts).finally(() => {
          restarting = null;
        });
      }
      return restarting;
    },
    dropWebSockets() {
      terminateSockets();
    },
    setHttpFault(f: HttpFault) {
      fault = f ? { ...f } : null;
    },
    liveChannels: () => engine.liveChannelCount,
    stats: () => ({ originates: originates.length, events: engine.eventsSent, sockets: sockets.size }),
  };
  log(JSON.stringify({ sim: 'listening', url, timeScale }));
  return handle;
};
