import type { TCPSocketListener } from 'bun';
import { clientHandlers } from './fault-proxy/sockets.ts';
import { type Conn, ProxyState } from './fault-proxy/state.ts';
import type { FaultProxy, FaultProxyOptions } from './fault-proxy/types.ts';

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

export type {
  ConnectionInfo,
  Direction,
  Fault,
  FaultOptions,
  FaultProxy,
  FaultProxyOptions,
  FaultProxyStats,
} from './fault-proxy/types.ts';

function parseTarget(target: FaultProxyOptions['target']): { host: string; port: number } {
  if (typeof target !== 'string') return { host: target.host ?? '127.0.0.1', port: target.port };
  const url = new URL(target);
  const port = Number(url.port);
  if (!port) throw new Error(`fault proxy: the target ${url.protocol}//${url.host} names no port`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = parseTarget(options.target);
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1') throw new Error('fault proxy: loopback only');
  const state = new ProxyState();
  const handlers = clientHandlers(state, target);
  let listener: TCPSocketListener<Conn> | null = null;
  let port = options.port ?? 0;
  const listen = () => {
    listener = Bun.listen<Conn>({ hostname: host, port, allowHalfOpen: true, socket: handlers });
    port = listener.port;
  };
  listen();

  const proxy: FaultProxy = {
    name: options.name ?? `proxy→${target.host}:${target.port}`,
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
      return state.rule.fault;
    },
    set(fault, faultOptions = {}) {
      const refusing = state.rule.fault.kind === 'reset' && state.rule.fault.refuse === true;
      const refuse = fault.kind === 'reset' && fault.refuse === true;
      // `refuse`: the port stops listening until the fault changes.
      if (refuse && !refusing) {
        listener?.stop(false);
        listener = null;
      } else if (!refuse && refusing) {
        listen();
      }
      state.setRule(fault, faultOptions.match ?? null);
    },
    pass() {
      proxy.set({ kind: 'pass' });
    },
    closeAll: () => state.closeAll('end'),
    connections: () => [...state.conns.values()].map((c) => state.info(c)),
    stats: () => state.stats(),
    async stop() {
      listener?.stop(true);
      listener = null;
      state.closeAll('terminate');
    },
  };
  return proxy;
}
