import { afterEach, describe, expect, test } from 'bun:test';
import NodeWebSocket from 'ws';
import type { SimHandle } from './server.ts';
import {
  ari,
  DIALPLAN_STYLE,
  EventSocket,
  originatePath,
  PASS,
  STASIS_STYLE,
  simFixtures,
  USER,
} from './testing/client.ts';

const { start, open, cleanup } = simFixtures({ timeScale: 0.02, eventsBeforeReply: 'always' });
afterEach(cleanup);

const refused = async (url: string): Promise<boolean> => {
  try {
    await fetch(url);
    return false;
  } catch {
    return true;
  }
};

/** A `ws` package client that reports how its connection ended. */
const nodeClient = (sim: SimHandle, query: string) => {
  const ws = new NodeWebSocket(
    `${sim.url.replace(/^http/, 'ws')}/ari/events?${query}&api_key=${USER}:${PASS}`,
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)));
  return { ws, opened, closed };
};

describe('restart()', () => {
  test('Bun and ws clients see 1006 without a close frame; the port refuses while down', async () => {
    const sim = await start();
    const bun = await open(sim, 'app=contactcenter&subscribeAll=true');
    const node = nodeClient(sim, 'app=ccplain');
    await node.opened;
    const restarting = sim.restart({ downMs: 150 });
    expect(await bun.closed).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(await node.closed).toBe(1006);
    expect(await refused(`${sim.url}/ari/asterisk/ping`)).toBe(true);
    await restarting;
    expect((await ari(sim.url, 'GET', '/ari/asterisk/ping')).status).toBe(200);
  });

  test('afterwards: no channels, old ids 404, no apps, counters and startup time reset', async () => {
    const sim = await start();
    await open(sim, 'app=contactcenter&subscribeAll=true');
    const before = (await ari(sim.url, 'GET', '/ari/asterisk/info')).body as {
      status: { startup_time: string };
    };
    await ari(sim.url, 'POST', originatePath('555123405', { ...DIALPLAN_STYLE, channelId: 'old-1' }));
    expect(sim.liveChannels()).toBe(2);
    await Bun.sleep(5);
    await sim.restart({ downMs: 20 });
    expect(sim.liveChannels()).toBe(0);
    expect((await ari(sim.url, 'GET', '/ari/channels')).body).toEqual([]);
    expect((await ari(sim.url, 'GET', '/ari/channels/old-1')).status).toBe(404);
    expect((await ari(sim.url, 'GET', '/ari/applications')).body).toEqual([]);
    const after = (await ari(sim.url, 'GET', '/ari/asterisk/info')).body as {
      status: { startup_time: string };
    };
    expect(after.status.startup_time).not.toBe(before.status.startup_time);
    const again = await ari(
      sim.url,
      'POST',
      originatePath('555123405', { ...DIALPLAN_STYLE, channelId: 'old-1' }),
    );
    expect((again.body as { name: string }).name).toBe('Local/555123405@sim-callee-00000000;1');
  });

  test('a live call with a subscribeAll socket: silence for the delay, then the shutdown hangups, then 1006', async () => {
    const sim = await start();
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    await ari(sim.url, 'POST', originatePath('555123405', { ...DIALPLAN_STYLE, channelId: 'live-1' }));
    await main.waitFor((e) => e.type === 'Dial' && e.dialstatus === 'ANSWER');
    const count = main.events.length;
    const t0 = performance.now();
    const restarting = sim.restart({ withLiveCallDelayMs: 150, downMs: 10 });
    await Bun.sleep(100);
    expect(main.events.length).toBe(count);
    expect((await main.closed).code).toBe(1006);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(main.trail('live-1').slice(-3)).toEqual([
      'ChannelHangupRequest(Up) 4 soft',
      'ChannelHangupRequest(Up) 16 soft',
      'ChannelDestroyed(Up) 0',
    ]);
    expect(main.trail('live-1;2').slice(-4)).toEqual([
      'ChannelHangupRequest(Up) 4 soft',
      'ChannelHangupRequest(Up) 0',
      'ChannelHangupRequest(Up) 16 soft',
      'ChannelDestroyed(Up) 0',
    ]);
    await restarting;
  });

  test('the same call with only a non-subscribeAll socket: no delay (recording 74)', async () => {
    const sim = await start();
    const plain = await open(sim, 'app=ccplain');
    await ari(sim.url, 'POST', originatePath('555123405', { ...DIALPLAN_STYLE, channelId: 'live-2' }));
    const t0 = performance.now();
    await sim.restart({ withLiveCallDelayMs: 5000, downMs: 10 });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((await plain.closed).code).toBe(1006);
    expect(plain.events).toEqual([]);
  });
});

describe('dropWebSockets()', () => {
  test('sockets see 1006, apps go away, calls carry on and a new socket hears the rest', async () => {
    const sim = await start({ timeScale: 0.05 });
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    await ari(sim.url, 'POST', originatePath('555123400', { ...STASIS_STYLE, channelId: 'drop-1' }));
    await main.waitFor((e) => e.type === 'StasisStart');
    sim.dropWebSockets();
    expect((await main.closed).code).toBe(1006);
    await Bun.sleep(5);
    expect(sim.liveChannels()).toBe(2);
    expect((await ari(sim.url, 'GET', '/ari/channels/drop-1')).body).toMatchObject({ state: 'Up' });
    expect((await ari(sim.url, 'GET', '/ari/applications')).body).toEqual([]);
    const again = await open(sim, 'app=contactcenter&subscribeAll=true');
    const destroyed = await again.waitFor(
      (e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === 'drop-1',
      3000,
    );
    expect(destroyed.cause).toBe(16);
    expect(again.trail('drop-1')).toContain('StasisEnd(Up)');
  });
});

describe('setHttpFault()', () => {
  test('status faults: count, path filter, then normal service', async () => {
    const sim = await start();
    sim.setHttpFault({ kind: 'status', status: 503, count: 2, paths: /^POST \/ari\/channels$/ });
    expect((await ari(sim.url, 'GET', '/ari/channels')).status).toBe(200);
    const path = originatePath('555123404', STASIS_STYLE);
    expect(await ari(sim.url, 'POST', path)).toMatchObject({
      status: 503,
      body: { message: 'Simulated HTTP 503' },
    });
    expect((await ari(sim.url, 'POST', path)).status).toBe(503);
    expect((await ari(sim.url, 'POST', path)).status).toBe(200);
    expect(sim.stats().originates).toBe(1);
  });

  test('a custom body, and null clears the fault', async () => {
    const sim = await start();
    sim.setHttpFault({ kind: 'status', status: 500, body: { error: 'boom' } });
    expect(await ari(sim.url, 'GET', '/ari/asterisk/ping')).toMatchObject({
      status: 500,
      body: { error: 'boom' },
    });
    expect((await ari(sim.url, 'GET', '/ari/asterisk/ping')).status).toBe(500);
    sim.setHttpFault(null);
    expect((await ari(sim.url, 'GET', '/ari/asterisk/ping')).status).toBe(200);
  });

  test('hang: the request never answers, the next one does', async () => {
    const sim = await start();
    sim.setHttpFault({ kind: 'hang', count: 1 });
    const t0 = performance.now();
    await expect(
      ari(sim.url, 'GET', '/ari/channels', { signal: AbortSignal.timeout(150) }),
    ).rejects.toThrow();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect((await ari(sim.url, 'GET', '/ari/channels')).status).toBe(200);
  });

  test('a fault on the events path refuses the websocket', async () => {
    const sim = await start();
    sim.setHttpFault({ kind: 'status', status: 503, paths: /\/ari\/events/ });
    await expect(EventSocket.open(sim.url, 'app=contactcenter')).rejects.toThrow();
  });
});

describe('control surface /_sim', () => {
  test('fault, originates, stats, drop-websockets and restart over HTTP', async () => {
    const sim = await start();
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    const fault = await ari(sim.url, 'POST', '/_sim/fault', {
      body: { kind: 'status', status: 502, count: 1, paths: '^/ari/asterisk' },
    });
    expect(fault.status).toBe(200);
    expect((await ari(sim.url, 'GET', '/ari/asterisk/ping')).status).toBe(502);
    expect((await ari(sim.url, 'GET', '/ari/asterisk/ping')).status).toBe(200);

    await ari(sim.url, 'POST', originatePath('555123407', { ...STASIS_STYLE, channelId: 'ctl-1' }));
    const originates = (await ari(sim.url, 'GET', '/_sim/originates')).body as Array<Record<string, unknown>>;
    expect(originates).toEqual([
      { at: expect.any(Number), channelId: 'ctl-1', endpoint: 'Local/555123407@sim-callee', status: 200 },
    ]);
    const stats = (await ari(sim.url, 'GET', '/_sim/stats')).body as {
      originates: number;
      events: number;
      sockets: number;
    };
    expect(stats.originates).toBe(1);
    expect(stats.sockets).toBe(1);
    expect(stats.events).toBeGreaterThan(5);

    expect((await ari(sim.url, 'POST', '/_sim/drop-websockets')).body).toEqual({ dropped: 1 });
    expect((await main.closed).code).toBe(1006);

    expect((await ari(sim.url, 'POST', '/_sim/restart?downMs=100')).status).toBe(202);
    await Bun.sleep(40);
    expect(await refused(`${sim.url}/ari/asterisk/ping`)).toBe(true);
    await Bun.sleep(200);
    expect((await ari(sim.url, 'GET', '/ari/asterisk/ping')).status).toBe(200);
    expect((await ari(sim.url, 'POST', '/_sim/fault', { body: null })).body).toEqual({ fault: null });
  });
});

describe('time scale', () => {
  test('the originate timeout and dialplan waits are scaled', async () => {
    const sim = await start({ timeScale: 0.01 });
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    const t0 = performance.now();
    await ari(sim.url, 'POST', originatePath('555123402', { ...DIALPLAN_STYLE, channelId: 'ts-1' }));
    await ari(sim.url, 'POST', originatePath('555123400', { ...DIALPLAN_STYLE, channelId: 'ts-2' }));
    const timeout = await main.waitFor(
      (e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === 'ts-1',
    );
    const answered = await main.waitFor(
      (e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === 'ts-2',
    );
    expect(timeout.cause).toBe(19);
    // 30 s timeout → 300 ms; ring 1 s, answer, IVR Wait(2) → about 30 ms.
    expect(timeout.at - t0).toBeGreaterThan(280);
    expect(timeout.at - t0).toBeLessThan(600);
    expect(answered.at - t0).toBeGreaterThan(25);
    expect(answered.at - t0).toBeLessThan(250);
  });

  test('timeout=5 and timeout=abc', async () => {
    const sim = await start({ timeScale: 0.01 });
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    const t0 = performance.now();
    await ari(
      sim.url,
      'POST',
      originatePath('555123402', { ...STASIS_STYLE, timeout: '5', channelId: 'ts-5' }),
    );
    await ari(
      sim.url,
      'POST',
      originatePath('555123402', { ...STASIS_STYLE, timeout: 'abc', channelId: 'ts-abc' }),
    );
    const five = await main.waitFor(
      (e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === 'ts-5',
    );
    const abc = await main.waitFor(
      (e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === 'ts-abc',
    );
    expect(five.at - t0).toBeLessThan(200);
    expect(abc.at - t0).toBeGreaterThan(280);
  });
});
