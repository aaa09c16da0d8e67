/** GET /ari/events: the websocket upgrade, and the open sockets handed to the event bus. */
import type { Server, ServerWebSocket, WebSocketHandler } from 'bun';
import type { Engine, Sink } from '../engine.ts';
import { truthy } from './respond.ts';

export interface WsData {
  id: number;
  apps: string[];
  subscribeAll: boolean;
}

const MISSING_APP_HTML =
  '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n' +
  '</head><body>\r\n<h1>Bad Request</h1>\r\n<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n' +
  '<address>Asterisk</address>\r\n</body></html>\r\n';

export class EventSockets {
  private readonly open = new Set<ServerWebSocket<WsData>>();
  private readonly sinks = new Map<number, Sink>();
  private nextId = 1;

  constructor(
    private readonly engine: Engine,
    private readonly tapSent?: (data: string, at: number) => void,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** Upgrades the request, or answers why not (no app: Asterisk's HTML 400). */
  upgrade(req: Request, url: URL, server: Server<WsData>): Response | undefined {
    const apps = (url.searchParams.get('app') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (apps.length === 0) {
      return new Response(MISSING_APP_HTML, { status: 400, headers: { 'Content-Type': 'text/html' } });
    }
    const data: WsData = {
      id: this.nextId++,
      apps,
      subscribeAll: truthy(url.searchParams.get('subscribeAll')),
    };
    if (server.upgrade(req, { data })) return undefined;
    return new Response('Upgrade Required', { status: 426 });
  }

  readonly handler: WebSocketHandler<WsData> = {
    idleTimeout: 0,
    sendPings: false,
    open: (ws) => {
      this.open.add(ws);
      const tap = this.tapSent;
      const sink: Sink = {
        id: ws.data.id,
        send: tap
          ? (data) => {
              const at = performance.now();
              ws.send(data);
              tap(data, at);
            }
          : (data) => {
              ws.send(data);
            },
        isOpen: () => ws.readyState === 1,
      };
      this.sinks.set(ws.data.id, sink);
      this.engine.bus.attach(sink, ws.data.apps, ws.data.subscribeAll);
    },
    message() {},
    close: (ws) => {
      this.open.delete(ws);
      const sink = this.sinks.get(ws.data.id);
      this.sinks.delete(ws.data.id);
      if (sink) this.engine.bus.detach(sink);
    },
  };

  /** Like `kill -9`: no close frame, the peer sees 1006. */
  terminateAll(): void {
    for (const ws of [...this.open]) ws.terminate();
  }

  closeAll(code: number, reason: string): void {
    for (const ws of [...this.open]) ws.close(code, reason);
  }
}
