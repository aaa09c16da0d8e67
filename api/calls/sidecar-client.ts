import type { z } from 'zod';
import type { SigningKey } from '../shared/base/keys.ts';
import { signChannelMessage } from '../shared/base/signing.ts';
import {
  HangupCommand,
  HangupReply,
  OriginateCommand,
  OriginateReply,
  RecordingDeleteCommand,
  RecordingDeleteReply,
  RecordingFileCommand,
  SIDECAR_PATHS,
  SidecarStatus,
  sidecarPrincipal,
  TYP_COMMAND,
} from '../shared/contract/index.ts';

/** The API's half of the channel: signed commands to the sidecar beside the PBX. */
export interface SidecarClient {
  readonly id: string;
  originate(command: OriginateCommand): Promise<OriginateReply>;
  hangup(command: HangupCommand): Promise<HangupReply>;
  status(): Promise<SidecarStatus>;
  /**
   * A stored recording's audio as the sidecar streams it, or null when it has no such recording. The
   * timeout covers the answer's headers only: the body streams for as long as it takes.
   */
  recordingFile(command: RecordingFileCommand): Promise<RecordingAudio | null>;
  recordingDelete(command: RecordingDeleteCommand): Promise<RecordingDeleteReply>;
}

/** A recording's audio, streamed from the sidecar that holds it. */
export interface RecordingAudio {
  contentType: string;
  contentLength: number | null;
  body: ReadableStream<Uint8Array>;
}

/**
 * The sidecar could not be reached or did not answer sensibly. `notDelivered` is true only when the
 * command surely never arrived (the connection was refused, or the API's breaker held it back), so
 * it may go to another sidecar; otherwise it may have arrived and been carried out.
 */
export class SidecarUnreachableError extends Error {
  override name = 'SidecarUnreachableError';
  readonly isSidecarUnreachable = true;
  readonly retryable = true;
  readonly notDelivered: boolean;
  constructor(message: string, options?: ErrorOptions & { notDelivered?: boolean }) {
    super(message, options);
    this.notDelivered = options?.notDelivered ?? false;
  }
}

const REFUSED_CODES = new Set(['ECONNREFUSED', 'ConnectionRefused']);

/** Whether a fetch failed because nothing listened (Bun: code ECONNREFUSED; Node: in the cause). */
function connectionRefused(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && REFUSED_CODES.has(code)) return true;
    if (typeof message === 'string' && /ECONNREFUSED|connection refused/i.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function isSidecarUnreachable(error: unknown): error is SidecarUnreachableError {
  return typeof error === 'object' && error !== null && 'isSidecarUnreachable' in error;
}

export interface HttpSidecarClientOptions {
  id: string;
  url: string;
  key: SigningKey;
  issuer: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export function createHttpSidecarClient(options: HttpSidecarClientOptions): SidecarClient {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;

  const sign = (method: 'GET' | 'POST', path: string, body: string) =>
    signChannelMessage({
      key: options.key,
      issuer: options.issuer,
      audience: sidecarPrincipal(options.id),
      typ: TYP_COMMAND,
      method,
      path,
      body,
      ttlSeconds: 30,
    });

  async function recordingFile(command: RecordingFileCommand): Promise<RecordingAudio | null> {
    const path = SIDECAR_PATHS.recordingFile;
    const body = JSON.stringify(RecordingFileCommand.parse(command));
    const token = await sign('POST', path, body);
    // Aborts only while waiting for the headers; once they came, the body streams unhurried.
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body,
        signal: controller.signal,
      });
    } catch (error) {
      throw new SidecarUnreachableError(`sidecar ${options.id} did not answer`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 404) {
      await response.body?.cancel().catch(() => undefined);
      return null;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      throw new SidecarUnreachableError(`sidecar ${options.id} answered ${response.status} for a recording`);
    }
    const length = Number(response.headers.get('content-length'));
    return {
      contentType: response.headers.get('content-type') ?? 'audio/wav',
      contentLength:
        Number.isSafeInteger(length) && length >= 0 && response.headers.has('content-length') ? length : null,
      body: response.body,
    };
  }

  async function send<T extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    payload: unknown,
    replySchema: T,
  ): Promise<z.infer<T>> {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const token = await sign(method, path, body);
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(method === 'POST' ? { body } : {}),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      throw new SidecarUnreachableError(`sidecar ${options.id} did not answer`, {
        cause: error,
        notDelivered: connectionRefused(error),
      });
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch (error) {
      throw new SidecarUnreachableError(`sidecar ${options.id} answered ${response.status} without JSON`, {
        cause: error,
      });
    }
    const parsed = replySchema.safeParse(json);
    if (!parsed.success) {
      throw new SidecarUnreachableError(
        `sidecar ${options.id} answered ${response.status} with an unknown body`,
      );
    }
    return parsed.data;
  }

  return {
    id: options.id,
    originate: (command) =>
      send('POST', SIDECAR_PATHS.originate, OriginateCommand.parse(command), OriginateReply),
    hangup: (command) => send('POST', SIDECAR_PATHS.hangup, HangupCommand.parse(command), HangupReply),
    status: () => send('GET', SIDECAR_PATHS.status, undefined, SidecarStatus),
    recordingFile,
    recordingDelete: (command) =>
      send(
        'POST',
        SIDECAR_PATHS.recordingDelete,
        RecordingDeleteCommand.parse(command),
        RecordingDeleteReply,
      ),
  };
}
