import { afterEach, describe, expect, test } from 'bun:test';
import type { Socket } from 'bun';
import { createLogger } from '../../api/shared/base/log.ts';
import { isAriError } from '../errors.ts';
import { createMetrics } from '../metrics.ts';
import { AriClient, type AriClientOptions } from './http.ts';

/** A tiny programmable ARI: each test decides how every request is answered. */
function fakeAri(answer: (request: Request, url: URL) => Response | Promise<Response>) {
  const seen: Array<{
    method: string;
    path: string;
    auth: string | null;
    body: string;
    connection: string | null;
  }> = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const body = await request.text();
      seen.push({
        method: request.method,
        path: url.pathname + url.search,
        auth: request.headers.get('authorization'),
        body,
        connection: request.headers.get('connection'),
      });
      return answer(request, url);
    },
  });
  return { server, seen, url: `http://127.0.0.1:${server.port}/ari` };
}

/**
 * A TCP relay in front of `port` that counts the connections made through it, as ARI would see
 * them: opened in all, and open now.
 */
function connectionCounter(port: number) {
  let open = 0;
  let opened = 0;
  type Relay = { upstream: Socket<undefined> | null; early: Uint8Array[] };
  const listener = Bun.listen<Relay>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      async open(client) {
        open += 1;
        opened += 1;
        client.data = { upstream: null, early: [] };
        const upstream = await Bun.connect({
          hostname: '127.0.0.1',
          port,
          socket: {
            data: (_, chunk) => {
              client.write(chunk);
            },
            close: () => {
              client.end();
            },
          },
        });
        client.data.upstream = upstream;
        for (const chunk of client.data.early.splice(0)) upstream.write(chunk);
      },
      data(client, chunk) {
        if (client.data.upstream) client.data.upstream.write(chunk);
        else client.data.early.push(new Uint8Array(chunk));
      },
      close(client) {
        open -= 1;
        client.data.upstream?.end();
      },
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}/ari`,
    open: () => open,
    opened: () => opened,
    stop: () => listener.stop(true),
  };
}

const servers: Array<{ stop(force?: boolean): void }> = [];
const clients: AriClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  for (const server of servers.splice(0)) server.stop(true);
});

function client(baseUrl: string, overrides: Partial<AriClientOptions> = {}) {
  const metrics = createMetrics();
  const c = new AriClient({
    baseUrl,
    username: 'ariuser',
    password: 'aripass',
    maxConnections: 10,
    maxKeepalive: 2,
    requestTimeoutMs: 300,
    probeTimeoutMs: 150,
    breakerFailures: 3,
    breakerHalfOpenAfterMs: 200,
    retryAttempts: 3,
    retryInitialDelayMs: 5,
    retryMaxDelayMs: 20,
    metrics,
    log: createLogger({ level: 'silent' }),
    ...overrides,
  });
  clients.push(c);
  return { client: c, metrics };
}

/** Polls until `done` holds; fails after 5 s. */
async function until(done: () => boolean) {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await Bun.sleep(5);
  }
}

const channel = (id: string) => ({ id, name: `Local/5551234000@sim-callee-00000001;1`, state: 'Down' });
const request = (channelId: string) => ({
  channelId,
  endpoint: 'Local/5551234000@sim-callee',
  timeoutS: 30,
  callerId: 'Contact Center <5550001111>',
  target: { style: 'dialplan' as const, context: 'outbound-ivr', extension: 's', priority: 1 },
  variables: { TRACEPARENT: '00-abc-def-01', CC_CAMPAIGN: '42' },
});

describe('AriClient', () => {
  test('originate: query parameters, variables in a JSON body, basic auth', async () => {
    const ari = fakeAri((_req, url) => Response.json(channel(url.searchParams.get('channelId')!)));
    servers.push(ari.server);
    const { client: c } = client(ari.url);
    const result = await c.originate(request('call-1'));
    expect(result.id).toBe('call-1');
    const sent = ari.seen[0]!;
    const query = new URL(`http://x${sent.path}`).searchParams;
    expect(sent.path.startsWith('/ari/channels?')).toBe(true);
    expect(Object.fromEntries(query)).toEqual({
      endpoint: 'Local/5551234000@sim-callee',
      timeout: '30',
      channelId: 'call-1',
      callerId: 'Contact Center <5550001111>',
      context: 'outbound-ivr',
      extension: 's',
      priority: '1',
    });
    expect(JSON.parse(sent.body)).toEqual({ variables: { TRACEPARENT: '00-abc-def-01', CC_CAMPAIGN: '42' } });
    expect(sent.auth).toBe(`Basic ${btoa('ariuser:aripass')}`);
  });

  test('5xx and timeouts of a GET are retried; a success after them is a success', async () => {
    let n = 0;
    const ari = fakeAri(async () => {
      n += 1;
      if (n === 1) return new Response('{"message":"oops"}', { status: 503 });
      if (n === 2) {
        await Bun.sleep(500);
        return Response.json([channel('late')]);
      }
      return Response.json([channel('call-2')]);
    });
    servers.push(ari.server);
    const { client: c } = client(ari.url);
    expect((await c.listChannels()).map((ch) => ch.id)).toEqual(['call-2']);
    expect(n).toBe(3);
    expect(c.breakerState()).toBe('closed');
  });

  test('an originate is retried after a 5xx, never after a timeout: ARI may have carried it out', async () => {
    let n = 0;
    const ari = fakeAri(async (_req, url) => {
      n += 1;
      if (n === 1) return new Response('{"message":"oops"}', { status: 503 });
      await Bun.sleep(500);
      return Response.json(channel(url.searchParams.get('channelId')!));
    });
    servers.push(ari.server);
    const { client: c } = client(ari.url);
    const error = await c.originate(request('call-3')).catch((e) => e);
    expect(n).toBe(2);
    expect(isAriError(error) && [error.kind, error.retryable, error.outcomeUnknown]).toEqual([
      'timeout',
      false,
      true,
    ]);
  });

  test('an originate that could not connect is not an unknown outcome, and is retried', async () => {
    const ari = fakeAri(() => Response.json(channel('x')));
    const port = ari.server.port;
    ari.server.stop(true);
    const { client: c } = client(`http://127.0.0.1:${port}/ari`);
    const error = await c.originate(request('call-4')).catch((e) => e);
    expect(isAriError(error) && [error.kind, error.retryable, error.outcomeUnknown]).toEqual([
      'network',
      true,
      false,
    ]);
  });

  test('4xx is not retried and does not count for the breaker; Allocation failed is not retried', async () => {
    const ari = fakeAri((_req, url) =>
      url.searchParams.get('endpoint')?.startsWith('Foo/')
        ? Response.json({ error: 'Allocation failed' }, { status: 500 })
        : Response.json({ message: 'Invalid endpoint specified' }, { status: 400 }),
    );
    servers.push(ari.server);
    const { client: c } = client(ari.url);
    for (let i = 0; i < 5; i++) {
      const error = await c.originate(request(`bad-${i}`)).catch((e) => e);
      expect(isAriError(error) && error.status).toBe(400);
      expect(isAriError(error) && error.retryable).toBe(false);
    }
    const alloc = await c.originate({ ...request('alloc'), endpoint: 'Foo/1' }).catch((e) => e);
    expect(isAriError(alloc) && alloc.ariMessage).toBe('Allocation failed');
    expect(ari.seen.length).toBe(6);
    expect(c.breakerState()).toBe('closed');
  });

  test('consecutive failures open the breaker; it answers at once; a probe closes it when ARI is back', async () => {
    let healthy = false;
    const ari = fakeAri((_req, url) => {
      if (!healthy) return new Response('', { status: 503 });
      return url.pathname.endsWith('/ping') ? Response.json({ ping: 'pong' }) : Response.json([]);
    });
    servers.push(ari.server);
    const { client: c, metrics } = client(ari.url, { retryAttempts: 1 });
    const states: string[] = [];
    c.onBreakerChange((s) => states.push(s));
    for (let i = 0; i < 3; i++) await c.listChannels().catch(() => undefined);
    expect(c.breakerState()).toBe('open');
    const started = performance.now();
    const error = await c.listChannels().catch((e) => e);
    expect(performance.now() - started).toBeLessThan(20);
    expect(isAriError(error) && error.kind).toBe('breaker_open');
    expect(isAriError(error) && error.retryAfterS).toBe(1);
    expect((await metrics.registry.getSingleMetric('sidecar_breaker_state')!.get()).values[0]!.value).toBe(2);
    const before = ari.seen.length;
    healthy = true;
    // No traffic from us: the breaker probes by itself after halfOpenAfter.
    await Bun.sleep(350);
    expect(c.breakerState()).toBe('closed');
    expect(ari.seen.slice(before).map((s) => s.path)).toEqual(['/ari/asterisk/ping']);
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });

  test('probes tell the truth but are neither refused by the breaker nor counted by it', async () => {
    let healthy = true;
    const ari = fakeAri(async (_req, url) => {
      if (!healthy) return new Response('', { status: 503 });
      await Bun.sleep(20);
      return url.pathname.endsWith('/ping') ? Response.json({ ping: 'pong' }) : Response.json([]);
    });
    servers.push(ari.server);
    const { client: c } = client(ari.url);
    expect(c.reachability().reachable).toBeNull();
    // Overlapping probes share one ping.
    await Promise.all(Array.from({ length: 5 }, () => c.probe()));
    expect(ari.seen.map((s) => s.path)).toEqual(['/ari/asterisk/ping']);
    expect(c.reachability()).toMatchObject({ reachable: true, error: null });

    healthy = false;
    for (let i = 0; i < 10; i++) {
      const error = await c.probe().catch((e) => e);
      expect(isAriError(error) && error.status).toBe(503);
    }
    // One attempt each, no retries; the breaker never heard of them.
    expect(ari.seen.length).toBe(11);
    expect(c.breakerState()).toBe('closed');
    expect(c.reachability()).toMatchObject({ reachable: false, error: expect.stringContaining('503') });

    // Opened by real traffic, the breaker refuses calls; probes still reach ARI.
    for (let i = 0; i < 3; i++) await c.listChannels().catch(() => undefined);
    expect(c.breakerState()).toBe('open');
    expect(await c.listChannels().catch((e) => isAriError(e) && e.kind)).toBe('breaker_open');
    expect(await c.probe().catch((e) => isAriError(e) && e.kind)).toBe('status');
  });

  test('ARI seen answering while the breaker is open: its test runs now, not at the end of the delay', async () => {
    let healthy = false;
    const ari = fakeAri((_req, url) => {
      if (!healthy) return new Response('', { status: 503 });
      return url.pathname.endsWith('/ping') ? Response.json({ ping: 'pong' }) : Response.json([]);
    });
    servers.push(ari.server);
    const { client: c } = client(ari.url, { retryAttempts: 1, breakerHalfOpenAfterMs: 30_000 });
    for (let i = 0; i < 3; i++) await c.listChannels().catch(() => undefined);
    expect(c.breakerState()).toBe('open');
    // Seen while still failing: the test runs, fails, and the breaker opens again for the whole delay.
    const states: string[] = [];
    c.onBreakerChange((state) => states.push(state));
    c.noteReachable();
    await until(() => states.join() === 'half_open,open');
    expect(ari.seen.at(-1)!.path).toBe('/ari/asterisk/ping');
    expect(c.retryAfterS()).toBeGreaterThan(20);
    healthy = true;
    await c.probe();
    // Far sooner than the 30 s delay.
    await until(() => c.breakerState() === 'closed');
    expect(states).toEqual(['half_open', 'open', 'half_open', 'closed']);
  });

  test('a probe gives up after its own short timeout', async () => {
    const ari = fakeAri(() => new Promise<Response>(() => undefined));
    servers.push(ari.server);
    const { client: c } = client(ari.url, { requestTimeoutMs: 5000, probeTimeoutMs: 100 });
    const error = await c.probe().catch((e) => e);
    expect(isAriError(error) && error.kind).toBe('timeout');
    expect(isAriError(error) && error.message).toContain('100 ms');
    expect(c.breakerState()).toBe('closed');
  });

  test('getChannel and hangup treat 404 as an answer', async () => {
    const ari = fakeAri(() => Response.json({ message: 'Channel not found' }, { status: 404 }));
    servers.push(ari.server);
    const { client: c } = client(ari.url);
    expect(await c.getChannel('gone')).toBeNull();
    expect(await c.hangup('gone')).toBe('gone');
    expect(ari.seen.length).toBe(2);
  });

  test('requests beyond the keep-alive budget ask for their connection to be closed', async () => {
    const ari = fakeAri(async () => {
      await Bun.sleep(30);
      return Response.json([]);
    });
    servers.push(ari.server);
    const tcp = connectionCounter(ari.server.port!);
    servers.push(tcp);
    const { client: c } = client(tcp.url, { maxKeepalive: 2 });
    await Promise.all(Array.from({ length: 6 }, () => c.listChannels()));
    expect(ari.seen.filter((s) => s.connection === 'close').length).toBe(4);
    await Bun.sleep(50);
    expect(tcp.open()).toBeLessThanOrEqual(2);
    // The connections kept are used again.
    await Promise.all(Array.from({ length: 2 }, () => c.listChannels()));
    expect(tcp.opened()).toBe(6);
  });

  test('ARI is reached directly, whatever proxy the environment names', async () => {
    const ari = fakeAri(() => Response.json([]));
    servers.push(ari.server);
    const before = process.env.HTTP_PROXY;
    // Nothing listens there: a request sent through it would fail.
    process.env.HTTP_PROXY = 'http://127.0.0.1:1';
    try {
      const { client: c } = client(ari.url);
      expect(await c.listChannels()).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = before;
    }
  });

  test('idle connections are closed on close()', async () => {
    // Answers that take a while: the two requests overlap, so each has a connection of its own.
    const ari = fakeAri(async () => {
      await Bun.sleep(30);
      return Response.json([]);
    });
    servers.push(ari.server);
    const tcp = connectionCounter(ari.server.port!);
    servers.push(tcp);
    const { client: c } = client(tcp.url, { maxKeepalive: 2 });
    await Promise.all(Array.from({ length: 2 }, () => c.listChannels()));
    await Bun.sleep(50);
    expect(tcp.open()).toBe(2);
    await c.close();
    await Bun.sleep(50);
    expect(tcp.open()).toBe(0);
  });

  test('at most maxConnections requests at once; the others wait their turn', async () => {
    let now = 0;
    let most = 0;
    const ari = fakeAri(async () => {
      now += 1;
      most = Math.max(most, now);
      await Bun.sleep(20);
      now -= 1;
      return Response.json([]);
    });
    servers.push(ari.server);
    const tcp = connectionCounter(ari.server.port!);
    servers.push(tcp);
    const { client: c } = client(tcp.url, { maxConnections: 3, maxKeepalive: 12 });
    await Promise.all(Array.from({ length: 12 }, () => c.listChannels()));
    expect(ari.seen.length).toBe(12);
    expect(most).toBe(3);
    // All kept alive: three connections carried the twelve.
    expect(tcp.opened()).toBe(3);
  });

  test('a request waiting for a connection times out like one sent, and leaves the line', async () => {
    const ari = fakeAri(async () => {
      await Bun.sleep(400);
      return Response.json([]);
    });
    servers.push(ari.server);
    // One connection, held by a list that ARI answers after the request timeout (300 ms); the
    // probe behind it has 150 ms.
    const { client: c } = client(ari.url, { maxConnections: 1, retryAttempts: 1 });
    const settled: string[] = [];
    const list = c.listChannels().then(
      () => 'answered',
      (error) => (isAriError(error) ? error.kind : 'other'),
    );
    void list.then(() => settled.push('list'));
    const probe = await c.probe().then(
      () => 'answered',
      (error) => (isAriError(error) ? error.kind : 'other'),
    );
    settled.push('probe');
    expect(probe).toBe('timeout');
    // Its own timeout ended it while it waited, before the list's request (ahead of it) ended.
    expect(settled).toEqual(['probe']);
    expect(await list).toBe('timeout');
    await Bun.sleep(100);
    // The probe never reached ARI, nor took the connection once it was free.
    expect(ari.seen.map((s) => s.path)).toEqual(['/ari/channels']);
  });
});
