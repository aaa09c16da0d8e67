import { afterEach, describe, expect, test } from 'bun:test';
import { ari, DIALPLAN_STYLE, originatePath, rawPost, STASIS_STYLE, simFixtures } from './testing/client.ts';

const { start, open, cleanup } = simFixtures({ timeScale: 0.02 });
afterEach(cleanup);

const destroyedEvent = (id: string) => (e: { type: string; channel?: unknown }) =>
  e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === id;

describe('subscribeAll', () => {
  test('an app without subscribeAll hears nothing of a dialplan-style originate', async () => {
    const sim = await start();
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    const plain = await open(sim, 'app=ccplain');
    await ari(sim.url, 'POST', originatePath('555123404', { ...DIALPLAN_STYLE, channelId: 'dp-1' }));
    await main.waitFor(destroyedEvent('dp-1'));
    await Bun.sleep(20);
    expect(plain.events).toEqual([]);
    expect(main.events.some((e) => e.type === 'DeviceStateChanged')).toBe(true);
  });

  test('originating into its own app, it hears both legs from Dial on, but no ChannelCreated', async () => {
    const sim = await start();
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    const plain = await open(sim, 'app=ccplain');
    await ari(
      sim.url,
      'POST',
      originatePath('555123404', { app: 'ccplain', appArgs: 'a,b', channelId: 'pl-1' }),
    );
    await plain.waitFor(destroyedEvent('pl-1'));
    expect(plain.trail('pl-1')).toEqual([
      'Dial(Down) ',
      'ChannelStateChange(Up)',
      'Dial(Up) ANSWER',
      'ChannelVarset(Up) STASISSTATUS=',
      'StasisStart(Up)',
      'ChannelHangupRequest(Up) 16',
      'StasisEnd(Up)',
      'ChannelVarset(Up) STASISSTATUS=SUCCESS',
      'ChannelDestroyed(Up) 16',
    ]);
    expect(plain.trail('pl-1;2')).toEqual([
      'ChannelStateChange(Up)',
      'ChannelHangupRequest(Up) 16 soft',
      'ChannelDestroyed(Up) 16',
    ]);
    expect(plain.events.some((e) => e.type === 'DeviceStateChanged')).toBe(false);
    expect(plain.events.find((e) => e.type === 'StasisStart')?.args).toEqual(['a', 'b']);
    // The subscribeAll app sees the channels, but not the Stasis events of another app.
    await main.waitFor(destroyedEvent('pl-1'));
    expect(main.trail('pl-1')).not.toContain('StasisStart(Up)');
    expect(main.trail('pl-1')[0]).toBe('ChannelCreated(Down)');
  });

  test('GET /applications lists the channels a non-subscribeAll app is subscribed to', async () => {
    const sim = await start();
    await open(sim, 'app=ccplain');
    await ari(sim.url, 'POST', originatePath('555123405', { app: 'ccplain', channelId: 'sub-1' }));
    const app = (await ari(sim.url, 'GET', '/ari/applications/ccplain')).body as { channel_ids: string[] };
    expect(app.channel_ids.sort()).toEqual(['sub-1', 'sub-1;2']);
  });
});

describe('application registration', () => {
  test('a second socket takes the app over; the first gets ApplicationReplaced and then nothing', async () => {
    const sim = await start();
    const first = await open(sim, 'app=contactcenter&subscribeAll=true');
    const second = await open(sim, 'app=contactcenter&subscribeAll=true');
    const replaced = await first.waitFor((e) => e.type === 'ApplicationReplaced');
    expect(Object.keys(replaced).filter((k) => k !== 'at')).toEqual([
      'type',
      'timestamp',
      'application',
      'asterisk_id',
    ]);
    await ari(sim.url, 'POST', originatePath('555123404', { app: 'contactcenter', channelId: 'tw-1' }));
    await second.waitFor(destroyedEvent('tw-1'));
    expect(first.events.map((e) => e.type)).toEqual(['ApplicationReplaced']);
    // Closing the new socket deregisters the app even though the first one is still open.
    second.close();
    await second.closed;
    await Bun.sleep(10);
    expect((await ari(sim.url, 'GET', '/ari/applications/contactcenter')).status).toBe(404);
  });

  test('an app whose socket closed: originate still 200, answered, STASISSTATUS=FAILED, cause 0', async () => {
    const sim = await start();
    const observer = await open(sim, 'app=observer&subscribeAll=true');
    const cc = await open(sim, 'app=contactcenter');
    cc.close();
    await cc.closed;
    await Bun.sleep(10);
    const r = await ari(
      sim.url,
      'POST',
      originatePath('555123400', { ...STASIS_STYLE, channelId: 'gone-1' }),
    );
    expect(r.status).toBe(200);
    await observer.waitFor(destroyedEvent('gone-1'));
    expect(observer.trail('gone-1').slice(-4)).toEqual([
      'Dial(Up) ANSWER',
      'ChannelVarset(Up) STASISSTATUS=',
      'ChannelVarset(Up) STASISSTATUS=FAILED',
      'ChannelDestroyed(Up) 0',
    ]);
    expect(observer.events.some((e) => e.type === 'StasisStart')).toBe(false);
  });

  test('app=a,b registers both apps on one socket', async () => {
    const sim = await start();
    await open(sim, 'app=one,two');
    const apps = (await ari(sim.url, 'GET', '/ari/applications')).body as Array<{ name: string }>;
    expect(apps.map((a) => a.name)).toEqual(['one', 'two']);
  });
});

describe('Stasis', () => {
  test('answer and play: 204, PlaybackStarted before the 201, PlaybackFinished after hello-world', async () => {
    const sim = await start();
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    await ari(sim.url, 'POST', originatePath('555123405', { ...STASIS_STYLE, channelId: 'ivr-1' }));
    // Until the callee answers, the channel is still in the originate's dial, not in Stasis.
    expect((await ari(sim.url, 'POST', '/ari/channels/ivr-1/answer')).body).toEqual({
      message: 'Channel not in Stasis application',
    });
    await main.waitFor((e) => e.type === 'StasisStart');
    expect((await ari(sim.url, 'POST', '/ari/channels/ivr-1/answer')).status).toBe(204);
    const play = await ari(
      sim.url,
      'POST',
      '/ari/channels/ivr-1/play?media=sound:hello-world&playbackId=pb-1',
    );
    expect(play.status).toBe(201);
    expect(play.body).toEqual({
      id: 'pb-1',
      media_uri: 'sound:hello-world',
      target_uri: 'channel:ivr-1',
      language: 'en',
      state: 'playing',
    });
    const started = await main.waitFor((e) => e.type === 'PlaybackStarted');
    expect(started.at).toBeLessThan(play.at);
    const finished = await main.waitFor((e) => e.type === 'PlaybackFinished');
    expect((finished.playback as { state: string }).state).toBe('done');
    // 1.42 s of audio at this time scale.
    expect(finished.at - started.at).toBeGreaterThan(1420 * 0.02 * 0.8);
  });

  test('hanging up while playing finishes the playback before StasisEnd', async () => {
    const sim = await start();
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    await ari(sim.url, 'POST', originatePath('555123405', { ...STASIS_STYLE, channelId: 'ivr-2' }));
    await main.waitFor((e) => e.type === 'StasisStart');
    await ari(sim.url, 'POST', '/ari/channels/ivr-2/play?media=sound:hello-world&playbackId=pb-2');
    expect((await ari(sim.url, 'DELETE', '/ari/channels/ivr-2')).status).toBe(204);
    await main.waitFor(destroyedEvent('ivr-2'));
    const types = main.events
      .map((e) => e.type)
      .filter((t) => t.startsWith('Playback') || t.startsWith('Stasis'));
    expect(types).toEqual(['StasisStart', 'PlaybackStarted', 'PlaybackFinished', 'StasisEnd']);
  });

  test('play on a channel that is not in Stasis is a 409', async () => {
    const sim = await start();
    await ari(sim.url, 'POST', originatePath('555123405', { ...DIALPLAN_STYLE, channelId: 'dp-play' }));
    const r = await ari(sim.url, 'POST', '/ari/channels/dp-play/play?media=sound:hello-world');
    expect([r.status, r.body]).toEqual([409, { message: 'Channel not in Stasis application' }]);
  });
});

describe('events before the HTTP reply', () => {
  test("'always': ChannelCreated, and for a fast failure even ChannelDestroyed, come first", async () => {
    const sim = await start({ eventsBeforeReply: 'always' });
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    const r = await rawPost(sim.port, originatePath('555123407', { ...STASIS_STYLE, channelId: 'fast-1' }));
    expect(r.status).toBe(200);
    const destroyed = await main.waitFor(destroyedEvent('fast-1'));
    expect(destroyed.at).toBeLessThan(r.at);
  });

  test("'never': nothing arrives before the reply", async () => {
    const sim = await start({ eventsBeforeReply: 'never' });
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    const r = await rawPost(sim.port, originatePath('555123407', { ...STASIS_STYLE, channelId: 'fast-2' }));
    expect(r.status).toBe(200);
    await main.waitFor(destroyedEvent('fast-2'));
    expect(main.events[0]?.at).toBeGreaterThan(r.at);
  });

  test("'sometimes' (default): fast failures show ChannelCreated before the 200, as in recording 55", async () => {
    const sim = await start();
    const main = await open(sim, 'app=contactcenter&subscribeAll=true');
    let createdFirst = 0;
    for (let i = 0; i < 10; i++) {
      const r = await rawPost(
        sim.port,
        originatePath('555123401', { ...STASIS_STYLE, channelId: `race-${i}` }, 'sim-trunk'),
      );
      const created = await main.waitFor(
        (e) => e.type === 'ChannelCreated' && (e.channel as { id: string }).id === `race-${i}`,
      );
      if (created.at < r.at) createdFirst++;
    }
    expect(createdFirst).toBeGreaterThanOrEqual(9);
  });
});
