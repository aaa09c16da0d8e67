/**
 * Entering and leaving Stasis, and POST /channels/{id}/continue. A channel enters the app after
 * the originate's answer (app=) or through the dialplan app Stasis(app,args…) (58); it leaves on
 * hang-up or continue, and what it was playing or recording ends first (44, 56, 57).
 */
import type { Channel, Location } from './channel.ts';
import type { Engine } from './engine.ts';
import { fail, type Reply } from './reply.ts';
import { setVariable } from './variables.ts';

/** STASISSTATUS="" then StasisStart with the args; false when no socket registered the app. */
export const enterStasis = (engine: Engine, ch: Channel, appData: string): boolean => {
  const [app = '', ...args] = appData.split(',');
  setVariable(engine, ch, 'STASISSTATUS', '');
  if (!engine.bus.isRegistered(app)) return false;
  ch.stasisApp = app;
  ch.subscriptions.add(app);
  engine.bus.emitStasisStart(ch, app, args);
  return true;
};

/** Its media ends (`failed` on hang-up), it leaves its bridge, then StasisEnd. */
export const leaveStasis = (engine: Engine, ch: Channel, why: 'hangup' | 'continue'): void => {
  const app = ch.stasisApp;
  if (app === null) return;
  ch.media.clear(why);
  if (ch.bridge !== null) engine.bridges.leave(ch);
  ch.stasisApp = null;
  engine.bus.emitStasisEnd(ch, app);
};

const atoi = (v: string | null): number => {
  const m = /^\s*([+-]?\d+)/.exec(v ?? '');
  return m ? Number.parseInt(m[1] as string, 10) : 0;
};

/**
 * Where continue goes: the given context, extension and priority; what is not given stays as the
 * channel's dialplan says, the priority then moving on by one (Asterisk increments after the
 * Stasis app returns). The simulated dialplan has no labels.
 */
const target = (ch: Channel, q: URLSearchParams): Location | Reply => {
  const context = q.get('context') || ch.dialplan.context;
  const exten = q.get('extension') || ch.dialplan.exten;
  if (q.get('label')) return fail(404, 'Requested label cannot be found');
  const given = atoi(q.get('priority'));
  const moved = Boolean(q.get('context') || q.get('extension'));
  const priority = given > 0 ? given : moved ? 1 : ch.dialplan.priority + 1;
  return { context, exten, priority };
};

/**
 * POST /channels/{id}/continue: 204, then StasisEnd and the dialplan at the target (57); 409 when
 * not in Stasis; a context that does not exist still answers 204 and the call ends (59).
 */
export const continueInDialplan = (engine: Engine, id: string, q: URLSearchParams): Reply => {
  const ch = engine.stasisControl(id);
  if (!ch.ok) return ch.reply;
  const loc = target(ch.channel, q);
  if (!('context' in loc)) return loc;
  ch.channel.call?.continueAt(loc);
  return { status: 204 };
};
