/**
 * Channel variables: Set() and the CALLERID() function, ${...} reads with the few built-ins the
 * dialplan uses, and GET /channels/{id}/variable.
 */
import { CALLER_ID_FIELDS, type Channel } from './channel.ts';
import type { Engine } from './engine.ts';
import { snapshot, varsetEvent } from './model.ts';
import { parseCallerId } from './originate.ts';
import { fail, type Reply } from './reply.ts';

/** Sets a channel variable the way Set() does, including the CALLERID() function. */
export const setVariable = (engine: Engine, ch: Channel, name: string, value: string): void => {
  const fn = /^CALLERID\((name|num|number|all)\)$/i.exec(name);
  if (fn) {
    const field = (fn[1] as string).toLowerCase();
    if (field === 'name') ch.caller = { ...ch.caller, name: value };
    else if (field === 'all') ch.caller = parseCallerId(value);
    else ch.caller = { ...ch.caller, number: value };
    engine.bus.emitChannel(ch, 'ChannelCallerId', CALLER_ID_FIELDS);
    return;
  }
  ch.vars.set(name.replace(/^_{1,2}/, ''), value);
  engine.bus.publish(engine.bus.channelRoutes(ch), varsetEvent(snapshot(ch), engine.bus.base(), name, value));
};

export const readVariable = (
  ch: Channel,
  name: string,
  exten?: string,
  context?: string,
): string | undefined => {
  switch (name) {
    case 'EXTEN':
      return exten ?? ch.dialplan.exten;
    case 'CONTEXT':
      return context ?? ch.dialplan.context;
    case 'PRIORITY':
      return String(ch.dialplan.priority);
    case 'CHANNEL':
    case 'CHANNEL(name)':
      return ch.name;
    case 'UNIQUEID':
      return ch.id;
    case 'CALLERID(num)':
    case 'CALLERID(number)':
      return ch.caller.number;
    case 'CALLERID(name)':
      return ch.caller.name;
    case 'CALLERID(all)': {
      const { name: n, number } = ch.caller;
      if (n && number) return `"${n}" <${number}>`;
      return n ? `"${n}"` : number;
    }
  }
  return ch.vars.get(name.replace(/^_{1,2}/, ''));
};

/** GET /channels/{id}/variable: works on any live channel, in Stasis or not (recording 40). */
export const getVariable = (engine: Engine, id: string, name: string | null): Reply => {
  if (!name) return fail(400, 'Variable name is required');
  const ch = engine.findChannel(id);
  if (!ch) return fail(404, 'Provided channel was not found');
  const value = readVariable(ch, name);
  if (value === undefined) {
    if (name.endsWith(')')) return fail(500, 'Unable to read provided function');
    return fail(404, 'Provided variable was not found');
  }
  return { status: 200, body: { value } };
};
