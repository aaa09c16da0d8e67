import type { Socket, TCPSocketListener } from 'bun';

/**
 * A loopback TCP proxy that forwards a local port to a target and breaks the way networks
 * break, switchable at run time:
 *
 * - `pass`: bytes flow untouched.
 * - `latency`: each chunk is held `ms` (+ up to `jitterMs`) in one direction or both; order is
 *   kept, as TCP keeps it.
 * - `bandwidth`: bytes per second in one direction or both.
 * - `blackhole`: every current connection stops carrying data both ways, and new connections are
 *   accepted and never answered (nothing is connected upstream). Bytes are swallowed, no FIN,
 *   no RST.
 * - `half-open`: the current connections stop carrying data in one direction or both, with no
 *   FIN and no RST; a FIN sent into a dead direction is swallowed too. New connections pass.
 * - `reset`: current connections are dropped with an RST on both sides; new connections are
 *   accepted and reset at once, or with `refuse` the port stops listening (connection refused)
 *   until the fault is changed.
 *
 * A connection that met `blackhole` or `half-open` stays dead after the fault is lifted, the way
 * one behind a firewall or NAT that lost its state does: only new connections recover. Every
 * fault can be narrowed to some connections with `match` (for instance by the request line the
 * client sent first, which tells an events WebSocket from plain HTTP on the same port).
 */

export type Direction = 'up' | 'down' | 'both';

export type Fault =
  | { kind: 'pass' }
  | { kind: 'latency'; ms: number; jitterMs?: number; direction?: Direction }
  | { kind: 'bandwidth'; bytesPerSecond: number; direction?: Direction }
  | { kind: 'blackhole' }
  | { kind: 'half-open'; direction?: Direction }
  | { kind: 'reset'; refuse?: boolean };

/** What a connection looks like to `match` and to `connections()`. */
export interface ConnectionInfo {
  readonly id: number;
  readonly openedAt: number;
  /** The first line the client sent ('' until it sent something), e.g. `GET /ari/events?… HTTP/1.1`. */
  readonly head: string;
  /** Bytes delivered client → target and target → client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Directions that no longer carry data (blackhole, half-open). */
  readonly deadUp: boolean;
  readonly deadDown: boolean;
}

export interface FaultOptions {
  /** Only connections for which this holds (evaluated again once the client's first line is known). */
  match?: (connection: ConnectionInfo) => boolean;
}

export interface FaultProxyStats {
  accepted: number;
  active: number;
  /** Connections this proxy reset (RST) or refused to carry because of a fault. */
  resets: number;
  /** Bytes dropped by blackhole and half-open, client → target and target → client. */
  swallowedUp: number;
  swallowedDown: number;
  bytesUp: number;
  bytesDown: number;
}

export interface FaultProxy {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `host:port` of this proxy. */
  readonly address: string;
  /** A URL through this proxy: `url('http', '/ari')` → `http://127.0.0.1:port/ari`. */
  url(scheme?: string, path?: string): string;
  readonly target: { host: string; port: number };
  /** The fault now in force. */
  readonly fault: Fault;
  set(fault: Fault, options?: FaultOptions): void;
  /** Back to `pass` (connections already dead stay dead). */
  pass(): void;
  /** Ends every current connection with a FIN on both sides; new connections are unaffected. */
  closeAll(): void;
  connections(): ConnectionInfo[];
  stats(): FaultProxyStats;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Where to forward: `{ host, port }` or a URL (`http://127.0.0.1:5432`, `postgres://…`). */
  target: { host?: string; port: number } | string;
  /** Port to listen on (0, the default, picks a free one). */
  port?: number;
  /** Only loopback: `127.0.0.1` (default) or `::1`. */
  host?: string;
  /** For messages. */
  name?: string;
}

interface Shape {
  latencyMs: number;
  jitterMs: number;
  bytesPerSecond: number;
}

/** Queued bytes above which the sending side is paused, and below which it resumes. */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 1 << 18;

/**
 * One direction of a connection: bytes wait until their release time (latency, bandwidth), are
 * written in order, and a FIN follows the last of them.
 */
class Pipe {
  dest: Socket<Conn> | null = null;
  source: Socket<Conn> | null = null;
  delivered = 0;
  private readonly queue: { data: Uint8Array; at: number }[] = [];
  private queued = 0;
  private partial: Uint8Array | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastAt = 0;
  private nextFree = 0;
  private ending = false;
  private ended = false;
  private paused = false;

  push(data: Uint8Array, shape: Shape | null): void {
    if (this.ended || this.ending) return;
    const now = performance.now();
    if (!shape && this.queue.length === 0 && !this.partial && this.dest) {
      this.write(data);
      return;
    }
    const base = now + (shape ? shape.latencyMs + Math.random() * shape.jitterMs : 0);
    const rate = shape?.bytesPerSecond ?? 0;
    // Slices of about 20 ms worth of bytes, so that a throttled stream flows rather than bursts.
    const slice = rate > 0 ? Math.max(1, Math.floor(rate / 50)) : data.length;
    for (let offset = 0; offset < data.length; offset += slice) {
      const piece = data.slice(offset, offset + slice);
      let at = base;
      if (rate > 0) {
        this.nextFree = Math.max(this.nextFree, base) + (piece.length / rate) * 1000;
        at = this.nextFree;
      }
      // Jitter must never reorder bytes.
      at = Math.max(at, this.lastAt);
      this.lastAt = at;
      this.queue.push({ data: piece, at });
      this.queued += piece.length;
    }
    this.flow();
  }

  /** FIN after everything queued. */
  end(): void {
    if (this.ended) return;
    this.ending = true;
    this.flow();
  }

  /** Drops whatever waits (the direction died or the connection is going away). */
  discard(): number {
    const dropped = this.queued + (this.partial?.length ?? 0);
    this.queue.length = 0;
    this.queued = 0;
    this.partial = null;
    this.ending = false;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.resumeSource();
    return dropped;
  }

  pending(): number {
    return this.queued + (this.partial?.length ?? 0);
  }

  flow(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.dest || this.ended) return;
    if (this.partial) {
      const rest = this.partial;
      this.partial = null;
      if (!this.write(rest)) return;
    }
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.at <= now) {
      const { data } = this.queue.shift()!;
      this.queued -= data.length;
      if (!this.write(data)) return;
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => this.flow(), Math.max(0, this.queue[0]!.at - now));
    } else if (this.ending) {
      this.ending = false;
      this.ended = true;
      this.dest.end();
    }
    if (this.pending() < LOW_WATER) this.resumeSource();
    else if (this.pending() > HIGH_WATER) this.pauseSource();
  }

  /** Writes what the socket takes; keeps the rest for `drain`. False when it had to stop. */
  private write(data: Uint8Array): boolean {
    const dest = this.dest!;
    const written = dest.write(data);
    if (written < 0) {
      this.discard();
      return false;
    }
    this.delivered += written;
    if (written < data.length) {
      this.partial = data.slice(written);
      this.pauseSource();
      return false;
    }
    return true;
  }

  private pauseSource(): void {
    if (this.paused || !this.source) return;
    this.paused = true;
    this.source.pause();
  }

  private resumeSource(): void {
    if (!this.paused || !this.source) return;
    this.paused = false;
    this.source.resume();
  }
}

interface Conn {
  id: number;
  openedAt: number;
  head: string;
  client: Socket<Conn>;
  upstream: Socket<Conn> | null;
  up: Pipe;
  down: Pipe;
  deadUp: boolean;
  deadDown: boolean;
  clientOpen: boolean;
  upstreamOpen: boolean;
  /** Sticky faults are checked once more when the first line arrives (for `match`). */
  headChecked: boolean;
}

interface Rule {
  fault: Fault;
  match: ((connection: ConnectionInfo) => boolean) | null;
}

function parseTarget(target: FaultProxyOptions['target']): { host: string; port: number } {
  if (typeof target !== 'string') return { host: target.host ?? '127.0.0.1', port: target.port };
  const url = new URL(target);
  const port = Number(url.port);
  if (!port) throw new Error(`fault proxy: the target ${url.protocol}//${url.host} names no port`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

function applies(direction: Direction | undefined, which: 'up' | 'down'): boolean {
  return (direction ?? 'both') === 'both' || direction === which;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = parseTarget(options.target);
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1') throw new Error('fault proxy: loopback only');
  const name = options.name ?? `proxy→${target.host}:${target.port}`;
  const conns = new Map<number, Conn>();
  let rule: Rule = { fault: { kind: 'pass' }, match: null };
  let nextId = 1;
  const counters = { accepted: 0, resets: 0, swallowedUp: 0, swallowedDown: 0 };
  const closed = { up: 0, down: 0 };

  const info = (c: Conn): ConnectionInfo => ({
    id: c.id,
    openedAt: c.openedAt,
    head: c.head,
    bytesUp: c.up.delivered,
    bytesDown: c.down.delivered,
    deadUp: c.deadUp,
    deadDown: c.deadDown,
  });
  const matches = (c: Conn) => rule.match === null || rule.match(info(c));

  const forget = (c: Conn) => {
    if (c.clientOpen || c.upstreamOpen) return;
    if (conns.delete(c.id)) {
      closed.up += c.up.delivered;
      closed.down += c.down.delivered;
    }
  };

  /** RST on both sides. */
  const reset = (c: Conn) => {
    counters.resets += 1;
    c.up.discard();
    c.down.discard();
    if (c.clientOpen) c.client.terminate();
    if (c.upstreamOpen) c.upstream?.terminate();
  };

  const kill = (c: Conn, up: boolean, down: boolean) => {
    if (up && !c.deadUp) {
      c.deadUp = true;
      counters.swallowedUp += c.up.discard();
    }
    if (down && !c.deadDown) {
      c.deadDown = true;
      counters.swallowedDown += c.down.discard();
    }
  };

  /** Sticky faults on one connection; true when the connection was reset. */
  const applySticky = (c: Conn): boolean => {
    const f = rule.fault;
    if (!matches(c)) return false;
    if (f.kind === 'reset') {
      reset(c);
      return true;
    }
    if (f.kind === 'blackhole') kill(c, true, true);
    return false;
  };

  const shapeFor = (c: Conn, which: 'up' | 'down'): Shape | null => {
    const f = rule.fault;
    if (f.kind !== 'latency' && f.kind !== 'bandwidth') return null;
    if (!applies(f.direction, which) || !matches(c)) return null;
    return f.kind === 'latency'
      ? { latencyMs: f.ms, jitterMs: f.jitterMs ?? 0, bytesPerSecond: 0 }
      : { latencyMs: 0, jitterMs: 0, bytesPerSecond: f.bytesPerSecond };
  };

  const connectUpstream = (c: Conn) => {
    Bun.connect<Conn>({
      hostname: target.host,
      port: target.port,
      data: c,
      allowHalfOpen: true,
      socket: {
        binaryType: 'uint8array',
        open(socket) {
          c.upstream = socket;
          c.upstreamOpen = true;
          if (!c.clientOpen) {
            // The client left while we were connecting.
            if (c.deadUp) return; // the target never learns, as with a lost FIN
            socket.end();
            return;
          }
          c.up.dest = socket;
          c.down.source = socket;
          c.up.flow();
        },
        data(_socket, data) {
          if (c.deadDown) {
            counters.swallowedDown += data.length;
            return;
          }
          c.down.push(data, shapeFor(c, 'down'));
        },
        drain() {
          c.up.flow();
        },
        end() {
          if (!c.deadDown) c.down.end();
        },
        close(_socket, error) {
          c.upstreamOpen = false;
          if (!c.deadDown && c.clientOpen) {
            if (error) {
              c.down.discard();
              c.client.terminate();
            } else {
              c.down.end();
            }
          }
          forget(c);
        },
        connectError() {
          c.upstreamOpen = false;
          // A refused target looks like a reset through a proxy.
          if (c.clientOpen && !c.deadDown) c.client.terminate();
          forget(c);
        },
        error() {},
      },
    }).catch(() => undefined);
  };

  const handlers = {
    binaryType: 'uint8array' as const,
    open(socket: Socket<Conn>) {
      counters.accepted += 1;
      const c: Conn = {
        id: nextId++,
        openedAt: Date.now(),
        head: '',
        client: socket,
        upstream: null,
        up: new Pipe(),
        down: new Pipe(),
        deadUp: false,
        deadDown: false,
        clientOpen: true,
        upstreamOpen: false,
        headChecked: rule.match === null,
      };
      socket.data = c;
      c.up.source = socket;
      c.down.dest = socket;
      conns.set(c.id, c);
      if (applySticky(c)) return;
      // Accepted into a blackhole: nothing behind it.
      if (c.deadUp && c.deadDown) return;
      connectUpstream(c);
    },
    data(socket: Socket<Conn>, data: Uint8Array) {
      const c = socket.data;
      if (!c.head) {
        const text = new TextDecoder('latin1').decode(data.subarray(0, 256));
        c.head = text.split(/\r?\n/, 1)[0] ?? '';
      }
      if (!c.headChecked) {
        c.headChecked = true;
        if (applySticky(c)) return;
      }
      if (c.deadUp) {
        counters.swallowedUp += data.length;
        return;
      }
      c.up.push(data, shapeFor(c, 'up'));
    },
    drain(socket: Socket<Conn>) {
      socket.data.down.flow();
    },
    end(socket: Socket<Conn>) {
      const c = socket.data;
      if (!c.deadUp) c.up.end();
    },
    close(socket: Socket<Conn>, error?: Error) {
      const c = socket.data;
      c.clientOpen = false;
      if (!c.deadUp && c.upstreamOpen) {
        if (error) {
          c.up.discard();
          c.upstream?.terminate();
        } else {
          c.up.end();
        }
      }
      forget(c);
    },
    error() {},
  };

  let listener: TCPSocketListener<Conn> | null = null;
  let port = options.port ?? 0;
  const listen = () => {
    listener = Bun.listen<Conn>({
      hostname: host,
      port,
      allowHalfOpen: true,
      socket: handlers,
    });
    port = listener.port;
  };
  listen();

  const proxy: FaultProxy = {
    name,
    host,
    get port() {
      return port;
    },
    get address() {
      return `${host.includes(':') ? `[${host}]` : host}:${port}`;
    },
    url(scheme = 'http', path = '') {
      return `${scheme}://${proxy.address}${path}`;
    },
    target,
    get fault() {
      return rule.fault;
    },
    set(fault, faultOptions = {}) {
      const refusing = rule.fault.kind === 'reset' && rule.fault.refuse === true;
      rule = { fault, match: faultOptions.match ?? null };
      const refuse = fault.kind === 'reset' && fault.refuse === true;
      if (refuse && !refusing) {
        listener?.stop(false);
        listener = null;
      } else if (!refuse && refusing) {
        listen();
      }
      for (const c of conns.values()) {
        if (!c.clientOpen && !c.upstreamOpen) continue;
        if (fault.kind === 'half-open') {
          if (matches(c)) kill(c, applies(fault.direction, 'up'), applies(fault.direction, 'down'));
        } else {
          applySticky(c);
        }
      }
    },
    pass() {
      proxy.set({ kind: 'pass' });
    },
    closeAll() {
      for (const c of conns.values()) {
        c.up.discard();
        c.down.discard();
        if (c.clientOpen) c.client.end();
        if (c.upstreamOpen) c.upstream?.end();
      }
    },
    connections: () => [...conns.values()].map(info),
    stats() {
      let up = closed.up;
      let down = closed.down;
      for (const c of conns.values()) {
        up += c.up.delivered;
        down += c.down.delivered;
      }
      return {
        accepted: counters.accepted,
        active: [...conns.values()].filter((c) => c.clientOpen).length,
        resets: counters.resets,
        swallowedUp: counters.swallowedUp,
        swallowedDown: counters.swallowedDown,
        bytesUp: up,
        bytesDown: down,
      };
    },
    async stop() {
      listener?.stop(true);
      listener = null;
      for (const c of conns.values()) {
        c.up.discard();
        c.down.discard();
        if (c.clientOpen) c.client.terminate();
        if (c.upstreamOpen) c.upstream?.terminate();
      }
      conns.clear();
    },
  };
  return proxy;
}
