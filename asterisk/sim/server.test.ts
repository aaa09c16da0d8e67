import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type SimHandle, startAriSimulator } from './server.ts';
import {
  ari,
  DIALPLAN_STYLE,
  EventSocket,
  GOOD_BASIC,
  originatePath,
  PASS,
  rawUpgrade,
  STASIS_STYLE,
  USER,
} from './testing/client.ts';

const UNAUTHORIZED = { message: 'Authentication required' };
const REALM = 'Basic realm="Asterisk REST Interface"';

let sim: SimHandle;
let main: EventSocket;

beforeAll(async () => {
  sim = await startAriSimulator({ timeScale: 0.02, asteriskVersion: '22.99.0', eventsBeforeReply: 'always' });
  main = await EventSocket.open(sim.url, 'app=contactcenter&subscribeAll=true');
});

afterAll(async () => {
  await sim.stop();
});

let seq = 0;
const uniqueId = (prefix: string) => `${prefix}-${Date.now()}-${seq++}`;

describe('authentication', () => {
  test('no credentials, a wrong password or a wrong api_key: 401 with the realm', async () => {
    for (const [path, auth] of [
      ['/ari/asterisk/info', null],
      ['/ari/asterisk/info', `Basic ${btoa(`${USER}:wrong`)}`],
      ['/ari/asterisk/info', `Basic ${btoa(`nosuchuser:${PASS}`)}`],
      [`/ari/asterisk/info?api_key=${USER}:wrong`, null],
      ['/ari/channels', `Basic ${btoa(`${USER}:wrong`)}`],
    ] as const) {
      const r = await ari(sim.url, 'GET', path, { auth });
      expect(r.status).toBe(401);
      expect(r.body).toEqual(UNAUTHORIZED);
      expect(r.headers.get('www-authenticate')).toBe(REALM);
    }
  });

  test('api_key works, and a Basic header wins over it', async () => {
    expect(
      (await ari(sim.url, 'GET', `/ari/asterisk/ping?api_key=${USER}:${PASS}`, { auth: null })).status,
    ).toBe(200);
    const r = await ari(sim.url, 'GET', `/ari/asterisk/ping?api_key=${USER}:${PASS}`, {
      auth: `Basic ${btoa(`${USER}:wrong`)}`,
    });
    expect(r.status).toBe(401);
  });

  test('an originate with bad credentials does nothing', async () => {
    const before = sim.originates.length;
    const r = await ari(sim.url, 'POST', originatePath('555123400', DIALPLAN_STYLE), { auth: null });
    expect(r.status).toBe(401);
    expect(sim.originates.length).toBe(before);
  });

  test('websocket upgrades with bad or no credentials are refused with the same 401', async () => {
    for (const [path, headers] of [
      [`/ari/events?app=x&api_key=${USER}:wrong`, {}],
      ['/ari/events?app=x', { Authorization: `Basic ${btoa(`${USER}:wrong`)}` }],
      ['/ari/events?app=x', {}],
    ] as const) {
      const r = await rawUpgrade(sim.port, path, headers);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body)).toEqual(UNAUTHORIZED);
      expect(r.wwwAuthenticate).toBe(REALM);
    }
    expect((await rawUpgrade(sim.port, '/ari/events?app=x', { Authorization: GOOD_BASIC })).status).toBe(101);
  });

  test('a websocket without app is a 400 with an HTML body', async () => {
    for (const path of [`/ari/events?api_key=${USER}:${PASS}`, `/ari/events?app=&api_key=${USER}:${PASS}`]) {
      const r = await rawUpgrade(sim.port, path, {});
      expect(r.status).toBe(400);
      expect(r.body).toContain('<p>HTTP request is missing param: [app]</p>');
    }
  });

  test('the control surface needs the same credentials', async () => {
    expect((await ari(sim.url, 'GET', '/_sim/stats', { auth: null })).status).toBe(401);
    expect((await ari(sim.url, 'GET', '/_sim/stats')).status).toBe(200);
  });
});

describe('resources', () => {
  test('asterisk/info carries the configured version; ping answers', async () => {
    const info = (await ari(sim.url, 'GET', '/ari/asterisk/info')).body as Record<
      string,
      Record<string, string>
    >;
    expect(info.system).toEqual({ version: '22.99.0', entity_id: '02:fc:00:00:00:01' });
    expect(Object.keys(info)).toEqual(['build', 'system', 'config', 'status']);
    const ping = (await ari(sim.url, 'GET', '/ari/asterisk/ping')).body as Record<string, string>;
    expect(ping.ping).toBe('pong');
    expect(ping.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
  });

  test('applications: registered apps, one app, an unknown one', async () => {
    const apps = (await ari(sim.url, 'GET', '/ari/applications')).body as Array<{ name: string }>;
    expect(apps.map((a) => a.name)).toContain('contactcenter');
    const one = await ari(sim.url, 'GET', '/ari/applications/contactcenter');
    expect(one.body).toEqual({
      name: 'contactcenter',
      channel_ids: ['__AST_CHANNEL_ALL_TOPIC'],
      bridge_ids: ['__AST_BRIDGE_ALL_TOPIC'],
      endpoint_ids: ['__AST_ENDPOINT_ALL_TOPIC'],
      device_names: ['__AST_DEVICE_STATE_ALL_TOPIC'],
      events_allowed: [],
      events_disallowed: [],
    });
    const missing = await ari(sim.url, 'GET', '/ari/applications/nosuchapp');
    expect([missing.status, missing.body]).toEqual([404, { message: 'Application not found' }]);
  });

  test('endpoints and bridges are empty; unknown resources and methods', async () => {
    expect((await ari(sim.url, 'GET', '/ari/endpoints')).body).toEqual([]);
    expect((await ari(sim.url, 'GET', '/ari/bridges')).body).toEqual([]);
    const unknown = await ari(sim.url, 'GET', '/ari/nosuchresource');
    expect([unknown.status, unknown.body]).toEqual([404, { message: 'Resource not found' }]);
    const method = await ari(sim.url, 'PUT', '/ari/channels');
    expect([method.status, method.body]).toEqual([405, { message: 'Invalid method' }]);
  });
});

describe('originate', () => {
  test('200 with the Down `;1` snapshot, and both legs listed', async () => {
    const id = uniqueId('orig');
    const r = await ari(sim.url, 'POST', originatePath('555123405', { ...DIALPLAN_STYLE, channelId: id }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id,
      state: 'Down',
      protocol_id: '',
      caller: { name: 'Contact Center', number: '5550001111' },
      connected: { name: 'Contact Center', number: '5550001111' },
      accountcode: '',
      dialplan: {
        context: 'sim-callee',
        exten: '555123405',
        priority: 1,
        app_name: 'AppDial2',
        app_data: '(Outgoing Line)',
      },
      language: 'en',
    });
    expect((r.body as { name: string }).name).toMatch(/^Local\/555123405@sim-callee-[0-9a-f]{8};1$/);
    const list = (await ari(sim.url, 'GET', '/ari/channels')).body as Array<{ id: string }>;
    expect(list.map((c) => c.id)).toEqual(expect.arrayContaining([id, `${id};2`]));
    const leg2 = await ari(sim.url, 'GET', `/ari/channels/${encodeURIComponent(`${id};2`)}`);
    expect(leg2.body).toMatchObject({ id: `${id};2`, state: 'Ring' });
    expect((await ari(sim.url, 'DELETE', `/ari/channels/${id}`)).status).toBe(204);
  });

  test('without ids Asterisk-style ids "<epoch>.<seq>", `;2` the next one', async () => {
    const r = await ari(sim.url, 'POST', originatePath('555123405', STASIS_STYLE));
    const { id, name } = r.body as { id: string; name: string };
    expect(id).toMatch(/^\d{10}\.\d+$/);
    const list = (await ari(sim.url, 'GET', '/ari/channels')).body as Array<{ id: string; name: string }>;
    const leg2 = list.find((c) => c.name === name.replace(/;1$/, ';2'));
    const [epoch, n] = id.split('.');
    expect(leg2?.id).toBe(`${epoch}.${Number(n) + 1}`);
    await ari(sim.url, 'DELETE', `/ari/channels/${id}`);
  });

  test('otherChannelId names `;2`; POST /channels/{id} takes the id from the path', async () => {
    const id = uniqueId('path');
    const r = await ari(
      sim.url,
      'POST',
      `/ari/channels/${id}?${new URLSearchParams({ endpoint: 'Local/555123405@sim-callee', app: 'contactcenter', otherChannelId: `${id}-callee` })}`,
    );
    expect((r.body as { id: string }).id).toBe(id);
    expect((await ari(sim.url, 'GET', `/ari/channels/${id}-callee`)).status).toBe(200);
    await ari(sim.url, 'DELETE', `/ari/channels/${id}`);
  });

  test('a JSON body with variables; CALLERID(name) changes the caller name', async () => {
    const id = uniqueId('body');
    const r = await ari(sim.url, 'POST', '/ari/channels', {
      body: {
        endpoint: 'Local/555123405@sim-callee',
        callerId: 'Contact Center <5550001111>',
        app: 'contactcenter',
        channelId: id,
        variables: { CC_CAMPAIGN: '42', 'CALLERID(name)': 'Campaign 42' },
      },
    });
    expect(r.body).toMatchObject({ caller: { name: 'Campaign 42' }, connected: { name: 'Contact Center' } });
    expect((await ari(sim.url, 'GET', `/ari/channels/${id}/variable?variable=CC_CAMPAIGN`)).body).toEqual({
      value: '42',
    });
    const leg2 = await ari(
      sim.url,
      'GET',
      `/ari/channels/${encodeURIComponent(`${id};2`)}/variable?variable=CC_CAMPAIGN`,
    );
    expect(leg2.body).toEqual({ value: '42' });
    await ari(sim.url, 'DELETE', `/ari/channels/${id}`);
  });

  test('unknown technology: 500 with "error", not "message"', async () => {
    for (const endpoint of ['Foo/5551234000', 'PJSIP/5551234000', 'SIP/5551234000@trunk']) {
      const r = await ari(
        sim.url,
        'POST',
        `/ari/channels?${new URLSearchParams({ endpoint, app: 'contactcenter' })}`,
      );
      expect([r.status, r.body]).toEqual([500, { error: 'Allocation failed' }]);
    }
  });

  test('a body that is not JSON', async () => {
    const r = await ari(sim.url, 'POST', '/ari/channels', { rawBody: '{not json' });
    expect([r.status, r.body]).toEqual([400, { message: 'Error parsing request body' }]);
  });

  test('409 for a live id in the query, in the path and equal to a live `;2`; reuse once gone', async () => {
    const id = uniqueId('dup');
    const conflict = { message: 'Channel with given unique ID already exists' };
    expect(
      (await ari(sim.url, 'POST', originatePath('555123405', { ...DIALPLAN_STYLE, channelId: id }))).status,
    ).toBe(200);
    for (const path of [
      originatePath('555123405', { ...DIALPLAN_STYLE, channelId: id }),
      originatePath('555123405', { app: 'contactcenter', channelId: id }),
      `/ari/channels/${id}?${new URLSearchParams({ endpoint: 'Local/555123405@sim-callee', ...DIALPLAN_STYLE })}`,
      originatePath('555123405', { ...DIALPLAN_STYLE, channelId: `${id};2` }),
    ]) {
      const r = await ari(sim.url, 'POST', path);
      expect([r.status, r.body]).toEqual([409, conflict]);
    }
    expect((await ari(sim.url, 'DELETE', `/ari/channels/${id}`)).status).toBe(204);
    await main.waitFor(
      (e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === `${id};2`,
    );
    expect(
      (await ari(sim.url, 'POST', originatePath('555123404', { ...DIALPLAN_STYLE, channelId: id }))).status,
    ).toBe(200);
  });

  test('otherChannelId colliding: the attempted `;1` is created and destroyed (cause 0) before the 409', async () => {
    const live = uniqueId('live');
    const attempt = uniqueId('attempt');
    await ari(sim.url, 'POST', originatePath('555123405', { ...DIALPLAN_STYLE, channelId: live }));
    const r = await ari(
      sim.url,
      'POST',
      originatePath('555123405', { ...DIALPLAN_STYLE, channelId: attempt, otherChannelId: live }),
    );
    expect(r.status).toBe(409);
    expect(main.trail(attempt)).toEqual(['ChannelCreated(Down)', 'ChannelDestroyed(Down) 0']);
    const destroyed = main.events.find(
      (e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === attempt,
    );
    expect(destroyed?.at).toBeLessThan(r.at);
    await ari(sim.url, 'DELETE', `/ari/channels/${live}`);
  });

  test('the Local name counter is hex and counts every attempt that reached Local', async () => {
    const own = await startAriSimulator({ timeScale: 0.02 });
    try {
      const names: string[] = [];
      for (let i = 0; i < 17; i++) {
        const r = await ari(own.url, 'POST', originatePath('555123407', STASIS_STYLE));
        names.push((r.body as { name: string }).name);
      }
      expect(names[0]).toBe('Local/555123407@sim-callee-00000000;1');
      expect(names[16]).toBe('Local/555123407@sim-callee-00000010;1');
    } finally {
      await own.stop();
    }
  });
});

describe('channel variables and hangup', () => {
  test('GET variable: a function, an unset variable, no name, no channel', async () => {
    const id = uniqueId('var');
    await ari(sim.url, 'POST', originatePath('555123405', { ...DIALPLAN_STYLE, channelId: id }));
    const v = (name: string) =>
      ari(sim.url, 'GET', `/ari/channels/${id}/variable?variable=${encodeURIComponent(name)}`);
    expect((await v('CALLERID(num)')).body).toEqual({ value: '5550001111' });
    expect(await v('NO_SUCH_VAR')).toMatchObject({
      status: 404,
      body: { message: 'Provided variable was not found' },
    });
    expect(await ari(sim.url, 'GET', `/ari/channels/${id}/variable`)).toMatchObject({
      status: 400,
      body: { message: 'Variable name is required' },
    });
    expect(await ari(sim.url, 'GET', '/ari/channels/nope/variable?variable=X')).toMatchObject({
      status: 404,
      body: { message: 'Provided channel was not found' },
    });
    await ari(sim.url, 'DELETE', `/ari/channels/${id}`);
  });

  test('DELETE while ringing: 204, Dial NOANSWER, cause 16, then 404', async () => {
    const id = uniqueId('hup');
    await ari(sim.url, 'POST', originatePath('555123402', { ...DIALPLAN_STYLE, channelId: id }));
    const r = await ari(sim.url, 'DELETE', `/ari/channels/${id}`);
    expect([r.status, r.body]).toEqual([204, null]);
    await main.waitFor((e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === id);
    expect(main.trail(id)).toEqual([
      'ChannelCreated(Down)',
      'Dial(Down) ',
      'ChannelStateChange(Ringing)',
      'Dial(Ringing) RINGING',
      'ChannelHangupRequest(Ringing) 32 soft',
      'Dial(Ringing) NOANSWER',
      'ChannelDestroyed(Ringing) 16',
    ]);
    expect(await ari(sim.url, 'DELETE', `/ari/channels/${id}`)).toMatchObject({
      status: 404,
      body: { message: 'Channel not found' },
    });
    expect(await ari(sim.url, 'GET', `/ari/channels/${id}`)).toMatchObject({
      status: 404,
      body: { message: 'Channel not found' },
    });
  });

  test('DELETE reasons: bogus is refused, busy becomes Dial BUSY and cause 17', async () => {
    const id = uniqueId('busy');
    await ari(sim.url, 'POST', originatePath('555123402', { ...DIALPLAN_STYLE, channelId: id }));
    expect(await ari(sim.url, 'DELETE', `/ari/channels/${id}?reason=bogus`)).toMatchObject({
      status: 400,
      body: { message: 'Invalid reason for hangup reason provided' },
    });
    expect(await ari(sim.url, 'DELETE', `/ari/channels/${id}?reason=busy&reason_code=17`)).toMatchObject({
      status: 400,
      body: { message: "The reason and reason_code can't both be specified" },
    });
    expect((await ari(sim.url, 'DELETE', `/ari/channels/${id}?reason=busy`)).status).toBe(204);
    await main.waitFor(
      (e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === `${id};2`,
    );
    expect(main.trail(id).slice(-2)).toEqual(['Dial(Ringing) BUSY', 'ChannelDestroyed(Ringing) 17']);
    expect(main.trail(`${id};2`).slice(-3)).toEqual([
      'ChannelHangupRequest(Ring) 17',
      'ChannelHangupRequest(Ring) 16 soft',
      'ChannelDestroyed(Ring) 17',
    ]);
  });

  test('DELETE with reason_code passes any cause through', async () => {
    const id = uniqueId('code');
    await ari(sim.url, 'POST', originatePath('555123402', { ...DIALPLAN_STYLE, channelId: id }));
    expect((await ari(sim.url, 'DELETE', `/ari/channels/${id}?reason_code=21`)).status).toBe(204);
    await main.waitFor((e) => e.type === 'ChannelDestroyed' && (e.channel as { id: string }).id === id);
    expect(main.trail(id).slice(-2)).toEqual(['Dial(Ringing) NOANSWER', 'ChannelDestroyed(Ringing) 21']);
  });
});
