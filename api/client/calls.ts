import { TERMINAL_STATUSES } from '../shared/contract/statuses.ts';
import type { Call, CallEvent, CreateCallRequest, OriginateResponse, OutdialClient } from './client.ts';
import { isOutdialError, unwrap } from './client.ts';
import { streamEvents } from './stream.ts';

export { TERMINAL_STATUSES };
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** Whether a call's status is final: it never changes again. */
export function isFinalStatus(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export interface PlaceCallOptions {
  /** Sent as `Idempotency-Key`; a new random UUID when not given. Reuse it to retry the same call. */
  idempotencyKey?: string;
  /**
   * Times the request is sent again, with the same key, when it may not have arrived or the API asks
   * to wait (a network error, 503 or 409 idempotency_in_flight, honouring Retry-After). Default 2;
   * the key makes a repeat answer the first call instead of placing another.
   */
  retries?: number;
  signal?: AbortSignal;
}

export interface PlacedCall {
  call: OriginateResponse;
  /** The key the call was placed with: send it again to retry without placing a second call. */
  idempotencyKey: string;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `POST /api/v2/calls` with an Idempotency-Key (generated per call unless given), retried safely:
 * the same key with the same body answers the stored response, so a call is placed at most once
 * however often the request is repeated. A refusal is an OutdialError; a call the PBX refused is
 * an answer (`success: false`, `status: "failed"`).
 */
export async function placeCall(
  client: OutdialClient,
  body: CreateCallRequest,
  options: PlaceCallOptions = {},
): Promise<PlacedCall> {
  const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
  const retries = options.retries ?? 2;
  for (let attempt = 0; ; attempt++) {
    let delayMs = 1000;
    try {
      const result = await client.POST('/api/v2/calls', {
        body,
        params: { header: { 'idempotency-key': idempotencyKey } },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return { call: unwrap(result), idempotencyKey };
    } catch (error) {
      if (options.signal?.aborted || attempt >= retries) throw error;
      if (isOutdialError(error)) {
        const again =
          error.status === 503 || (error.status === 409 && error.problem?.code === 'idempotency_in_flight');
        if (!again) throw error;
        const seconds = Number(error.retryAfter);
        if (Number.isFinite(seconds) && seconds > 0) delayMs = Math.min(seconds * 1000, 30_000);
      }
    }
    await wait(delayMs);
  }
}

export interface FollowCallOptions {
  /** Each event of the call, in order and once, from its first (`created`) to its last. */
  onEvent?: (event: CallEvent) => void;
  signal?: AbortSignal;
  /** Passed to streamEvents. */
  reconnectDelayMs?: number;
}

/**
 * Follows a call on the live stream until its status is final, and resolves to the call as it ended.
 * At every connection that does not resume where the last left off (the first, or one too far
 * behind to catch up), once the stream has said where it starts, the call's event log is read: what
 * happened before is handed to `onEvent` from there, and a call that has already ended is not
 * waited for. Events are told once each, by their sequence number, whichever way they came.
 */
export async function followCall(
  client: OutdialClient,
  callId: string,
  options: FollowCallOptions = {},
): Promise<Call> {
  const path = { params: { path: { call_id: callId } } };
  let told = 0;
  const tell = (event: CallEvent) => {
    if (event.sequence <= told) return;
    told = event.sequence;
    options.onEvent?.(event);
  };
  const stop = new AbortController();
  const abort = () => stop.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const stream = streamEvents(client, {
      query: { call_id: callId, kind: 'call' },
      signal: stop.signal,
      ...(options.reconnectDelayMs === undefined ? {} : { reconnectDelayMs: options.reconnectDelayMs }),
    });
    for await (const frame of stream) {
      if (frame.event === 'ready') {
        // A resumed stream replays what it missed itself.
        if (frame.data.resumed) continue;
        // The call before its log: a call read as ended has its last event in a log read after it
        // (a status and its event are written together), and one that ends after the call was read
        // sends that event on this stream, already open. The other order misses it.
        const call = unwrap(await client.GET('/api/v2/calls/{call_id}', path));
        const log = unwrap(await client.GET('/api/v2/calls/{call_id}/events', path));
        for (const event of log.events) tell(event);
        if (isFinalStatus(call.status)) return call;
      } else if (frame.event === 'call' && frame.data.call_id === callId) {
        tell(frame.data);
        if (isFinalStatus(frame.data.status))
          return unwrap(await client.GET('/api/v2/calls/{call_id}', path));
      }
    }
    // The stream ends only when the signal stopped it.
    throw options.signal?.reason ?? new Error('following the call was stopped');
  } finally {
    options.signal?.removeEventListener('abort', abort);
    stop.abort();
  }
}
