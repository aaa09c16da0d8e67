/**
 * The ARI REST resources: one handler per top-level resource. A handler answers `undefined` when
 * it has no such path (404 "Resource not found") and `null` when the path exists but not for this
 * method (405 "Invalid method").
 */
import type { Engine } from '../engine.ts';
import type { OriginateRecord } from '../server.ts';
import { channels } from './channels.ts';
import { playbacks, recordings } from './media.ts';
import { apiDocs, applications, asterisk, bridges, endpoints, sounds } from './resources.ts';
import { type Body, message, readBody } from './respond.ts';

export interface AriRequest {
  method: string;
  url: URL;
  query: URLSearchParams;
  body: Body;
  /** The path after /ari, split and decoded. */
  segs: string[];
}

export interface AriContext {
  engine: Engine;
  originates: OriginateRecord[];
}

export type Handled = Response | null | undefined;
export type Handler = (ctx: AriContext, r: AriRequest) => Handled | Promise<Handled>;

const RESOURCES: Record<string, Handler> = {
  asterisk,
  applications,
  channels,
  endpoints,
  bridges,
  sounds,
  playbacks,
  recordings,
  'api-docs': apiDocs,
};

export const route = async (ctx: AriContext, req: Request, url: URL, segs: string[]): Promise<Response> => {
  const query = new URLSearchParams(url.search);
  const body = await readBody(req, query);
  if (body instanceof Response) return body;
  const handler = RESOURCES[segs[0] ?? ''];
  const res = handler ? await handler(ctx, { method: req.method, url, query, body, segs }) : undefined;
  if (res === undefined) return message(404, 'Resource not found');
  return res ?? message(405, 'Invalid method');
};
