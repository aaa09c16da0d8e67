import type { z } from 'zod';
import type { PublicKeySet } from '../api/shared/base/keys.ts';
import { bearerToken, isChannelAuthError, verifyChannelMessage } from '../api/shared/base/signing.ts';
import {
  HangupCommand,
  type HangupReply,
  OriginateCommand,
  type OriginateReply,
  SIDECAR_PATHS,
  type SidecarStatus,
  TYP_COMMAND,
} from '../api/shared/contract/index.ts';
import { describeError, isAriError } from './errors.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

export interface CommandHandlers {
  originate(command: OriginateCommand): Promise<OriginateReply>;
  hangup(command: HangupCommand): Promise<HangupReply>;
  status(): Promise<SidecarStatus>;
  readiness(): Promise<{ ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }>;
  /** False once shutdown began: commands are answered `unavailable`/`shutting_down`. */
  accepting(): boolean;
}

export interface ServerOptions {
  host: string;
  port: number;
  sidecarId: string;
  apiIssuer: string;
  apiKeys: PublicKeySet;
  claimJti: (jti: string, expiresAt: Date) => boolean;
  maxBodyBytes: number;
  handlers: CommandHandlers;
  metrics: Metrics;
  log: Logger;
}

type ProblemCode =
  | 'unauthorized'
  | 'invalid_json'
  | 'invalid_command'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'ari_unavailable'
  | 'internal';

const TITLES: Record<ProblemCode, string> = {
  unauthorized: 'Signature refused',
  invalid_json: 'Body is not JSON',
  invalid_command: 'Command does not match its schema',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  payload_too_large: 'Body too large',
  ari_unavailable: 'Asterisk is unavailable',
  internal: 'Internal error',
};

/** RFC 9457 problem+json: type, title, status, detail, code (+ errors for validation). */
export function problem(
  status: number,
  code: ProblemCode,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({
      type: `urn:outdial:problem:${code}`,
      title: TITLES[code],
      status,
      detail,
      code,
      ...extra,
    }),
    { status, headers: { 'content-type': 'application/problem+json', ...headers } },
  );
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

class BodyTooLarge extends Error {}

/** Reads the body up to a limit, counting bytes as they come (chunked bodies have no length to trust). */
async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw new BodyTooLarge();
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

type SignedRoute = 'originate' | 'hangup' | 'status';

const ROUTES: Record<string, { method: string; route: SignedRoute }> = {
  [SIDECAR_PATHS.originate]: { method: 'POST', route: 'originate' },
  [SIDECAR_PATHS.hangup]: { method: 'POST', route: 'hangup' },
  [SIDECAR_PATHS.status]: { method: 'GET', route: 'status' },
};

/**
 * The command endpoint: every command is a signed request (EdDSA JWT bound to method, path and
 * body hash, short-lived, single-use jti) from the API. Nothing runs before the signature holds;
 * a refused command changes nothing.
 */
export function startCommandServer(options: ServerOptions) {
  const { handlers, metrics, log } = options;
  const decoder = new TextDecoder();

  async function signed(request: Request, url: URL, route: SignedRoute): Promise<Response> {
    const count = (result: string) => metrics.commands.inc({ command: route, result });
    let body: Uint8Array;
    try {
      body = await readBody(request, options.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        count('too_large');
        return problem(413, 'payload_too_large', `commands are at most ${options.maxBodyBytes} bytes`);
      }
      throw error;
    }
    const token = bearerToken(request.headers.get('authorization'));
    if (!token) {
      count('unauthorized');
      return problem(
        401,
        'unauthorized',
        'a signed command needs Authorization: Bearer <token>',
        {},
        {
          'www-authenticate': 'Bearer',
        },
      );
    }
    try {
      await verifyChannelMessage(token, {
        keys: options.apiKeys,
        issuer: options.apiIssuer,
        audience: `sidecar:${options.sidecarId}`,
        typ: TYP_COMMAND,
        method: request.method,
        path: url.pathname,
        body,
        maxLifetimeSeconds: 60,
        claimJti: options.claimJti,
      });
    } catch (error) {
      if (!isChannelAuthError(error)) throw error;
      count('unauthorized');
      log.warn('command refused: bad signature', { route, detail: error.message });
      return problem(401, 'unauthorized', error.message, {}, { 'www-authenticate': 'Bearer' });
    }

    if (route === 'status') {
      count('ok');
      return json(await handlers.status());
    }

    let parsedJson: unknown;
    try {
      parsedJson = JSON.parse(decoder.decode(body));
    } catch {
      count('invalid_json');
      return problem(400, 'invalid_json', 'the command body must be JSON');
    }
    const schema: z.ZodType = route === 'originate' ? OriginateCommand : HangupCommand;
    const parsed = schema.safeParse(parsedJson);
    if (!parsed.success) {
      count('invalid');
      return problem(422, 'invalid_command', 'the command does not match its schema', {
        errors: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
      });
    }

    if (route === 'originate') {
      const command = parsed.data as OriginateCommand;
      if (!handlers.accepting()) {
        count('unavailable');
        const reply: OriginateReply = {
          outcome: 'unavailable',
          call_id: command.call_id,
          reason: 'shutting_down',
          retry_after_s: 5,
        };
        return json(reply, 200, { 'retry-after': '5' });
      }
      const reply = await handlers.originate(command);
      count(reply.outcome);
      log.info('originate command', {
        call_id: command.call_id,
        outcome: reply.outcome,
        ...(reply.outcome === 'unavailable' ? { reason: reply.reason } : {}),
        ...(reply.outcome === 'rejected' ? { reason: reply.reason, ari_status: reply.ari_status } : {}),
      });
      const headers: Record<string, string> =
        reply.outcome === 'unavailable' ? { 'retry-after': String(reply.retry_after_s) } : {};
      return json(reply, 200, headers);
    }

    const command = parsed.data as HangupCommand;
    try {
      const reply = await handlers.hangup(command);
      count(reply.outcome);
      log.info('hangup command', { call_id: command.call_id, outcome: reply.outcome });
      return json(reply);
    } catch (error) {
      if (isAriError(error)) {
        count('unavailable');
        const retryAfter = String(error.retryAfterS ?? 5);
        return problem(
          503,
          'ari_unavailable',
          'Asterisk could not be asked to hang up; try again',
          {},
          {
            'retry-after': retryAfter,
          },
        );
      }
      throw error;
    }
  }

  const server = Bun.serve({
    hostname: options.host,
    port: options.port,
    // Commands are small and quick; a slow client must not hold a connection for long.
    idleTimeout: 30,
    async fetch(request) {
      const url = new URL(request.url);
      try {
        if (url.pathname === '/health' && request.method === 'GET') return json({ status: 'ok' });
        if (url.pathname === '/readiness' && request.method === 'GET') {
          const readiness = await handlers.readiness();
          return json(
            { status: readiness.ready ? 'ready' : 'not_ready', checks: readiness.checks },
            readiness.ready ? 200 : 503,
          );
        }
        if (url.pathname === '/metrics' && request.method === 'GET') {
          return new Response(await metrics.registry.metrics(), {
            headers: { 'content-type': metrics.registry.contentType },
          });
        }
        const route = ROUTES[url.pathname];
        if (!route) return problem(404, 'not_found', 'no such endpoint');
        if (request.method !== route.method) {
          return problem(405, 'method_not_allowed', `use ${route.method}`, {}, { allow: route.method });
        }
        return await signed(request, url, route.route);
      } catch (error) {
        log.error('command handler failed', { path: url.pathname, error: describeError(error) });
        return problem(500, 'internal', 'the sidecar failed to handle the request');
      }
    },
  });
  return server;
}
