/**
 * What an accepted originate does: allocate the Local pair, publish the request thread's events
 * (creation, caller id, variables, subscription), then the dial thread's (the copy to `;2`, the
 * Dial, the callee's dialplan). Orders from the recordings; see README findings 1-4.
 */

import type { EventsBeforeReply } from './bus.ts';
import { CALLER_ID_FIELDS, NO_ONE } from './channel.ts';
import { findExtension, SIM_DIALPLAN } from './dialplan.ts';
import type { Engine } from './engine.ts';
import { LocalCall } from './local-call.ts';
import { causeText, snapshot } from './model.ts';
import { type OriginatePlan, parseCallerId } from './originate.ts';
import { Pbx } from './pbx.ts';
import type { Reply } from './reply.ts';
import { setVariable } from './variables.ts';

export interface OriginateResult extends Reply {
  /** How many of the events published by the originate belong to the request thread. */
  requestThreadEvents: number;
  /** The `;1` channel was already destroyed when the request finished. */
  failedFast: boolean;
}

/** Prefix policy for originates: see README finding 3 and scenario 55. */
export const originatePrefix = (
  result: OriginateResult,
  published: number,
  mode: EventsBeforeReply,
  random: () => number,
): number => {
  if (mode === 'never') return 0;
  if (mode === 'always' || result.status !== 200) return published;
  const r = random();
  if (result.failedFast) return r < 0.1 ? published : result.requestThreadEvents;
  return r < 0.5 ? result.requestThreadEvents : 0;
};

/** chan_local: options after the first '/', the context after the first '@'. */
const localTarget = (device: string) => {
  const slash = device.indexOf('/');
  const target = slash < 0 ? device : device.slice(0, slash);
  const at = target.indexOf('@');
  const dialed = at < 0 ? target : target.slice(0, at);
  const context = at < 0 || at === target.length - 1 ? 'default' : target.slice(at + 1);
  // The name keeps what was dialed; the dialplan runs an empty extension as "s".
  return { dialed, context, exten: dialed === '' ? 's' : dialed };
};

export const originate = (engine: Engine, plan: OriginatePlan): OriginateResult => {
  const start = engine.bus.published;
  const fail = (status: number, body: unknown): OriginateResult => ({
    status,
    body,
    requestThreadEvents: engine.bus.published - start,
    failedFast: true,
  });
  const { args } = plan;
  if (args.originator && !engine.findChannel(args.originator)) {
    return fail(400, { message: 'Provided originator channel was not found' });
  }
  if (plan.tech.toLowerCase() !== 'local') return fail(500, { error: 'Allocation failed' });

  const { dialed, context, exten } = localTarget(plan.device);
  const base = `Local/${dialed}@${context}-${engine.nextLocalCounter()}`;
  const id1 = args.channelId || engine.autoId();
  if (engine.channels.has(id1)) return fail(409, { message: 'Channel with given unique ID already exists' });
  const id2 = args.otherChannelId || (args.channelId ? `${args.channelId};2` : engine.autoId());
  const device = `Local/${dialed}@${context}`;
  if (engine.channels.has(id2)) {
    // Asterisk has already allocated `;1` when the `;2` id collides, and says so.
    const ghost = engine.newChannel(id1, `${base};1`, 1, context, exten);
    engine.bus.emitChannel(ghost, 'ChannelCreated');
    ghost.alive = false;
    engine.bus.emitChannel(ghost, 'ChannelDestroyed', { cause: 0, cause_txt: causeText(0) });
    engine.bus.emitDevice(device, 'NOT_INUSE');
    return fail(409, { message: 'Channel with given unique ID already exists' });
  }

  const ch1 = engine.newChannel(id1, `${base};1`, 1, context, exten);
  const ch2 = engine.newChannel(id2, `${base};2`, 2, context, exten);
  const call = new LocalCall(engine, ch1, ch2, plan, plan.device, device);
  ch1.call = call;
  ch2.call = call;
  engine.channels.set(id1, ch1);
  engine.channels.set(id2, ch2);
  engine.calls.add(call);

  const inherited = requestThread(engine, call);
  const body = snapshot(ch1);
  const requestThreadEvents = engine.bus.published - start;
  dialThread(engine, call, inherited, context, exten);
  engine.log(JSON.stringify({ sim: 'originate', id: id1, endpoint: args.endpoint, alive: ch1.alive }));
  return { status: 200, body, requestThreadEvents, failedFast: !ch1.alive };
};

/** Allocation, caller id, variables, Stasis subscription; returns the variables `;2` inherits. */
const requestThread = (engine: Engine, call: LocalCall): Array<[string, string]> => {
  const { ch1, ch2, plan } = call;
  const { bus } = engine;
  bus.emitChannel(ch1, 'ChannelCreated');
  bus.emitChannel(ch2, 'ChannelCreated');
  ch1.dialplan = { ...ch1.dialplan, app_name: 'AppDial2', app_data: '(Outgoing Line)' };
  bus.emitChannel(ch1, 'ChannelDialplan', {
    dialplan_app: 'AppDial2',
    dialplan_app_data: '(Outgoing Line)',
  });
  const cid = plan.args.callerId ? parseCallerId(plan.args.callerId) : NO_ONE;
  if (cid.name || cid.number) {
    ch1.caller = { ...cid };
    bus.emitChannel(ch1, 'ChannelCallerId', CALLER_ID_FIELDS);
    ch1.connected = { ...cid };
    bus.emitChannel(ch1, 'ChannelConnectedLine');
  }
  const inherited: Array<[string, string]> = [];
  for (const [name, value] of plan.args.variables) {
    setVariable(engine, ch1, name, value);
    if (!/^[A-Z]+\(.*\)$/i.test(name)) inherited.push([name, value]);
  }
  if (plan.appData !== null) {
    const app = plan.appData.split(',')[0] as string;
    ch1.subscriptions.add(app);
    ch2.subscriptions.add(app);
  }
  return inherited;
};

/** Local copies variables and caller ids to `;2`, then dials it: the callee context runs. */
const dialThread = (
  engine: Engine,
  call: LocalCall,
  inherited: Array<[string, string]>,
  context: string,
  exten: string,
): void => {
  const { ch1, ch2, plan } = call;
  for (const [name, value] of inherited.reverse()) setVariable(engine, ch2, name, value);
  ch2.caller = { ...ch1.connected };
  ch2.connected = { ...ch1.caller };
  if (ch2.caller.name || ch2.caller.number || ch2.connected.name || ch2.connected.number) {
    engine.bus.emitChannel(ch2, 'ChannelCallerId', CALLER_ID_FIELDS);
    engine.bus.emitChannel(ch2, 'ChannelConnectedLine');
  }
  if (!findExtension(SIM_DIALPLAN, context, exten)) {
    call.invalid = true;
    call.runner = 'done';
    engine.destroy(call, ch2, 0);
    engine.destroy(call, ch1, 0);
    return;
  }
  engine.bus.emitDial(ch1, call.dialstring, '');
  if (plan.timeoutMs !== null) call.cancelTimeout = engine.timers.after(plan.timeoutMs, () => call.timeout());
  call.callee = new Pbx(engine, call, ch2, context, exten, 1);
  call.callee.start();
};
