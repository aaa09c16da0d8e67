import { describe, expect, test } from 'bun:test';
import { loadIndex, loadTrace as loadRecorded, scenarioNames } from '../asterisk/sim/testing/traces.ts';
import { AriEvent, eventChannel, isKnownAriEvent, type KnownAriEvent } from './ari/schemas.ts';
import {
  type CallTrack,
  callIdOfChannel,
  classifyEnd,
  type MappedEvent,
  newTrack,
  normalizeTimestamp,
  onAccepted,
  onAriEvent,
  onHangupRequested,
  onLost,
} from './mapping.ts';

/**
 * Replays the recorded Asterisk 22 traces through the mapper, in the order the recorder saw
 * them (events before the originate reply included), and checks the final status, reason,
 * hangup cause and dial status of every originated call.
 */

interface Entry {
  t_ms: number;
  kind: 'http' | 'ws';
  method: string;
  path: string;
  status: number | null;
  body: unknown;
  socket?: string;
}

/** The recordings of shared/ari-traces, as the simulator keeps them in the repository. */
function loadTrace(name: string): Entry[] {
  return loadRecorded(name) as Entry[];
}

interface Replayed {
  callId: string;
  path: string;
  track: CallTrack;
  events: MappedEvent[];
  /** The `;1` ChannelDestroyed came before the originate's HTTP reply. */
  endedBeforeReply: boolean;
}

/**
 * Every originate answered 200 in the trace becomes a call; events on `socket` are applied as
 * they come. A DELETE of the call's channel in the trace is taken as ours: the intent is recorded
 * before the first explicit (soft 32) hangup request reaches the channel, or at the DELETE entry.
 */
function replay(name: string, socket = 'main'): Replayed[] {
  const entries = loadTrace(name);
  const calls = new Map<string, Replayed>();
  for (const entry of entries) {
    if (
      entry.kind === 'http' &&
      entry.method === 'POST' &&
      entry.status === 200 &&
      entry.path.startsWith('/ari/channels')
    ) {
      const id = (entry.body as { id: string }).id;
      calls.set(id, { callId: id, path: entry.path, track: newTrack(), events: [], endedBeforeReply: false });
    }
  }
  const replied = new Set<string>();
  const deleted = new Set<string>();
  for (const entry of entries) {
    if (entry.kind === 'http' && entry.method === 'DELETE' && entry.status === 204) {
      const id = decodeURIComponent(entry.path.split('?')[0]!.split('/').pop()!);
      deleted.add(id);
      const call = calls.get(id);
      if (call) call.track = onHangupRequested(call.track);
      continue;
    }
    if (
      entry.kind === 'http' &&
      entry.method === 'POST' &&
      entry.status === 200 &&
      entry.path.startsWith('/ari/channels')
    ) {
      const body = entry.body as { id: string; name: string };
      const call = calls.get(body.id)!;
      const step = onAccepted(call.track, body.name, '2026-01-01T00:00:00.000Z');
      call.track = step.track;
      call.events.push(...step.events);
      replied.add(body.id);
      continue;
    }
    if (entry.kind !== 'ws' || entry.method !== 'EVENT' || entry.socket !== socket) continue;
    const event = AriEvent.parse(entry.body);
    if (!isKnownAriEvent(event)) continue;
    const channelId = eventChannel(event)?.id;
    if (!channelId) continue;
    const call = calls.get(callIdOfChannel(channelId));
    if (!call) continue;
    if (
      event.type === 'ChannelHangupRequest' &&
      channelId === call.callId &&
      event.soft &&
      ((event.cause ?? 0) & 32) !== 0 &&
      entries.some(
        (e) => e.kind === 'http' && e.method === 'DELETE' && e.status === 204 && e.path.includes(call.callId),
      )
    ) {
      call.track = onHangupRequested(call.track);
    }
    const step = onAriEvent(call.track, event as KnownAriEvent, call.callId, '2026-01-01T00:00:00.000Z');
    call.track = step.track;
    call.events.push(...step.events);
    if (!replied.has(call.callId) && step.events.some((e) => e.type === 'ended'))
      call.endedBeforeReply = true;
  }
  return [...calls.values()];
}

interface Expect {
  status: string;
  reason: string | null;
  cause: number | null;
  dial: string | null;
}

const ended = (status: string, reason: string, cause: number | null, dial: string | null): Expect => ({
  status,
  reason,
  cause,
  dial,
});

/** What each outcome digit of the recorded dialplan gives (shared/ari-traces/README.md). */
const BY_DIGIT: Record<'sim-callee' | 'sim-trunk', Record<number, Expect>> = {
  'sim-callee': {
    0: ended('completed', 'normal', 16, 'ANSWER'),
    1: ended('busy', 'busy', 0, 'BUSY'),
    2: ended('no_answer', 'timeout', 19, 'RINGING'),
    3: ended('failed', 'congestion', 0, 'CONGESTION'),
    4: ended('completed', 'normal', 16, 'ANSWER'),
    5: ended('completed', 'normal', 16, 'ANSWER'),
    6: ended('completed', 'normal', 16, 'ANSWER'),
    7: ended('failed', 'invalid_number', 1, 'NOANSWER'),
    8: ended('busy', 'rejected', 21, 'NOANSWER'),
    9: ended('no_answer', 'no_answer', 19, 'NOANSWER'),
  },
  'sim-trunk': {
    1: ended('busy', 'busy', 17, 'BUSY'),
    3: ended('failed', 'congestion', 34, 'CONGESTION'),
  },
};

function finalOf(call: Replayed) {
  const last = call.events.filter((e) => e.type === 'ended');
  expect(last.length).toBe(1);
  const end = last[0]!;
  return { status: end.status as string, reason: end.reason, cause: end.hangup_cause, dial: end.dial_status };
}

/** Statuses only ever move forward and every call starts with `dialing`. */
function expectWellFormed(call: Replayed) {
  const order = ['dialing', 'ringing', 'answered'];
  expect(call.events[0]?.type).toBe('dialing');
  let rank = 0;
  for (const event of call.events) {
    const r = event.type === 'ended' ? 9 : order.indexOf(event.status);
    expect(r).toBeGreaterThanOrEqual(rank);
    rank = r;
  }
  expect(call.events.filter((e) => e.type === 'dialing').length).toBe(1);
  expect(call.events.filter((e) => e.type === 'answered').length).toBeLessThanOrEqual(1);
}

const index = loadIndex() as Array<{
  name: string;
  style?: string;
  outcome?: number;
  request?: { endpoint: string };
}>;

describe('every recorded event parses', () => {
  for (const name of scenarioNames()) {
    test(name, () => {
      for (const entry of loadTrace(name)) {
        if (entry.kind === 'ws' && entry.method === 'EVENT')
          expect(AriEvent.safeParse(entry.body).success).toBe(true);
      }
    });
  }
});

describe('outcome digits, both originate styles, sim-callee and sim-trunk', () => {
  const numbered = index.filter((t) => /^(10|11|20|21)-/.test(t.name));
  test('the recordings cover 10 callee digits and the trunk digits per style', () => {
    expect(numbered.filter((t) => t.style === 'dialplan').length).toBe(12);
    expect(numbered.filter((t) => t.style === 'stasis').length).toBe(12);
  });
  for (const trace of numbered) {
    test(trace.name, () => {
      const context = trace.request!.endpoint.includes('@sim-trunk') ? 'sim-trunk' : 'sim-callee';
      let want = BY_DIGIT[context][trace.outcome!]!;
      // In 20-stasis-5 the app hangs the answered call up itself (a DELETE we made).
      if (trace.name === '20-stasis-5-answer-and-stay') want = { ...want, reason: 'hangup_requested' };
      const [call] = replay(trace.name);
      expectWellFormed(call!);
      expect(finalOf(call!)).toEqual(want);
    });
  }
});

describe('other recorded scenarios', () => {
  const single: Record<string, Expect> = {
    '30-dialplan-0-auto-id': ended('completed', 'normal', 16, 'ANSWER'),
    '31-stasis-0-auto-id': ended('completed', 'normal', 16, 'ANSWER'),
    '32-stasis-0-originate-with-id-path': ended('completed', 'normal', 16, 'ANSWER'),
    '33-stasis-0-json-body-variables': ended('completed', 'normal', 16, 'ANSWER'),
    '34-stasis-5-play-then-hangup': ended('completed', 'hangup_requested', 16, 'ANSWER'),
    '35-dialplan-0-play-prompt': ended('completed', 'normal', 16, 'ANSWER'),
    '36-stasis-2-short-timeout': ended('no_answer', 'timeout', 19, 'RINGING'),
    '37-dialplan-0-E164-plus': ended('completed', 'normal', 16, 'ANSWER'),
    '40-get-channel-live-and-gone': ended('completed', 'hangup_requested', 16, 'ANSWER'),
    '41-hangup-while-ringing-dialplan': ended('canceled', 'hangup_requested', 16, 'NOANSWER'),
    '41-hangup-while-ringing-stasis': ended('canceled', 'hangup_requested', 16, 'NOANSWER'),
    '42-hangup-while-ringing-reason-busy': ended('canceled', 'hangup_requested', 17, 'BUSY'),
    // core restart with an answered call: soft hangup with the shutdown bit, then cause 0.
    '70-restart-core-restart-now': ended('completed', 'pbx_shutdown', 0, 'ANSWER'),
  };
  for (const [name, want] of Object.entries(single)) {
    test(name, () => {
      const [call] = replay(name);
      expectWellFormed(call!);
      expect(finalOf(call!)).toEqual(want);
    });
  }

  test('41: DELETE while ringing is canceled; without the intent it would not be', () => {
    const [call] = replay('41-hangup-while-ringing-stasis');
    expect(call!.events.map((e) => e.type)).toEqual(['dialing', 'ringing', 'ended']);
    // Without our intent the same events are a far-end no-answer with cause 16: unknown.
    const track = { ...call!.track, hangupRequested: false, answered: false };
    expect(classifyEnd(track, 16)).toEqual({ status: 'failed', reason: 'unknown' });
  });

  test('52: app not registered: answered then cause 0 is pbx_routing; busy stays busy', () => {
    const calls = replay('52-app-not-registered');
    expect(calls.map(finalOf)).toEqual([
      ended('failed', 'pbx_routing', 0, 'ANSWER'),
      ended('busy', 'busy', 0, 'BUSY'),
    ]);
    expect(calls[0]!.track.stasisFailed).toBe(true);
    expect(calls[0]!.events.map((e) => e.type)).toEqual(['dialing', 'ringing', 'answered', 'ended']);
  });

  test('53: app websocket closed (seen by an observer socket)', () => {
    const [call] = replay('53-app-websocket-disconnected', 'observer');
    expect(finalOf(call!)).toEqual(ended('failed', 'pbx_routing', 0, 'ANSWER'));
  });

  test('54: without subscribeAll a Stasis app sees no ChannelCreated and still maps right', () => {
    const cases: Record<string, Expect> = {
      '54-nosubscribeall-stasis-0-answer-callee-hangs-up-after-4s': ended(
        'completed',
        'normal',
        16,
        'ANSWER',
      ),
      '54-nosubscribeall-stasis-1-busy': ended('busy', 'busy', 0, 'BUSY'),
      '54-nosubscribeall-stasis-7-unallocated-number-cause-1': ended(
        'failed',
        'invalid_number',
        1,
        'NOANSWER',
      ),
    };
    for (const [name, want] of Object.entries(cases)) {
      const [call] = replay(name, 'plain');
      expectWellFormed(call!);
      expect(finalOf(call!)).toEqual(want);
    }
  });

  test('54: a dialplan originate gives a non-subscribeAll app nothing; reconciliation ends it lost', () => {
    const [call] = replay('54-nosubscribeall-dialplan-0-answer-callee-hangs-up-after-4s', 'plain');
    expect(call!.events.map((e) => e.status)).toEqual(['dialing']);
    const step = onLost(call!.track, '2026-01-01T00:00:30.000Z');
    expect(step.events).toEqual([
      expect.objectContaining({ type: 'ended', status: 'failed', reason: 'lost', hangup_cause: null }),
    ]);
    // The same call seen with subscribeAll maps normally.
    const [seen] = replay('54-nosubscribeall-dialplan-0-answer-callee-hangs-up-after-4s');
    expect(finalOf(seen!)).toEqual(ended('completed', 'normal', 16, 'ANSWER'));
  });

  test('55: 20 fast failures, events before the reply, one destroyed before it', () => {
    const calls = replay('55-race-fast-failure-x20');
    expect(calls.length).toBe(20);
    for (const call of calls) {
      expectWellFormed(call);
      const want = call.path.includes('sim-trunk')
        ? ended('busy', 'busy', 17, 'BUSY')
        : ended('failed', 'invalid_number', 1, 'NOANSWER');
      expect(finalOf(call)).toEqual(want);
    }
    expect(calls.filter((c) => c.endedBeforeReply).length).toBeGreaterThanOrEqual(1);
  });

  test('60: the socket that took the app over gets the call', () => {
    const [call] = replay('60-websocket-same-app-twice', 'second');
    expect(finalOf(call!)).toEqual(ended('completed', 'normal', 16, 'ANSWER'));
  });

  test('50: odd endpoints that ARI accepts', () => {
    const calls = replay('50-malformed-endpoints');
    const routing = ended('failed', 'pbx_routing', 0, null);
    expect(calls.map(finalOf)).toEqual([
      routing, // Local/N@sim-callee@outbound-ivr
      routing, // unknown context
      routing, // Local/abc
      routing, // Local/@ctx
      ended('failed', 'unknown', 16, 'NOANSWER'), // Local/N@ → context default
      ended('failed', 'unknown', 16, 'NOANSWER'), // Local/N
      ended('completed', 'normal', 16, 'ANSWER'), // /n option
      routing, // &app=evil injection
      ended('completed', 'normal', 16, 'ANSWER'), // a space in the number
      ended('failed', 'pbx_routing', 0, 'ANSWER'), // unknown extension after answer
      ended('failed', 'pbx_routing', 0, 'ANSWER'), // unknown context after answer
      ended('completed', 'normal', 16, 'ANSWER'), // timeout=abc
    ]);
  });
});

describe('mapper rules', () => {
  const at = '2026-01-01T00:00:00.000Z';
  const channel = (id: string, state: string) => ({
    id,
    name: `Local/1@x-1;${id.endsWith(';2') ? 2 : 1}`,
    state,
  });
  const apply = (track: CallTrack, events: KnownAriEvent[]) => {
    const out: MappedEvent[] = [];
    for (const e of events) {
      const step = onAriEvent(track, e, 'c', at);
      track = step.track;
      out.push(...step.events);
    }
    return { track, out };
  };

  test('progress keeps the status ringing and a late event never moves a finished call', () => {
    const { track, out } = apply(newTrack(), [
      { type: 'Dial', dialstatus: 'PROGRESS', peer: channel('c', 'Down') },
      { type: 'ChannelDestroyed', cause: 19, cause_txt: 'x', channel: channel('c', 'Down') },
      { type: 'ChannelStateChange', channel: channel('c', 'Up') },
      { type: 'ChannelDestroyed', cause: 16, cause_txt: 'y', channel: channel('c', 'Up') },
    ]);
    expect(out.map((e) => [e.type, e.status])).toEqual([
      ['dialing', 'dialing'],
      ['progress', 'ringing'],
      ['ended', 'no_answer'],
    ]);
    expect(track.status).toBe('no_answer');
  });

  test('causes named by the design', () => {
    const t = newTrack();
    expect(classifyEnd(t, 18)).toEqual({ status: 'failed', reason: 'unknown' });
    expect(classifyEnd({ ...t, dialStatus: 'NOANSWER', finalDial: true }, 18)).toEqual({
      status: 'no_answer',
      reason: 'no_answer',
    });
    for (const cause of [27, 34, 38, 41, 42]) expect(classifyEnd(t, cause).reason).toBe('congestion');
    for (const cause of [1, 3, 22, 28]) expect(classifyEnd(t, cause).reason).toBe('invalid_number');
    expect(classifyEnd({ ...t, dialStatus: 'CHANUNAVAIL', finalDial: true }, 0).reason).toBe('congestion');
    expect(classifyEnd({ ...t, dialStatus: 'RINGING' }, 0)).toEqual({ status: 'failed', reason: 'unknown' });
    expect(classifyEnd({ ...t, answered: true, hangupRequested: true }, 16)).toEqual({
      status: 'completed',
      reason: 'hangup_requested',
    });
  });

  test('a soft hangup cause is a bitmask, never a Q.850 cause', () => {
    // soft 16 (end of dialplan) must not read as cause 16, nor soft 17-like values as busy.
    const { track } = apply(newTrack(), [
      { type: 'ChannelHangupRequest', cause: 16, soft: true, channel: channel('c', 'Ringing') },
      { type: 'ChannelHangupRequest', cause: 32, soft: true, channel: channel('c', 'Ringing') },
    ]);
    expect(track.shutdown).toBe(false);
    const shut = apply(newTrack(), [
      { type: 'ChannelHangupRequest', cause: 4, soft: true, channel: channel('c;2', 'Up') },
    ]);
    expect(shut.track.shutdown).toBe(true);
  });

  test('events of the ;2 leg count as proof of dialing but do not end the call', () => {
    const { track, out } = apply(newTrack(), [
      { type: 'ChannelCreated', channel: channel('c;2', 'Ring') },
      { type: 'ChannelStateChange', channel: channel('c;2', 'Up') },
      { type: 'ChannelDestroyed', cause: 16, cause_txt: 'Normal Clearing', channel: channel('c;2', 'Up') },
    ]);
    expect(out.map((e) => e.type)).toEqual(['dialing']);
    expect(track.status).toBe('dialing');
  });

  test('ARI timestamps become RFC 3339', () => {
    expect(normalizeTimestamp('2026-11-23T15:23:51.214+0000', at)).toBe('2026-11-23T15:23:51.214Z');
    expect(normalizeTimestamp('2026-11-23T17:23:51.214+0200', at)).toBe('2026-11-23T15:23:51.214Z');
    expect(normalizeTimestamp(undefined, at)).toBe(at);
    expect(normalizeTimestamp('nonsense', at)).toBe(at);
  });
});
