import type { Socket } from 'bun';

/**
 * A loopback WebSocket-to-TCP proxy in the manner of Neon's: the serverless driver opens
 * `ws://HOST:PORT/v2?address=DB_HOST:DB_PORT` and every binary message is the raw Postgres wire
 * protocol, piped both ways. It lets the Workers entry (workerd has no TCP client for Postgres here)
 * reach the throwaway Postgres cluster. Only the targets it was given are reachable through it.
 */
export interface WsProxy {
  /** What `NEON_WS_PROXY` takes: host:port/v2, without a scheme. */
  readonly address: string;
  readonly port: number;
  /** Connections open right now. */
  readonly open: number;
  stop(): Promise<void>;
}

interface Link {
  ws: Bun.ServerWebSocket<Link> | null;
  tcp: Socket<Link> | null;
  /** Bytes the WebSocket side sent before the TCP connection was up, or while it was full. */
  pending: Uint8Array[];
  closed: boolean;
}

export async function startWsProxy(options: { targets: string[]; port?: number }): Promise<WsProxy> {
  const allowed = new Set(options.targets);
  let open = 0;
  const links = new Set<Link>();

  const server = Bun.serve<Link>({
    hostname: '127.0.0.1',
    port: options.port ?? 0,
    fetch(req, srv) {
      const url = new URL(req.url);
      const address = url.searchParams.get('address') ?? '';
      if (url.pathname !== '/v2' || !allowed.has(address)) {
        return new Response('target not allowed', { status: 403 });
      }
      const link: Link = { ws: null, tcp: null, pending: [], closed: false };
      if (!srv.upgrade(req, { data: link })) return new Response('expected a WebSocket', { status: 426 });
      const [hostname, port] = splitAddress(address);
      open++;
      void Bun.connect<Link>({
        hostname,
        port,
        data: link,
        socket: {
          open(tcp) {
            if (link.closed) {
              tcp.end();
              return;
            }
            link.tcp = tcp;
            flush(link);
          },
          data(_tcp, chunk) {
            link.ws?.sendBinary(chunk);
          },
          drain() {
            flush(link);
          },
          close() {
            link.tcp = null;
            link.ws?.close();
          },
          error() {
            link.ws?.close();
          },
        },
      }).catch(() => link.ws?.close(1011, 'upstream unreachable'));
      return undefined;
    },
    websocket: {
      open(ws) {
        ws.data.ws = ws;
        links.add(ws.data);
      },
      message(ws, message) {
        const bytes = typeof message === 'string' ? new TextEncoder().encode(message) : message;
        ws.data.pending.push(new Uint8Array(bytes));
        flush(ws.data);
      },
      close(ws) {
        open--;
        ws.data.closed = true;
        ws.data.tcp?.end();
        links.delete(ws.data);
      },
    },
  });

  function flush(link: Link) {
    const tcp = link.tcp;
    if (!tcp) return;
    while (link.pending.length > 0) {
      const chunk = link.pending[0]!;
      const written = tcp.write(chunk);
      if (written < chunk.length) {
        // The socket is full: keep the rest and continue on `drain`.
        link.pending[0] = chunk.subarray(written);
        return;
      }
      link.pending.shift();
    }
  }

  const port = server.port!;
  return {
    address: `127.0.0.1:${port}/v2`,
    port,
    get open() {
      return open;
    },
    async stop() {
      for (const link of links) link.ws?.close();
      await server.stop(true);
    },
  };
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}
