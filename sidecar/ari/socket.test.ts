import { afterEach, describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { createLogger } from '../../api/shared/base/log.ts';
import { waitFor } from '../../test/harness/util.ts';
import { createMetrics } from '../metrics.ts';
import type { AriEvent } from './schemas.ts';
import { AriEventSocket, type EventSocketOptions, eventsUrl } from './socket.ts';

interface WsData {
  auth: string | null;
}

function wsServer() {
  const opened: Array<{ auth: string | null; query: string }> = [];
  const live = new Set<import('bun').ServerWebSocket<WsData>>();
  const server = Bun.serve<WsData>({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request, srv) {
      const url = new URL(request.url);
      opened.push({ auth: request.headers.get('authorization'), query: url.search });
      if (srv.upgrade(request, { data: { auth: request.headers.get('authorization') } })) return;
      return new Response('upgrade required', { status: 400 });
    },
    websocket: {
      open(ws) {
        live.add(ws);
      },
      message() {},
      close(ws) {
        live.delete(ws);
      },
    },
  });
  return {
    server,
    opened,
    live,
    send: (event: unknown) => {
      for (const ws of live) ws.send(JSON.stringify(event));
    },
    /** Drop every socket without a close frame: the client sees 1006. */
    drop: () => {
      for (const ws of live) ws.terminate();
    },
  };
}

/** Completes the WebSocket handshake and then never answers anything, pings included. */
function silentWsServer() {
  let accepted = 0;
  const listener = Bun.listen({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      data(socket, data) {
        const text = data.toString();
        const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(text)?.[1];
        if (!key) return;
        accepted += 1;
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
      },
    },
  });
  return { listener, accepted: () => accepted };
}

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

function socket(url: string, overrides: Partial<EventSocketOptions> = {}) {
  const events: AriEvent[] = [];
  let opens = 0;
  const downs: number[] = [];
  const metrics = createMetrics();
  const s = new AriEventSocket({
    url,
    headers: { authorization: `Basic ${btoa('ariuser:aripass')}` },
    connectTimeoutMs: 300,
    initialDelayMs: 20,
    maxDelayMs: 100,
    minUptimeMs: 200,
    idlePingMs: 5000,
    pongTimeoutMs: 1000,
    onEvent: (event) => events.push(event),
    onOpen: () => {
      opens += 1;
    },
    onDown: ({ code }) => downs.push(code),
    metrics,
    log: createLogger({ level: 'silent' }),
    ...overrides,
  });
  cleanup.push(() => s.close());
  return { s, events, opens: () => opens, downs, metrics };
}

describe('AriEventSocket', () => {
  test('builds the events URL with app and subscribeAll and no credentials', () => {
    expect(eventsUrl('http://localhost:8088/ari', 'contactcenter')).toBe(
      'ws://localhost:8088/ari/events?app=contactcenter&subscribeAll=true',
    );
    expect(eventsUrl('https://pbx.example/ari/', 'cc')).toBe(
      'wss://pbx.example/ari/events?app=cc&subscribeAll=true',
    );
  });

  test('parses events, passes unknown types through, ignores what does not parse', async () => {
    const srv = wsServer();
    cleanup.push(() => srv.server.stop(true));
    const { s, events, metrics } = socket(
      `ws://127.0.0.1:${srv.server.port}/ari/events?app=cc&subscribeAll=true`,
    );
    s.start();
    await waitFor(() => s.isOpen(), 2000, 'open');
    expect(srv.opened[0]!.auth).toBe(`Basic ${btoa('ariuser:aripass')}`);
    expect(
      (await metrics.registry.getSingleMetric('sidecar_ari_websocket_connected')!.get()).values[0]!.value,
    ).toBe(1);
    srv.send({ type: 'DeviceStateChanged', device_state: { name: 'x', state: 'INUSE' } });
    srv.send({ type: 'ChannelDestroyed', channel: { id: 'a' } }); // a known type missing its fields
    srv.send({ type: 'ChannelStateChange', channel: { id: 'a', name: 'Local/1@x-1;1', state: 'Ringing' } });
    await waitFor(() => events.length === 2, 2000, 'events');
    expect(events.map((e) => e.type)).toEqual(['DeviceStateChanged', 'ChannelStateChange']);
  });

  test('an abnormal close (1006) reconnects and reports open again; close() stops for good', async () => {
    const srv = wsServer();
    cleanup.push(() => srv.server.stop(true));
    const { s, opens, downs } = socket(`ws://127.0.0.1:${srv.server.port}/ari/events?app=cc`);
    s.start();
    await waitFor(() => opens() === 1, 2000, 'first open');
    srv.drop();
    await waitFor(() => opens() === 2, 2000, 'reopen');
    expect(downs).toEqual([1006]);
    s.close();
    expect(s.state.kind).toBe('closed');
    const connections = srv.opened.length;
    await Bun.sleep(200);
    expect(srv.opened.length).toBe(connections);
  });

  test('keeps retrying while the server is away, with growing delays, and connects when it is back', async () => {
    const srv = wsServer();
    const port = srv.server.port;
    srv.server.stop(true);
    const { s, opens } = socket(`ws://127.0.0.1:${port}/ari/events?app=cc`);
    s.start();
    await waitFor(() => s.state.kind === 'backoff' && s.state.attempt >= 3, 3000, 'several attempts');
    const back = Bun.serve({
      hostname: '127.0.0.1',
      port,
      fetch: (request, server) => (server.upgrade(request) ? undefined : new Response('no', { status: 400 })),
      websocket: { message() {} },
    });
    cleanup.push(() => back.stop(true));
    await waitFor(() => opens() === 1, 3000, 'open after the server came back');
  });

  test('the retry counter resets only after the socket stayed up for the minimum uptime', async () => {
    const srv = wsServer();
    cleanup.push(() => srv.server.stop(true));
    const openedAt: number[] = [];
    const { s, opens } = socket(`ws://127.0.0.1:${srv.server.port}/ari/events?app=cc`, {
      minUptimeMs: 200,
      log: createLogger({
        level: 'info',
        sink: (line) => {
          const record = JSON.parse(line) as { msg: string; attempt?: number };
          if (record.msg === 'ARI events socket open') openedAt.push(record.attempt!);
        },
      }),
    });
    s.start();
    // A server that accepts and drops at once, three times: the attempt count keeps growing.
    for (let n = 1; n <= 3; n++) {
      await waitFor(() => opens() === n, 2000, `open ${n}`);
      srv.drop();
    }
    await waitFor(() => opens() === 4, 2000, 'open 4');
    // Up for longer than the minimum: the next failure starts the backoff from the beginning.
    await Bun.sleep(300);
    srv.drop();
    await waitFor(() => opens() === 5, 2000, 'open 5');
    expect(openedAt).toEqual([0, 1, 2, 3, 1]);
  });

  test('a socket that answers nothing (half-open) is detected by a missing pong and replaced', async () => {
    const silent = silentWsServer();
    cleanup.push(() => silent.listener.stop(true));
    const { s, opens, downs } = socket(`ws://127.0.0.1:${silent.listener.port}/ari/events?app=cc`, {
      idlePingMs: 100,
      pongTimeoutMs: 100,
    });
    s.start();
    await waitFor(() => opens() === 1, 2000, 'open');
    await waitFor(() => downs.length >= 1, 2000, 'half-open detected');
    await waitFor(() => silent.accepted() >= 2, 2000, 'reconnected');
  });

  test('a quiet socket whose pings are answered stays open', async () => {
    const ari = wsServer();
    cleanup.push(() => ari.server.stop(true));
    const { s, opens, downs } = socket(eventsUrl(`http://127.0.0.1:${ari.server.port}/ari`, 'cc'), {
      idlePingMs: 50,
      pongTimeoutMs: 50,
    });
    s.start();
    await waitFor(() => opens() === 1, 2000, 'open');
    // Several ping periods of silence, each answered by a pong.
    await Bun.sleep(500);
    expect({ open: s.isOpen(), opens: opens(), downs: downs.length, sockets: ari.opened.length }).toEqual({
      open: true,
      opens: 1,
      downs: 0,
      sockets: 1,
    });
  });

  test('a connect that never completes times out and is retried', async () => {
    // Accepts TCP, never answers the upgrade.
    let connections = 0;
    const mute = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        open() {
          connections += 1;
        },
        data() {},
      },
    });
    cleanup.push(() => mute.stop(true));
    const { s } = socket(`ws://127.0.0.1:${mute.port}/ari/events?app=cc`, { connectTimeoutMs: 100 });
    s.start();
    await waitFor(() => connections >= 2, 2000, 'a second connect after the timeout');
    expect(s.isOpen()).toBe(false);
  });
});
