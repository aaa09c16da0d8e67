import type { CallEvent, CampaignProgress, OutdialClient, Problem } from './client.ts';
import { OutdialError } from './client.ts';

/** One message of a text/event-stream, as the HTML standard's parser dispatches it. */
export interface SseMessage {
  /** The `event:` name; `message` when the frame named none. */
  event: string;
  data: string;
  /** The last event id after this message: a frame without `id:` leaves it as it was. */
  lastEventId: string;
  /** The frame's own `id:`, when it had one. */
  id: string | undefined;
  /** The `retry:` the frame asked for, in milliseconds. */
  retry: number | undefined;
}

/**
 * A text/event-stream parser (HTML standard, "event stream interpretation") fed text as it
 * arrives: lines end in CRLF, LF or CR, a line starting with `:` is a comment (a heartbeat), a blank
 * line dispatches the frame. The last event id lives across frames, so an id-less frame (a campaign
 * snapshot, the `ready` frame) does not move the cursor a resume starts from.
 */
export class SseParser {
  lastEventId = '';
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  private retry: number | undefined;

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId;
  }

  /** The messages completed by `text`; a partial line or frame waits for more. */
  push(text: string): SseMessage[] {
    this.buffer += text;
    const out: SseMessage[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      // A CR at the very end may be the first half of a CRLF still on its way.
      if (this.buffer[end] === '\r' && end === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + (this.buffer.startsWith('\r\n', end) ? 2 : 1));
      const message = this.line(line);
      if (message) out.push(message);
    }
    return out;
  }

  /** Forgets a frame cut off by the end of a connection (the standard drops it too). */
  reset(): void {
    this.buffer = '';
    this.event = '';
    this.data = [];
    this.id = undefined;
    this.retry = undefined;
  }

  private line(line: string): SseMessage | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) {
      this.id = value;
      this.lastEventId = value;
    } else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }

  private dispatch(): SseMessage | null {
    const message: SseMessage = {
      event: this.event || 'message',
      data: this.data.join('\n'),
      lastEventId: this.lastEventId,
      id: this.id,
      retry: this.retry,
    };
    const empty = this.data.length === 0;
    this.event = '';
    this.data = [];
    this.id = undefined;
    this.retry = undefined;
    return empty && message.retry === undefined ? null : message;
  }
}

/** The first frame of every connection: where it starts, and whether the resume was too far behind. */
export interface ReadyFrame {
  /** The id the stream starts after: a cursor for the next connection until a call event comes. */
  after: string;
  /** True when this connection resumed after the last event id sent. */
  resumed: boolean;
  /** True when that id was too far behind to catch up: re-list what you follow, then go on. */
  missed: boolean;
}

export type StreamFrame =
  | { event: 'ready'; data: ReadyFrame }
  | { event: 'call'; id: string; data: CallEvent }
  | { event: 'campaign'; data: CampaignProgress };

export interface StreamQuery {
  /** Only these calls. */
  call_id?: string | string[];
  /** Only these campaigns' progress. */
  campaign_id?: string | string[];
  /** Which frames: `call`, `campaign` (default: see GET /api/v2/events). */
  kind?: string | string[];
  /** Only events that moved a call to these statuses. */
  status?: string | string[];
}

export interface StreamOptions {
  query?: StreamQuery;
  /** Resume after this event id (`'0'`: from the first event the server still has). */
  lastEventId?: string;
  /** Ends the stream: the iteration finishes without an error. */
  signal?: AbortSignal;
  /** The first wait before reconnecting (default: the server's `retry:`, else 1 s); doubled per failure. */
  reconnectDelayMs?: number;
  /** The longest wait between reconnections (default 30 s). */
  maxReconnectDelayMs?: number;
  /** Told before each reconnection, with why the last connection ended. */
  onReconnect?: (info: { attempt: number; delayMs: number; cause: unknown }) => void;
}

/** An async iterable of the stream's frames that remembers where it is. */
export interface EventStream extends AsyncIterable<StreamFrame> {
  /** The id the next connection resumes after (the last call event's, or the `ready` frame's start). */
  readonly lastEventId: string | undefined;
}

const list = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : v);

/** Statuses worth reconnecting after: the server is busy or briefly unable to answer. */
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function toFrame(message: SseMessage): StreamFrame | null {
  switch (message.event) {
    case 'ready':
      return { event: 'ready', data: JSON.parse(message.data) as ReadyFrame };
    case 'call':
      return message.id === undefined
        ? null
        : { event: 'call', id: message.id, data: JSON.parse(message.data) as CallEvent };
    case 'campaign':
      return { event: 'campaign', data: JSON.parse(message.data) as CampaignProgress };
    default:
      // A frame this version does not know: skipped, so a newer server does not break older clients.
      return null;
  }
}

/**
 * `GET /api/v2/events` as an async iterable of frames, reconnecting by itself: after a dropped
 * connection, a server restart or a 429/5xx it waits (the server's `retry:`, doubled per failure up
 * to a cap, jittered, Retry-After honoured) and resumes with `Last-Event-ID`, so no call event is
 * missed or seen twice. The wait is back to its start once a connection has been answered. A 401,
 * 403 or 422 (the key revoked, the token expired, a bad filter) ends the iteration with an
 * OutdialError; the signal ends it quietly.
 */
export function streamEvents(client: OutdialClient, options: StreamOptions = {}): EventStream {
  let lastEventId = options.lastEventId;
  const signal = options.signal;
  const maxDelay = options.maxReconnectDelayMs ?? 30_000;

  async function* frames(): AsyncGenerator<StreamFrame, void, undefined> {
    let serverRetry: number | undefined;
    let failures = 0;
    while (!signal?.aborted) {
      let cause: unknown;
      let retryAfterMs: number | undefined;
      try {
        const q = options.query ?? {};
        const { response, error } = await client.GET('/api/v2/events', {
          params: {
            query: {
              call_id: list(q.call_id),
              campaign_id: list(q.campaign_id),
              kind: list(q.kind),
              status: list(q.status),
            },
            header: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
          },
          parseAs: 'stream',
          ...(signal ? { signal } : {}),
        });
        if (!response.ok || !response.body) {
          const refused = new OutdialError(
            response.status,
            error as Partial<Problem> | undefined,
            response.headers.get('Retry-After'),
          );
          if (!RETRYABLE.has(response.status)) throw refused;
          cause = refused;
          const seconds = Number(response.headers.get('Retry-After'));
          if (Number.isFinite(seconds) && seconds > 0) retryAfterMs = seconds * 1000;
        } else {
          const parser = new SseParser();
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              for (const message of parser.push(value)) {
                // Frames already read when the signal came are not handed out.
                if (signal?.aborted) return;
                if (message.retry !== undefined) serverRetry = message.retry;
                const frame = toFrame(message);
                if (!frame) continue;
                if (frame.event === 'ready') {
                  failures = 0;
                  // Where this connection starts: the id sent back when resumed, the newest when the
                  // id sent was too far behind or none was sent. A resume before any call event
                  // comes starts here, so nothing in between is missed.
                  lastEventId = frame.data.after;
                } else if (frame.event === 'call') lastEventId = frame.id;
                yield frame;
              }
            }
            cause = new Error('the server ended the stream');
          } catch (error) {
            cause = error;
          } finally {
            await reader.cancel().catch(() => undefined);
          }
        }
      } catch (error) {
        if (signal?.aborted) return;
        if (error instanceof OutdialError) throw error;
        cause = error;
      }
      if (signal?.aborted) return;
      const base = options.reconnectDelayMs ?? serverRetry ?? 1000;
      const backoff = Math.min(maxDelay, base * 2 ** failures) * (0.5 + Math.random() / 2);
      const delayMs = Math.max(backoff, retryAfterMs ?? 0);
      failures++;
      options.onReconnect?.({ attempt: failures, delayMs, cause });
      await sleep(delayMs, signal);
    }
  }

  return {
    get lastEventId() {
      return lastEventId;
    },
    [Symbol.asyncIterator]: () => frames(),
  };
}
