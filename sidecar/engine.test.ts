import { afterEach, describe, expect, test } from 'bun:test';
import { createLogger } from '../api/shared/base/log.ts';
import type { OriginateCommand } from '../api/shared/contract/index.ts';
import { originateCommand } from '../test/harness/channel.ts';
import { tempDir } from '../test/harness/util.ts';
import { sidecarConfig } from '../test/sidecar/harness.ts';
import type { OriginateRequest } from './ari/http.ts';
import type { AriChannel, KnownAriEvent } from './ari/schemas.ts';
import { DEFAULT_TUNING } from './config.ts';
import { type AriPort, CallEngine } from './engine.ts';
import { AriError } from './errors.ts';
import { createMetrics } from './metrics.ts';
import { RateLimiter } from './pacing.ts';
import { Store } from './store.ts';

/**
 * The engine's decisions with a scripted ARI: what each originate answer becomes, events before
 * the reply, hang-up intents, reconciliation and recovery. The simulator tests in test/sidecar
 * cover the same paths end to end.
 */

type Script = Partial<{
  originate: (request: OriginateRequest, beforeAttempt?: () => Promise<void>) => Promise<AriChannel>;
  getChannel: (id: string) => Promise<AriChannel | null>;
  listChannels: () => Promise<AriChannel[]>;
  hangup: (id: string) => Promise<'hung_up' | 'gone'>;
}>;

const cleanups: Array<() => void> = [];
const dirs: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
  for (const remove of dirs.splice(0)) remove();
});

function scratch(): string {
  const dir = tempDir('sidecar-engine-');
  dirs.push(dir.remove);
  return dir.path;
}

function setup(script: Script, options: { dir?: string; connected?: boolean; queueMax?: number } = {}) {
  const dir = options.dir ?? scratch();
  const config = sidecarConfig({
    sidecarKey: { privateJson: '', publicJson: '', key: null as never },
    apiKey: { privateJson: '', publicJson: '', key: null as never },
    apiUrl: 'http://127.0.0.1:1',
    ariHttpUrl: 'http://127.0.0.1:1/ari',
    dataDir: dir,
    overrides: { sidecarId: 'unit', queueMax: options.queueMax ?? 10, maxConcurrentCalls: 5 },
  });
  const store = new Store(`${dir}/unit.sqlite`, 'unit');
  const calls: string[] = [];
  const ari: AriPort = {
    originate: async (request, beforeAttempt) => {
      calls.push(`originate ${request.channelId}`);
      if (beforeAttempt) await beforeAttempt();
      if (!script.originate) throw new Error('unscripted originate');
      return script.originate(request, beforeAttempt);
    },
    getChannel: async (id) => {
      calls.push(`get ${id}`);
      return script.getChannel ? script.getChannel(id) : null;
    },
    listChannels: async () => {
      calls.push('list');
      return script.listChannels ? script.listChannels() : [];
    },
    hangup: async (id) => {
      calls.push(`delete ${id}`);
      return script.hangup ? script.hangup(id) : 'hung_up';
    },
    breakerState: () => 'closed',
    retryAfterS: () => null,
    request: async () => ({ status: 404, body: null }),
  };
  const limiter = new RateLimiter({ limit: 100, windowMs: 1000 });
  let notified = 0;
  const engine = new CallEngine({
    config,
    tuning: { ...DEFAULT_TUNING, reconcileGraceMs: 10, resyncInitialDelayMs: 5, resyncMaxDelayMs: 20 },
    store,
    ari,
    limiter,
    metrics: createMetrics(),
    log: createLogger({ level: 'silent' }),
    eventsConnected: () => options.connected ?? true,
    onEvents: () => {
      notified += 1;
    },
  });
  cleanups.push(() => {
    limiter.close();
    store.close();
  });
  const events = () => store.peekOutbox(1000).map((row) => row.event);
  return { engine, store, calls, events, dir, notified: () => notified };
}

const snapshot = (id: string, state = 'Down'): AriChannel => ({
  id,
  name: `Local/5551234000@sim-callee-1;1`,
  state,
});
const destroyed = (id: string, cause: number, state = 'Down'): KnownAriEvent => ({
  type: 'ChannelDestroyed',
  cause,
  cause_txt: 'x',
  channel: snapshot(id, state),
});

describe('CallEngine', () => {
  test('events that arrive before the originate reply are kept; the call ends once', async () => {
    let engine!: CallEngine;
    const command = originateCommand('5551234007');
    const t = setup({
      originate: async (request) => {
        // ARI publishes the whole short life of the call before answering the POST.
        engine.handleAriEvent({ type: 'ChannelCreated', channel: snapshot(request.channelId) }, Date.now());
        engine.handleAriEvent(
          { type: 'Dial', dialstatus: 'NOANSWER', peer: snapshot(request.channelId) } as KnownAriEvent,
          Date.now(),
        );
        engine.handleAriEvent(destroyed(request.channelId, 1), Date.now());
        return snapshot(request.channelId);
      },
    });
    engine = t.engine;
    const reply = await engine.originate(command);
    expect(reply).toMatchObject({ outcome: 'dialing' });
    expect(t.events().map((e) => [e.seq, e.type, e.status, e.reason])).toEqual([
      [1, 'dialing', 'dialing', null],
      [2, 'ended', 'failed', 'invalid_number'],
    ]);
    expect(engine.liveCount()).toBe(0);
    expect(await engine.originate(command)).toEqual({
      outcome: 'finished',
      call_id: command.call_id,
      status: 'failed',
    });
    expect(t.calls.filter((c) => c.startsWith('originate')).length).toBe(1);
  });

  test('ARI refusals: 4xx and Allocation failed are rejected; unreachable is unavailable; all forgotten', async () => {
    const errors: AriError[] = [
      new AriError('400', {
        kind: 'status',
        status: 400,
        ariMessage: 'Invalid endpoint specified',
        retryable: false,
        countsForBreaker: false,
      }),
      new AriError('500', {
        kind: 'status',
        status: 500,
        ariMessage: 'Allocation failed',
        retryable: false,
        countsForBreaker: false,
      }),
      new AriError('down', { kind: 'network', retryable: true, countsForBreaker: true }),
    ];
    let next = 0;
    const t = setup({
      originate: async () => {
        throw errors[next++]!;
      },
    });
    const commands = [
      originateCommand('5551234000'),
      originateCommand('5551234000'),
      originateCommand('5551234000'),
    ];
    expect(await t.engine.originate(commands[0]!)).toMatchObject({
      outcome: 'rejected',
      reason: 'invalid_request',
      detail: 'Invalid endpoint specified',
      ari_status: 400,
    });
    expect(await t.engine.originate(commands[1]!)).toMatchObject({
      outcome: 'rejected',
      reason: 'pbx_routing',
    });
    expect(await t.engine.originate(commands[2]!)).toMatchObject({
      outcome: 'unavailable',
      reason: 'ari_unreachable',
    });
    expect(t.events()).toEqual([]);
    for (const c of commands) expect(t.store.getCall(c.call_id)).toBeNull();
  });

  test('409: the existing channel is read and followed from its snapshot', async () => {
    const command = originateCommand('5551234005');
    const t = setup({
      originate: async () => {
        throw new AriError('409', { kind: 'status', status: 409, retryable: false, countsForBreaker: false });
      },
      getChannel: async (id) => snapshot(id, 'Up'),
    });
    expect(await t.engine.originate(command)).toMatchObject({ outcome: 'dialing' });
    // Up already: it was answered while nobody followed it.
    expect(t.events().map((e) => e.status)).toEqual(['dialing', 'answered']);
    expect(t.calls).toEqual([`originate ${command.call_id}`, `get ${command.call_id}`]);
  });

  test('no answer to the originate: followed as dialing, never sent again; events or reconciliation end it', async () => {
    const unknown = () =>
      new AriError('no answer', {
        kind: 'timeout',
        retryable: false,
        countsForBreaker: true,
        outcomeUnknown: true,
      });
    const created = originateCommand('5551234001');
    const never = originateCommand('5551234000');
    const t = setup({
      originate: async () => {
        throw unknown();
      },
      listChannels: async () => [],
      getChannel: async () => null,
    });
    expect(await t.engine.originate(created)).toMatchObject({ outcome: 'dialing' });
    expect(await t.engine.originate(never)).toMatchObject({ outcome: 'dialing' });
    // ARI did create the first one: its events are followed to the end.
    t.engine.handleAriEvent(
      { type: 'Dial', dialstatus: 'BUSY', peer: snapshot(created.call_id) } as KnownAriEvent,
      Date.now(),
    );
    t.engine.handleAriEvent(destroyed(created.call_id, 0), Date.now());
    // The second never reached ARI: reconciliation finds no channel.
    await t.engine.reconcile('test');
    const byCall = (id: string) =>
      t
        .events()
        .filter((e) => e.call_id === id)
        .map((e) => [e.type, e.status, e.reason]);
    expect(byCall(created.call_id)).toEqual([
      ['dialing', 'dialing', null],
      ['ended', 'busy', 'busy'],
    ]);
    expect(byCall(never.call_id)).toEqual([
      ['dialing', 'dialing', null],
      ['ended', 'failed', 'lost'],
    ]);
    expect(t.calls.filter((c) => c.startsWith('originate'))).toEqual([
      `originate ${created.call_id}`,
      `originate ${never.call_id}`,
    ]);
  });

  test('a hang-up before the originate reply is sent once ARI has answered; the end is canceled', async () => {
    const command = originateCommand('5551234002');
    const { promise: replied, resolve: reply } = Promise.withResolvers<AriChannel>();
    const t = setup({ originate: () => replied });
    const pending = t.engine.originate(command);
    expect(await t.engine.hangup(command.call_id)).toEqual({
      call_id: command.call_id,
      outcome: 'hanging_up',
    });
    expect(t.calls.some((c) => c.startsWith('delete'))).toBe(false);
    reply(snapshot(command.call_id));
    await pending;
    expect(t.calls).toContain(`delete ${command.call_id}`);
    t.engine.handleAriEvent(destroyed(command.call_id, 16, 'Ringing'), Date.now());
    expect(t.events().at(-1)).toMatchObject({
      type: 'ended',
      status: 'canceled',
      reason: 'hangup_requested',
    });
  });

  test('a DELETE answered 404 ended nothing: the intent is withdrawn', async () => {
    const command = originateCommand('5551234001');
    const t = setup({ originate: async (r) => snapshot(r.channelId), hangup: async () => 'gone' });
    await t.engine.originate(command);
    await t.engine.hangup(command.call_id);
    t.engine.handleAriEvent(
      { type: 'Dial', dialstatus: 'BUSY', peer: snapshot(command.call_id) } as KnownAriEvent,
      Date.now(),
    );
    t.engine.handleAriEvent(destroyed(command.call_id, 0), Date.now());
    expect(t.events().at(-1)).toMatchObject({ type: 'ended', status: 'busy', reason: 'busy' });
  });

  test('without the events socket, calls wait in the durable queue; a queued call can be canceled', async () => {
    const t = setup({ originate: async (r) => snapshot(r.channelId) }, { connected: false, queueMax: 2 });
    const commands = [
      originateCommand('5551234000'),
      originateCommand('5551234000'),
      originateCommand('5551234000'),
    ];
    expect(await t.engine.originate(commands[0]!)).toMatchObject({ outcome: 'queued', position: 1 });
    expect(await t.engine.originate(commands[1]!)).toMatchObject({ outcome: 'queued', position: 2 });
    expect(await t.engine.originate(commands[2]!)).toMatchObject({
      outcome: 'unavailable',
      reason: 'queue_full',
    });
    expect(await t.engine.originate(commands[1]!)).toMatchObject({ outcome: 'queued', position: 2 });
    expect(await t.engine.hangup(commands[0]!.call_id)).toMatchObject({ outcome: 'canceled' });
    expect(await t.engine.originate(commands[1]!)).toMatchObject({ outcome: 'queued', position: 1 });
    expect(t.events()).toEqual([
      expect.objectContaining({ call_id: commands[0]!.call_id, seq: 1, type: 'ended', status: 'canceled' }),
    ]);
    expect(t.calls).toEqual([]);
  });

  test('a queued call that ARI refuses later ends through an event, since the API was told queued', async () => {
    const dir = scratch();
    const t = setup(
      {
        originate: async () => {
          throw new AriError('400', {
            kind: 'status',
            status: 400,
            retryable: false,
            countsForBreaker: false,
          });
        },
      },
      { dir, connected: false },
    );
    const command = originateCommand('5551234000');
    expect(await t.engine.originate(command)).toMatchObject({ outcome: 'queued' });
    // A new engine over the same database: the queue survived; this one is connected.
    t.store.close();
    cleanups.shift();
    const u = setup(
      {
        originate: async () => {
          throw new AriError('400', {
            kind: 'status',
            status: 400,
            retryable: false,
            countsForBreaker: false,
          });
        },
      },
      { dir },
    );
    u.engine.pump();
    await Bun.sleep(20);
    expect(u.events()).toEqual([
      expect.objectContaining({
        call_id: command.call_id,
        type: 'ended',
        status: 'failed',
        reason: 'invalid_request',
      }),
    ]);
  });

  test('reconciliation: gone without a destroy is lost; an originate in flight is left alone', async () => {
    const live = originateCommand('5551234005');
    const inFlight = originateCommand('5551234005');
    const { promise: never } = Promise.withResolvers<AriChannel>();
    const t = setup({
      originate: async (r) => (r.channelId === live.call_id ? snapshot(r.channelId) : never),
      listChannels: async () => [],
      getChannel: async () => null,
    });
    await t.engine.originate(live);
    void t.engine.originate(inFlight);
    await t.engine.reconcile('test');
    expect(
      t
        .events()
        .filter((e) => e.call_id === live.call_id)
        .map((e) => [e.type, e.status, e.reason]),
    ).toEqual([
      ['dialing', 'dialing', null],
      ['ended', 'failed', 'lost'],
    ]);
    expect(t.events().some((e) => e.call_id === inFlight.call_id)).toBe(false);
  });

  test('reconciliation catches a live call up with what its snapshot shows (events missed meanwhile)', async () => {
    const command = originateCommand('5551234005');
    const t = setup({
      originate: async (r) => snapshot(r.channelId),
      listChannels: async () => [snapshot(command.call_id, 'Up')],
    });
    await t.engine.originate(command);
    await t.engine.reconcile('socket reopened');
    expect(t.events().map((e) => e.type)).toEqual(['dialing', 'answered']);
    // An older snapshot never moves it back.
    await t.engine.reconcile('again');
    expect(t.events().length).toBe(2);
  });

  test('the resync after a reconnect is retried until ARI lists its channels', async () => {
    const command = originateCommand('5551234005');
    let failures = 3;
    const t = setup({
      originate: async (r) => snapshot(r.channelId),
      listChannels: async () => {
        if (failures-- > 0) throw new Error('ARI answered 503 to GET /channels');
        return [];
      },
      getChannel: async () => null,
    });
    await t.engine.originate(command);
    await t.engine.resync('events socket open', new AbortController().signal);
    expect(t.calls.filter((c) => c.startsWith('list'))).toEqual(Array(4).fill('list'));
    expect(t.calls).toContain(`get ${command.call_id}`);
    expect(t.events().map((e) => [e.type, e.status, e.reason])).toEqual([
      ['dialing', 'dialing', null],
      ['ended', 'failed', 'lost'],
    ]);
  });

  test('a resync stops trying once its signal aborts (the socket went down again)', async () => {
    const command = originateCommand('5551234005');
    const t = setup({
      originate: async (r) => snapshot(r.channelId),
      listChannels: async () => {
        throw new Error('ARI unreachable');
      },
    });
    await t.engine.originate(command);
    const controller = new AbortController();
    const resync = t.engine.resync('events socket open', controller.signal);
    while (t.calls.filter((c) => c.startsWith('list')).length < 2) await Bun.sleep(1);
    controller.abort();
    await resync;
    const tried = t.calls.filter((c) => c.startsWith('list')).length;
    await Bun.sleep(100);
    expect(t.calls.filter((c) => c.startsWith('list')).length).toBe(tried);
    expect(t.events().map((e) => e.type)).toEqual(['dialing']);
  });

  test('after a crash, a call left originating is adopted if ARI has it and lost if not', async () => {
    const dir = scratch();
    const store = new Store(`${dir}/unit.sqlite`, 'unit');
    const leftovers: OriginateCommand[] = [originateCommand('5551234005'), originateCommand('5551234005')];
    for (const command of leftovers) {
      store.commit(
        {
          callId: command.call_id,
          state: 'originating',
          accepted: false,
          seq: 0,
          track: {
            status: 'pending',
            answered: false,
            progressed: false,
            dialStatus: null,
            finalDial: false,
            shutdown: false,
            hangupRequested: false,
            stasisFailed: false,
            channel: null,
          },
          command,
          queueSeq: null,
          flow: null,
          createdAt: Date.now(),
          updatedAt: Date.now(),
        },
        [],
      );
    }
    store.close();
    const t = setup(
      {
        listChannels: async () => [snapshot(leftovers[0]!.call_id, 'Ringing')],
        getChannel: async () => null,
      },
      { dir },
    );
    expect(t.engine.liveCount()).toBe(2);
    await t.engine.reconcile('start');
    expect(
      t.events().map((e) => [e.call_id === leftovers[0]!.call_id ? 'kept' : 'gone', e.type, e.reason]),
    ).toEqual([
      ['kept', 'dialing', null],
      ['kept', 'ringing', null],
      ['gone', 'ended', 'lost'],
    ]);
    expect(t.calls.filter((c) => c.startsWith('originate'))).toEqual([]);
  });
});
