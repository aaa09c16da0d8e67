import { type Handler, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import type { PublicKeySet } from '../api/shared/base/keys.ts';
import type { Logger } from '../api/shared/base/log.ts';
import { type SignedEnv, signedRequest } from '../api/shared/base/signed.ts';
import {
  HangupCommand,
  type HangupReply,
  OriginateCommand,
  type OriginateReply,
  RecordingDeleteCommand,
  type RecordingDeleteReply,
  RecordingFileCommand,
  recordingBelongsTo,
  SIDECAR_PATHS,
  type SidecarStatus,
  sidecarPrincipal,
  TYP_COMMAND,
} from '../api/shared/contract/index.ts';
import type { FileAnswer } from './ari/http.ts';
import { describeError, isAriError, problem } from './errors.ts';
import type { Metrics } from './metrics.ts';

export interface CommandHandlers {
  originate(command: OriginateCommand): Promise<OriginateReply>;
  hangup(command: HangupCommand): Promise<HangupReply>;
  /** A stored recording's audio from ARI (streamed), or ARI's answer when it has none. */
  recordingFile(command: RecordingFileCommand): Promise<FileAnswer>;
  recordingDelete(command: RecordingDeleteCommand): Promise<RecordingDeleteReply>;
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

type Command = 'originate' | 'hangup' | 'status' | 'recording_file' | 'recording_delete';

type AppOptions = Omit<ServerOptions, 'host' | 'port'>;

/** What the pieces of the command app share: its options and the counter of command results. */
interface Ctx extends AppOptions {
  count(command: Command, result: string): void;
}

/** Checks the signature of a command; a refused one is counted and answered 401. */
function signedFor(ctx: Ctx, command: Command) {
  return signedRequest({
    typ: TYP_COMMAND,
    audience: () => sidecarPrincipal(ctx.sidecarId),
    signer: () => ({ keys: ctx.apiKeys, issuer: ctx.apiIssuer }),
    claimJti: () => ctx.claimJti,
    maxLifetimeSeconds: 60,
    refuse: (_c, refusal) => {
      ctx.count(command, 'unauthorized');
      if (refusal.kind === 'unsigned') {
        return problem(
          'unauthorized',
          'a signed command needs Authorization: Bearer <token>',
          {},
          { 'www-authenticate': 'Bearer' },
        );
      }
      ctx.log.warn('command refused: bad signature', { route: command, detail: refusal.detail });
      return problem('unauthorized', refusal.detail, {}, { 'www-authenticate': 'Bearer' });
    },
  });
}

/** Parses the verified body as `schema`, or answers 400/422. */
function parseCommand<T extends z.ZodType>(
  ctx: Ctx,
  command: Command,
  text: string,
  schema: T,
): { ok: true; data: z.infer<T> } | { ok: false; response: Response } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    ctx.count(command, 'invalid_json');
    return { ok: false, response: problem('invalid_json', 'the command body must be JSON') };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, data: parsed.data };
  ctx.count(command, 'invalid');
  return {
    ok: false,
    response: problem('invalid_command', 'the command does not match its schema', {
      errors: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    }),
  };
}

function originate(ctx: Ctx): Handler<SignedEnv> {
  return async (c) => {
    const parsed = parseCommand(ctx, 'originate', c.get('signed').text, OriginateCommand);
    if (!parsed.ok) return parsed.response;
    const command = parsed.data;
    if (!ctx.handlers.accepting()) {
      ctx.count('originate', 'unavailable');
      const reply: OriginateReply = {
        outcome: 'unavailable',
        call_id: command.call_id,
        reason: 'shutting_down',
        retry_after_s: 5,
      };
      return c.json(reply, 200, { 'retry-after': '5' });
    }
    const reply = await ctx.handlers.originate(command);
    ctx.count('originate', reply.outcome);
    ctx.log.info('originate command', {
      call_id: command.call_id,
      outcome: reply.outcome,
      ...(reply.outcome === 'unavailable' ? { reason: reply.reason } : {}),
      ...(reply.outcome === 'rejected' ? { reason: reply.reason, ari_status: reply.ari_status } : {}),
    });
    const headers: Record<string, string> =
      reply.outcome === 'unavailable' ? { 'retry-after': String(reply.retry_after_s) } : {};
    return c.json(reply, 200, headers);
  };
}

function hangup(ctx: Ctx): Handler<SignedEnv> {
  return async (c) => {
    const parsed = parseCommand(ctx, 'hangup', c.get('signed').text, HangupCommand);
    if (!parsed.ok) return parsed.response;
    const command = parsed.data;
    try {
      const reply = await ctx.handlers.hangup(command);
      ctx.count('hangup', reply.outcome);
      ctx.log.info('hangup command', { call_id: command.call_id, outcome: reply.outcome });
      return c.json(reply);
    } catch (error) {
      if (!isAriError(error)) throw error;
      ctx.count('hangup', 'unavailable');
      return problem(
        'ari_unavailable',
        'Asterisk could not be asked to hang up; try again',
        {},
        { 'retry-after': String(error.retryAfterS ?? 5) },
      );
    }
  };
}

/** The audio of one of the call's recordings, streamed from ARI as audio/wav; 404 problem+json otherwise. */
function recordingFile(ctx: Ctx): Handler<SignedEnv> {
  return async (c) => {
    const parsed = parseCommand(ctx, 'recording_file', c.get('signed').text, RecordingFileCommand);
    if (!parsed.ok) return parsed.response;
    const command = parsed.data;
    const missing = () => {
      ctx.count('recording_file', 'not_found');
      return problem('not_found', `the call has no recording ${command.recording}`);
    };
    if (!recordingBelongsTo(command.call_id, command.recording)) return missing();
    let file: FileAnswer;
    try {
      file = await ctx.handlers.recordingFile(command);
    } catch (error) {
      if (!isAriError(error)) throw error;
      ctx.count('recording_file', 'unavailable');
      return problem(
        'ari_unavailable',
        'Asterisk could not be asked for the recording; try again',
        {},
        {
          'retry-after': '5',
        },
      );
    }
    if (file.status === 404) return missing();
    if (file.status !== 200 || !file.body) {
      ctx.count('recording_file', 'unavailable');
      return problem('ari_unavailable', `Asterisk answered ${file.status} for the recording`);
    }
    ctx.count('recording_file', 'ok');
    return new Response(file.body, { status: 200, headers: { 'content-type': 'audio/wav' } });
  };
}

/** Deletes stored recordings of the call; a name of another call is reported failed, never sent to ARI. */
function recordingDelete(ctx: Ctx): Handler<SignedEnv> {
  return async (c) => {
    const parsed = parseCommand(ctx, 'recording_delete', c.get('signed').text, RecordingDeleteCommand);
    if (!parsed.ok) return parsed.response;
    const command = parsed.data;
    const foreign = command.recordings.filter((name) => !recordingBelongsTo(command.call_id, name));
    const own = command.recordings.filter((name) => recordingBelongsTo(command.call_id, name));
    const reply: RecordingDeleteReply =
      own.length > 0
        ? await ctx.handlers.recordingDelete({ ...command, recordings: own })
        : { call_id: command.call_id, deleted: [], failed: [] };
    for (const name of foreign) reply.failed.push({ recording: name, error: 'not a recording of this call' });
    ctx.count('recording_delete', reply.failed.length === 0 ? 'ok' : 'partial');
    return c.json(reply);
  };
}

/**
 * The command endpoint: every command is a signed request (EdDSA JWT bound to method, path and
 * body hash, short-lived, single-use jti) from the API. Nothing runs before the signature holds;
 * a refused command changes nothing. Health, readiness and metrics need no signature.
 */
export function createCommandApp(options: AppOptions) {
  const { handlers, metrics, log } = options;
  const ctx: Ctx = { ...options, count: (command, result) => metrics.commands.inc({ command, result }) };
  const app = new Hono<SignedEnv>();

  app.onError((error, c) => {
    log.error('command handler failed', { path: c.req.path, error: describeError(error) });
    return problem('internal', 'the sidecar failed to handle the request');
  });
  app.notFound(() => problem('not_found', 'no such endpoint'));

  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/readiness', async (c) => {
    const readiness = await handlers.readiness();
    return c.json(
      { status: readiness.ready ? 'ready' : 'not_ready', checks: readiness.checks },
      readiness.ready ? 200 : 503,
    );
  });
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );

  /**
   * A signed route: its one method, behind the body limit and the signature (the body is read, up
   * to the limit, before the signature is checked, as the signature covers it); any other method
   * is 405 with Allow.
   */
  const route = (method: 'GET' | 'POST', path: string, command: Command, handler: Handler<SignedEnv>) => {
    const limit = bodyLimit({
      maxSize: options.maxBodyBytes,
      onError: () => {
        ctx.count(command, 'too_large');
        return problem('payload_too_large', `commands are at most ${options.maxBodyBytes} bytes`);
      },
    });
    app.on(method, path, limit, signedFor(ctx, command), handler);
    app.all(path, () => problem('method_not_allowed', `use ${method}`, {}, { allow: method }));
  };
  route('GET', SIDECAR_PATHS.status, 'status', async (c) => {
    ctx.count('status', 'ok');
    return c.json(await handlers.status());
  });
  route('POST', SIDECAR_PATHS.originate, 'originate', originate(ctx));
  route('POST', SIDECAR_PATHS.hangup, 'hangup', hangup(ctx));
  route('POST', SIDECAR_PATHS.recordingFile, 'recording_file', recordingFile(ctx));
  route('POST', SIDECAR_PATHS.recordingDelete, 'recording_delete', recordingDelete(ctx));
  return app;
}

export function startCommandServer(options: ServerOptions) {
  const app = createCommandApp(options);
  return Bun.serve({
    hostname: options.host,
    port: options.port,
    // Commands are small and quick; a slow client must not hold a connection for long.
    idleTimeout: 30,
    fetch: app.fetch,
  });
}
