/**
 * The typed client at work: log in, place a call, follow it to its final status, print its event log.
 *
 *   OUTDIAL_URL=https://outdial.example.com OUTDIAL_USERNAME=alice OUTDIAL_PASSWORD=… \
 *   PHONE_NUMBER=+15551234000 bun api/client/example.ts
 *
 * The call is followed on the live stream (GET /api/v2/events?call_id=…, resumed with Last-Event-ID
 * whenever it drops), or by polling GET /api/v2/calls/{id} against a server without the stream.
 * Exits 0 when the call ended completed, 1 when it ended otherwise, 2 on a usage or API error.
 */

import { TERMINAL_STATUSES } from '../shared/contract/statuses.ts';
import {
  type Call,
  type CallEvent,
  createOutdialClient,
  isOutdialError,
  login,
  type OutdialClient,
  unwrap,
} from './index.ts';

const TERMINAL = new Set<string>(TERMINAL_STATUSES);

export interface ExampleOptions {
  url: string;
  username: string;
  password: string;
  phoneNumber: string;
  /** Give up following after this long. */
  followMs?: number;
  print?: (line: string) => void;
}

function describeEvent(e: CallEvent): string {
  const why = [e.reason, e.hangup_cause === null ? null : `cause ${e.hangup_cause}`, e.dial_status]
    .filter(Boolean)
    .join(', ');
  return `${String(e.sequence).padStart(3)}  ${e.time}  ${e.type.padEnd(16)} ${e.status}${why ? ` (${why})` : ''}`;
}

/** Hands each `event: call` frame of a text/event-stream body to `onEvent` until it returns false. */
async function readCallEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (id: string, event: CallEvent) => boolean,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
      for (let cut = text.indexOf('\n\n'); cut >= 0; cut = text.indexOf('\n\n')) {
        const frame: Record<string, string> = {};
        for (const line of text.slice(0, cut).split('\n')) {
          const i = line.indexOf(':');
          if (i > 0) frame[line.slice(0, i)] = line.slice(i + 1).replace(/^ /, '');
        }
        text = text.slice(cut + 2);
        if (frame.event === 'call' && frame.id && frame.data) {
          if (!onEvent(frame.id, JSON.parse(frame.data) as CallEvent)) return;
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Follows the call on the live stream until it is final; null when the server has no stream. */
async function followLive(
  api: OutdialClient,
  callId: string,
  deadline: number,
  print: (line: string) => void,
): Promise<string | null> {
  // From the start of the call's history, so nothing between placing it and subscribing is missed.
  let lastEventId = '0';
  let final: string | null = null;
  while (Date.now() < deadline) {
    const { response } = await api.GET('/api/v2/events', {
      params: { query: { call_id: callId }, header: { 'last-event-id': lastEventId } },
      parseAs: 'stream',
      signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
    });
    if (response.status === 404) return null;
    if (!response.ok || !response.body) throw new Error(`the event stream answered ${response.status}`);
    await readCallEvents(response.body, (id, event) => {
      lastEventId = id;
      print(`  ${event.status}${event.reason ? ` (${event.reason})` : ''}`);
      if (TERMINAL.has(event.status)) final = event.status;
      return final === null;
    }).catch((error) => {
      if (Date.now() >= deadline) return;
      print(`  (stream dropped: ${error instanceof Error ? error.message : error}; resuming)`);
    });
    if (final) return final;
  }
  throw new Error('gave up following the call');
}

async function followByPolling(
  api: OutdialClient,
  callId: string,
  deadline: number,
  print: (line: string) => void,
) {
  let last = '';
  while (Date.now() < deadline) {
    const call: Call = unwrap(
      await api.GET('/api/v2/calls/{call_id}', { params: { path: { call_id: callId } } }),
    );
    if (call.status !== last) print(`  ${call.status}${call.reason ? ` (${call.reason})` : ''}`);
    last = call.status;
    if (TERMINAL.has(call.status)) return call.status;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error('gave up following the call');
}

/** Runs the example; resolves to the call's final status. */
export async function runExample(options: ExampleOptions): Promise<string> {
  const print = options.print ?? console.log;
  const deadline = Date.now() + (options.followMs ?? 5 * 60_000);
  const anonymous = createOutdialClient({ baseUrl: options.url });
  const { access_token } = await login(anonymous, options.username, options.password);
  const api = createOutdialClient({ baseUrl: options.url, token: access_token });
  const me = unwrap(await api.GET('/api/v2/me'));
  print(`logged in as ${me.username} (${me.role})`);

  const placed = unwrap(await api.POST('/api/v2/calls', { body: { phone_number: options.phoneNumber } }));
  print(
    `call ${placed.call_id} to ${placed.phone_number}: ${placed.status}${placed.error ? ` (${placed.error})` : ''}`,
  );
  const final = TERMINAL.has(placed.status)
    ? placed.status
    : ((await followLive(api, placed.call_id, deadline, print)) ??
      (await followByPolling(api, placed.call_id, deadline, print)));

  const log = unwrap(
    await api.GET('/api/v2/calls/{call_id}/events', { params: { path: { call_id: placed.call_id } } }),
  );
  print(`final status: ${final}`);
  print('event log:');
  for (const e of log.events) print(describeEvent(e));
  return final;
}

if (import.meta.main) {
  const env = process.env;
  const missing = ['OUTDIAL_URL', 'OUTDIAL_USERNAME', 'OUTDIAL_PASSWORD', 'PHONE_NUMBER'].filter(
    (n) => !env[n],
  );
  if (missing.length > 0) {
    console.error(`set ${missing.join(', ')}`);
    process.exit(2);
  }
  try {
    const final = await runExample({
      url: env.OUTDIAL_URL!,
      username: env.OUTDIAL_USERNAME!,
      password: env.OUTDIAL_PASSWORD!,
      phoneNumber: env.PHONE_NUMBER!,
    });
    process.exit(final === 'completed' ? 0 : 1);
  } catch (error) {
    console.error(isOutdialError(error) ? `the API answered ${error.message}` : error);
    process.exit(2);
  }
}
