/** Turning the simulator's answers into HTTP responses, and reading request bodies like res_ari. */
import type { Reply } from '../reply.ts';
import type { AriContext } from './router.ts';

const JSON_TYPE = { 'Content-Type': 'application/json' };

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { ...JSON_TYPE, ...headers } });

export const reply = (r: Reply): Response =>
  r.status === 204 || r.body === undefined
    ? new Response(null, { status: r.status, headers: r.headers })
    : json(r.status, r.body, r.headers);

export const message = (status: number, text: string): Response => json(status, { message: text });

/** ARI's boolean query parameters. */
export const truthy = (v: string | null): boolean => v !== null && /^(1|true|yes|on|y|t)$/i.test(v);

/** A parsed JSON body (`value`), nothing (`{}`), or the 400 Asterisk gives for bad JSON. */
export type Body = { value?: unknown };

/** A form body's fields join the query, as in res_ari; anything else must be JSON. */
export const readBody = async (req: Request, query: URLSearchParams): Promise<Body | Response> => {
  const text = await req.text();
  const type = req.headers.get('content-type') ?? '';
  if (/^application\/x-www-form-urlencoded/i.test(type)) {
    for (const [k, v] of new URLSearchParams(text)) query.append(k, v);
    return {};
  }
  if (text.trim() === '') return {};
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return message(400, 'Error parsing request body');
  }
};

/**
 * Runs an operation and answers with its Reply, its events going out before the reply
 * (`before`, unless eventsBeforeReply is 'never': PlaybackStarted came first in 34, and a
 * recording's RecordingStarted in 49) or after it (`after`: StasisEnd follows continue's 204 in 57).
 */
export const gatedReply = async (
  { engine }: AriContext,
  fn: () => Reply,
  when: 'before' | 'after' = 'before',
): Promise<Response> => {
  const gated = engine.bus.gated(fn, (_r, published, mode) =>
    mode === 'never' || when === 'after' ? 0 : published,
  );
  if (gated.sentBeforeReply > 0) await Bun.sleep(2);
  const res = reply(gated.value);
  gated.afterReply();
  return res;
};
