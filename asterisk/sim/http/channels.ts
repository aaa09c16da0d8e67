/** /ari/channels: list, originate, get, hang up, and the operations on one channel. */
import { EventBus } from '../bus.ts';
import { originate as dial, originatePrefix } from '../dial.ts';
import { postDtmf } from '../dtmf.ts';
import { HANGUP_REASONS } from '../model.ts';
import { type ArgError, parseOriginateArgs, planOriginate } from '../originate.ts';
import { play } from '../playback.ts';
import { record } from '../recording.ts';
import type { OriginateRecord } from '../server.ts';
import { continueInDialplan } from '../stasis.ts';
import { getVariable, getVariables, postVariable, postVariables } from '../variables.ts';
import { type Body, gatedReply, json, message, reply, truthy } from './respond.ts';
import type { AriContext, AriRequest, Handled, Handler } from './router.ts';

const isArgError = (v: unknown): v is ArgError =>
  typeof v === 'object' && v !== null && 'status' in v && 'body' in v && !('tech' in v);

const originate = async (ctx: AriContext, query: URLSearchParams, body: Body, pathId?: string) => {
  const args = parseOriginateArgs(
    query,
    body.value === undefined ? { kind: 'none' } : { kind: 'json', value: body.value },
    pathId,
  );
  const record: OriginateRecord = {
    at: performance.now(),
    channelId: isArgError(args) ? (pathId ?? query.get('channelId')) : (args.channelId ?? null),
    endpoint: isArgError(args) ? (query.get('endpoint') ?? '') : (args.endpoint ?? ''),
    status: 0,
  };
  ctx.originates.push(record);
  if (isArgError(args)) {
    record.status = args.status;
    return json(args.status, args.body);
  }
  const plan = planOriginate(args);
  if (isArgError(plan)) {
    record.status = plan.status;
    return json(plan.status, plan.body);
  }
  const { engine } = ctx;
  const gated = engine.bus.gated(() => dial(engine, plan), originatePrefix);
  record.status = gated.value.status;
  if (gated.sentBeforeReply > 0) await Bun.sleep(2);
  const res = json(gated.value.status, gated.value.body);
  gated.afterReply();
  return res;
};

/** DELETE /channels/{id}: `reason` or `reason_code`, never both; 16 by default. */
const hangupCause = (query: URLSearchParams): number | Response => {
  const reason = query.get('reason') ?? '';
  const reasonCode = query.get('reason_code') ?? '';
  if (reason !== '' && reasonCode !== '')
    return message(400, "The reason and reason_code can't both be specified");
  if (reasonCode !== '') {
    const m = /^\s*([+-]?\d+)/.exec(reasonCode);
    if (!m) return message(400, 'Invalid reason for hangup reason code provided');
    return Number.parseInt(m[1] as string, 10);
  }
  if (reason !== '') {
    const code = HANGUP_REASONS[reason];
    if (code === undefined) return message(400, 'Invalid reason for hangup reason provided');
    return code;
  }
  return 16;
};

const hangup = async ({ engine }: AriContext, id: string, query: URLSearchParams) => {
  if (engine.channel(id) === undefined) return message(404, 'Channel not found');
  const cause = hangupCause(query);
  if (cause instanceof Response) return cause;
  const gated = engine.bus.gated(() => engine.hangup(id, cause), EventBus.hangupPrefix);
  if (gated.sentBeforeReply > 0) await Bun.sleep(2);
  const res = reply(gated.value);
  gated.afterReply();
  return res;
};

/** The media of a play: a JSON body's `media` (list or comma string), else the last `media` parameter. */
const mediaOf = (query: URLSearchParams, body: Body): string[] => {
  const fromBody = (body.value as { media?: unknown } | undefined)?.media;
  const raw = fromBody !== undefined ? fromBody : query.getAll('media').at(-1);
  const list = Array.isArray(raw) ? raw.filter((m): m is string => typeof m === 'string') : [raw];
  return list.flatMap((m) => (typeof m === 'string' ? m.split(',') : [])).filter((m) => m !== '');
};

const param = (query: URLSearchParams, body: Body, name: string): string | null => {
  const v = (body.value as Record<string, unknown> | undefined)?.[name];
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  return query.get(name);
};

const playOn = (ctx: AriContext, id: string, r: AriRequest, pathPlaybackId?: string) => {
  const { query, body } = r;
  const skip = Number.parseInt(param(query, body, 'skipms') ?? '', 10);
  return gatedReply(ctx, () =>
    play(ctx.engine, id, {
      media: mediaOf(query, body),
      lang: param(query, body, 'lang'),
      playbackId: pathPlaybackId ?? param(query, body, 'playbackId'),
      skipMs: skip > 0 ? skip : 3000,
    }),
  );
};

/** /channels/{id}/<operation>[/<sub>]. */
const operation = (ctx: AriContext, r: AriRequest, id: string): Handled | Promise<Handled> => {
  const { method, query, segs, body } = r;
  const { engine } = ctx;
  const [, , op, sub] = segs;
  const only = (m: string, answer: () => Handled | Promise<Handled>) => (method === m ? answer() : null);
  if (op === 'play' && segs.length === 4 && sub !== undefined)
    return only('POST', () => playOn(ctx, id, r, sub));
  if (segs.length !== 3) return undefined;
  switch (op) {
    case 'variable':
      if (method === 'GET') return reply(getVariable(engine, id, query.get('variable')));
      return only('POST', () => reply(postVariable(engine, id, query)));
    case 'variables':
      if (method === 'GET') return reply(getVariables(engine, id, query.get('variables')));
      return only('POST', () => reply(postVariables(engine, id, body.value)));
    case 'answer':
      return only('POST', () => reply(engine.answerChannel(id)));
    case 'play':
      return only('POST', () => playOn(ctx, id, r));
    case 'record':
      return only('POST', () => gatedReply(ctx, () => record(engine, id, query, truthy(query.get('beep')))));
    case 'dtmf':
      return only('POST', () => reply(postDtmf(engine, id, query)));
    case 'continue':
      return only('POST', () => gatedReply(ctx, () => continueInDialplan(engine, id, query), 'after'));
  }
  return undefined;
};

export const channels: Handler = (ctx, r) => {
  const { method, query, body, segs } = r;
  if (segs.length === 1) {
    if (method === 'GET') return json(200, ctx.engine.channelList());
    if (method === 'POST') return originate(ctx, query, body);
    return null;
  }
  const id = segs[1];
  if (id === undefined) return undefined;
  if (segs.length === 2) {
    if (method === 'GET') {
      const ch = ctx.engine.channel(id);
      return ch ? json(200, ch) : message(404, 'Channel not found');
    }
    if (method === 'POST') return originate(ctx, query, body, id);
    if (method === 'DELETE') return hangup(ctx, id, query);
    return null;
  }
  return operation(ctx, r, id);
};
