/** Small ARI clients for the simulator's tests. */
import { connect } from 'node:net';
import { type SimHandle, type SimOptions, startAriSimulator } from '../server.ts';

export const USER = 'ariuser';
export const PASS = 'aripass';
export const GOOD_BASIC = `Basic ${btoa(`${USER}:${PASS}`)}`;

export interface AriReply {
  status: number;
  body: unknown;
  headers: Headers;
  /** performance.now() when the reply's status and headers arrived (before its body was read). */
  at: number;
}

/** One ARI request with basic auth unless `auth` says otherwise. */
export const ari = async (
  baseUrl: string,
  method: string,
  path: string,
  opts: { auth?: string | null; body?: unknown; rawBody?: string; signal?: AbortSignal } = {},
): Promise<AriReply> => {
  const headers: Record<string, string> = {};
  const auth = opts.auth === undefined ? GOOD_BASIC : opts.auth;
  if (auth !== null) headers.Authorization = auth;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body, signal: opts.signal });
  // Taken before the body is read: reading it takes more turns of the event loop, in which an
  // event sent after the reply could be handled first and seem to have come before it.
  const at = performance.now();
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  return {
    status: res.status,
    body: text === '' ? null : isJson ? JSON.parse(text) : text,
    headers: res.headers,
    at,
  };
};

/** Event types whose per-leg order is compared (see compare.ts). */
const CORE_TYPES = new Set([
  'ChannelCreated',
  'ChannelStateChange',
  'Dial',
  'ChannelHangupRequest',
  'ChannelDestroyed',
  'StasisStart',
  'StasisEnd',
  'ApplicationReplaced',
]);

export const isCoreEvent = (body: { type: string; variable?: unknown }): boolean =>
  CORE_TYPES.has(body.type) || (body.type === 'ChannelVarset' && body.variable === 'STASISSTATUS');

export interface ReceivedEvent {
  type: string;
  /** performance.now() on arrival. */
  at: number;
  [key: string]: unknown;
}

/** An events websocket that keeps everything it receives. */
export class EventSocket {
  readonly events: ReceivedEvent[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
  private readonly ws: WebSocket;

  constructor(baseUrl: string, query: string, opts: { auth?: 'api_key' | 'basic' } = {}) {
    const url = `${baseUrl.replace(/^http/, 'ws')}/ari/events?${query}`;
    if (opts.auth === 'basic') {
      this.ws = new WebSocket(url, { headers: { Authorization: GOOD_BASIC } } as unknown as string[]);
    } else {
      this.ws = new WebSocket(`${url}&api_key=${USER}:${PASS}`);
    }
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener('open', () => resolve());
      this.ws.addEventListener('error', () => reject(new Error(`websocket ${query} did not open`)));
    });
    this.closed = new Promise((resolve) => {
      this.ws.addEventListener('close', (ev) =>
        resolve({ code: ev.code, reason: ev.reason, wasClean: ev.wasClean }),
      );
    });
    this.ws.addEventListener('message', (m) => {
      this.events.push({ ...(JSON.parse(String(m.data)) as { type: string }), at: performance.now() });
    });
  }

  static async open(baseUrl: string, query: string, opts: { auth?: 'api_key' | 'basic' } = {}) {
    const s = new EventSocket(baseUrl, query, opts);
    await s.opened;
    return s;
  }

  /** Resolves with the first event (already received or future) that matches. */
  async waitFor(match: (e: ReceivedEvent) => boolean, timeoutMs = 2000): Promise<ReceivedEvent> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(match);
      if (hit) return hit;
      if (performance.now() > deadline) {
        throw new Error(
          `no matching event in ${timeoutMs} ms; got ${this.events.map((e) => e.type).join(', ')}`,
        );
      }
      await Bun.sleep(2);
    }
  }

  /** The core events about one channel id, as compact strings. */
  trail(channelId: string): string[] {
    return this.events
      .filter((e) => {
        const ch = (e.channel ?? e.peer) as { id?: string } | undefined;
        return ch?.id === channelId && isCoreEvent(e);
      })
      .map((e) => {
        const ch = (e.channel ?? e.peer) as { state: string };
        let s = `${e.type}(${ch.state})`;
        if (e.type === 'Dial') s += ` ${e.dialstatus}`;
        if (e.cause !== undefined) s += ` ${e.cause}${e.soft ? ' soft' : ''}`;
        if (e.type === 'ChannelVarset') s += ` ${e.variable}=${e.value}`;
        return s;
      });
  }

  close(code = 1000): void {
    this.ws.close(code);
  }
}

/** A websocket upgrade that may be refused: the status, body and WWW-Authenticate header. */
export const rawUpgrade = (
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; wwwAuthenticate: string | null }> =>
  new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    const finish = () => {
      const head = data.split('\r\n\r\n')[0] ?? '';
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const www = /\r\nwww-authenticate: ([^\r\n]*)/i.exec(head)?.[1] ?? null;
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? -1);
      const body = data.slice(head.length + 4);
      if (status === 101 || length < 0 || Buffer.byteLength(body) >= length) {
        sock.destroy();
        resolve({ status, body, wwwAuthenticate: www });
      }
    };
    sock.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.includes('\r\n\r\n')) finish();
    });
    sock.on('end', finish);
    sock.on('error', reject);
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    sock.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
  });

/**
 * A POST without a body over a plain socket on this thread's event loop, resolving with the status
 * and the time the reply's first bytes arrived. `fetch` reads replies on a thread of its own, so
 * under load its reply can reach the test after events the socket received later; a plain socket
 * and the events websocket are read by the same loop, in the order their data arrived.
 */
export const rawPost = (port: number, path: string): Promise<{ status: number; at: number }> =>
  new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let at = 0;
    let data = '';
    sock.on('data', (chunk) => {
      at ||= performance.now();
      data += chunk.toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(data)?.[1];
      if (status && data.includes('\r\n\r\n')) {
        sock.destroy();
        resolve({ status: Number(status), at });
      }
    });
    sock.on('error', reject);
    sock.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: ${GOOD_BASIC}\r\n` +
        'Content-Length: 0\r\nConnection: close\r\n\r\n',
    );
  });

/** The originate query the recordings use, as a path. */
export const originatePath = (
  number: string,
  opts: Record<string, string> = {},
  context = 'sim-callee',
): string => {
  const q = new URLSearchParams({
    endpoint: `Local/${number}@${context}`,
    timeout: '30',
    callerId: 'Contact Center <5550001111>',
    ...opts,
  });
  return `/ari/channels?${q}`;
};

export const DIALPLAN_STYLE = { extension: 's', context: 'outbound-ivr', priority: '1' };
export const STASIS_STYLE = { app: 'contactcenter', appArgs: 'campaign-42,contact-7' };

/**
 * Simulators and event sockets a test file starts, all closed by `cleanup` (for afterEach).
 * Each test gets its own simulator, so counters and apps never leak between tests.
 */
export const simFixtures = (defaults: SimOptions) => {
  const sims: SimHandle[] = [];
  const sockets: EventSocket[] = [];
  return {
    start: async (opts: SimOptions = {}) => {
      const sim = await startAriSimulator({ ...defaults, ...opts });
      sims.push(sim);
      return sim;
    },
    open: async (sim: SimHandle, query: string) => {
      const socket = await EventSocket.open(sim.url, query);
      sockets.push(socket);
      return socket;
    },
    cleanup: async () => {
      for (const s of sockets.splice(0)) s.close();
      for (const sim of sims.splice(0)) await sim.stop();
    },
  };
};
