/** /ari/channels: list, originate, get, hang up, and the operations on one channel. */

import { EventBus } from '../bus.ts';
import { originate as dial, originatePrefix } from '../dial.ts';
import { HANGUP_REASONS } from '../model.ts';
import { type ArgError, parseOriginateArgs, planOriginate } from '../originate.ts';
import { play } from '../playback.ts';
import type { OriginateRecord } from '../server.ts';
import { getVariable } from '../variables.ts';
import { type Body, json, message, reply } from './respond.ts';
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

const playOn = async (
  { engine }: AriContext,
  id: string,
  query: URLSearchParams,
  pathPlaybackId?: string,
) => {
  const media = query.getAll('media').flatMap((m) => m.split(','));
  const playbackId = pathPlaybackId ?? query.get('playbackId');
  // Recording 34: PlaybackStarted reached the socket before the 201.
  const gated = engine.bus.gated(
    () => play(engine, id, media, query.get('lang'), playbackId),
    (_r, published, mode) => (mode === 'never' ? 0 : published),
  );
  if (gated.sentBeforeReply > 0) await Bun.sleep(2);
  const res = reply(gated.value);
  gated.afterReply();
  return res;
};

/** /channels/{id}/<operation>[/<sub>]. */
const operation = (ctx: AriContext, r: AriRequest, id: string): Handled | Promise<Handled> => {
  const { method, query, segs } = r;
  const [, , op, sub] = segs;
  if (segs.length === 3 && op === 'variable')
    return method === 'GET' ? reply(getVariable(ctx.engine, id, query.get('variable'))) : null;
  if (segs.length === 3 && op === 'answer')
    return method === 'POST' ? reply(ctx.engine.answerChannel(id)) : null;
  if (op === 'play' && (segs.length === 3 || (segs.length === 4 && sub !== undefined))) {
    return method === 'POST' ? playOn(ctx, id, query, segs.length === 4 ? sub : undefined) : null;
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
