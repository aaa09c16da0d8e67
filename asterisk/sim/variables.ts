/**
 * Channel variables: Set() and the CALLERID() function, ${...} reads with the few built-ins the
 * dialplan uses, and the REST side, GET|POST /channels/{id}/variable and the bulk
 * GET|POST /channels/{id}/variables, with the answers of 59-ivr-channel-variables.
 */
import { CALLER_ID_FIELDS, type Channel } from './channel.ts';
import type { Engine } from './engine.ts';
import { snapshot, varsetEvent } from './model.ts';
import { parseCallerId } from './originate.ts';
import { fail, type Reply } from './reply.ts';

/**
 * Sets a channel variable the way Set() does, including the CALLERID() function. `null` unsets
 * it: ChannelVarset still comes, with an empty value (59). Other functions are ignored.
 */
export const setVariable = (engine: Engine, ch: Channel, name: string, value: string | null): void => {
  const fn = /^CALLERID\((name|num|number|all)\)$/i.exec(name);
  if (fn) {
    const field = (fn[1] as string).toLowerCase();
    const v = value ?? '';
    if (field === 'name') ch.caller = { ...ch.caller, name: v };
    else if (field === 'all') ch.caller = parseCallerId(v);
    else ch.caller = { ...ch.caller, number: v };
    engine.bus.emitChannel(ch, 'ChannelCallerId', CALLER_ID_FIELDS);
    return;
  }
  if (/^[A-Z_]+\(.*\)$/i.test(name)) return;
  const key = name.replace(/^_{1,2}/, '');
  if (value === null) ch.vars.delete(key);
  else ch.vars.set(key, value);
  engine.bus.publish(
    engine.bus.channelRoutes(ch),
    varsetEvent(snapshot(ch), engine.bus.base(), name, value ?? ''),
  );
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
  // Set() strips the inheritance prefix; a read does not (59: __CALL_TAG is not found).
  return ch.vars.get(name);
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

/** POST /channels/{id}/variable: only in Stasis (59: 409 on `;2`); report_events adds `channelvars`. */
export const postVariable = (engine: Engine, id: string, q: URLSearchParams): Reply => {
  const name = q.get('variable');
  if (!name) return fail(400, 'Variable name is required');
  const ch = engine.stasisControl(id);
  if (!ch.ok) return ch.reply;
  assign(engine, ch.channel, name, q.get('value'), truthy(q.get('report_events')));
  return { status: 204 };
};

const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && /^(1|true|yes|on)$/i.test(v));

const assign = (engine: Engine, ch: Channel, name: string, value: string | null, report: boolean) => {
  if (report && !/\(/.test(name)) ch.reported.add(name.replace(/^_{1,2}/, ''));
  setVariable(engine, ch, name, value);
};

/**
 * POST /channels/{id}/variables with `{"variables": {NAME: "value" | {value, report_events}}}`:
 * one ChannelVarset each (59).
 */
export const postVariables = (engine: Engine, id: string, body: unknown): Reply => {
  const vars = (body as { variables?: unknown } | null)?.variables;
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) {
    return fail(400, 'Variables are required');
  }
  const ch = engine.stasisControl(id);
  if (!ch.ok) return ch.reply;
  for (const [name, v] of Object.entries(vars as Record<string, unknown>)) {
    if (typeof v === 'string') assign(engine, ch.channel, name, v, false);
    else if (v && typeof v === 'object') {
      const { value, report_events } = v as { value?: unknown; report_events?: unknown };
      assign(engine, ch.channel, name, typeof value === 'string' ? value : null, truthy(report_events));
    }
  }
  return { status: 204 };
};

/** GET /channels/{id}/variables?variables=A,B: all of them, or 404 when one is unset (59). */
export const getVariables = (engine: Engine, id: string, names: string | null): Reply => {
  if (!names) return fail(400, 'Variables are required');
  const ch = engine.findChannel(id);
  if (!ch) return fail(404, 'Provided channel was not found');
  const variables: Record<string, string> = {};
  for (const name of names.split(',')) {
    const value = readVariable(ch, name);
    if (value === undefined) return fail(404, 'Provided variable was not found');
    variables[name] = value;
  }
  return { status: 200, body: { variables } };
};
