/**
 * Compares a replayed scenario with its recording.
 *
 * Events are compared per socket and per channel leg (`;1`/`;2` of the n-th call that socket
 * saw), in four independent streams, because Asterisk publishes from several threads and only
 * the order within one leg and one kind of event is stable:
 *  - core: ChannelCreated, ChannelStateChange, Dial, ChannelHangupRequest, ChannelDestroyed,
 *    StasisStart, StasisEnd and ChannelVarset STASISSTATUS, as (type, state, dialstatus, cause,
 *    cause_txt, soft, args, value) plus the snapshot's dialplan location and caller/connected;
 *  - dialplan: ChannelDialplan (app and data);
 *  - variables: the other ChannelVarset events;
 *  - caller ids: ChannelCallerId and ChannelConnectedLine with the caller/connected they carry.
 * Other channel events (ChannelDtmfReceived with its digit and length, ChannelEnteredBridge and
 * ChannelLeftBridge with the bridge) form a fifth stream per leg. Events without a channel
 * (ApplicationReplaced; Playback* with id, media and next media; Recording* with name, state,
 * durations and cause; Bridge*) are compared per socket. DeviceStateChanged is only checked for
 * shape: Asterisk coalesces device states asynchronously and the recordings show 2 to 5 of them
 * per call in no stable order.
 *
 * One ordering is normalised: `Dial dialstatus=""` of `;1` sometimes comes after the first
 * reaction of the callee (recordings 11-trunk-dialplan-1, 20-stasis-8 and 70 show it after
 * ChannelStateChange(Ringing) or ChannelHangupRequest). It is the dial thread racing the callee
 * thread; both orders are moved to the one the README documents (right after ChannelCreated).
 * The other orders the README marks (±) are between the two legs, which per-leg streams ignore.
 *
 * One answer is normalised: the `state` of the 201 to a play or a record that starts at once is
 * `"queued"` or, when PlaybackStarted/RecordingStarted won the race, `"playing"`/`"recording"`
 * (IVR.md: 34 and the first play of 45; the cancel of 49-ivr-record-limits-stop-cancel); both
 * read as `"queued"`. Ids Asterisk generates (UUIDs of playbacks) read as `<uuid>`.
 *
 * `timedDelays` gives, for the events the simulator times itself (Playback*, Recording*,
 * ChannelDtmfReceived, ChannelVarset AMDSTATUS), how long after the last thing before it (an
 * earlier event or a request sent) each one came: the replay test compares those delays.
 */
import { isCoreEvent } from './client.ts';
import { type AriEvent, isEvent, sentAt, type TraceEntry } from './traces.ts';

interface ChannelLike {
  id: string;
  name: string;
  state: string;
  caller: { name: string; number: string };
  connected: { name: string; number: string };
  dialplan: { context: string; exten: string; priority: number; app_name: string; app_data: string };
  channelvars?: Record<string, string>;
}

const normalizeText = (s: string): string =>
  s
    .replace(/-[0-9a-f]{8}(;[12])/g, '-<n>$1')
    .replace(/^\d{9,11}\.\d+(;2)?$/, '<auto-id>$1')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}/g, '<time>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>');

const VOLATILE_KEYS = new Set(['timestamp', 'creationtime', 'startup_time', 'last_reload_time', 'basePath']);

/** Deep copy with times, Local counters and generated ids made comparable. */
const normalize = (v: unknown): unknown => {
  if (typeof v === 'string') return normalizeText(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) out[k] = VOLATILE_KEYS.has(k) ? '<volatile>' : normalize(val);
    return out;
  }
  return v;
};

/** The keys of an object, recursively, as sorted paths: what "shaped as recorded" means. */
const shape = (v: unknown, prefix = ''): string[] => {
  if (Array.isArray(v)) return [`${prefix}[]`, ...(v.length > 0 ? shape(v[0], `${prefix}[]`) : [])];
  if (v !== null && typeof v === 'object') {
    return Object.entries(v)
      .flatMap(([k, val]) => [`${prefix}.${k}`, ...shape(val, `${prefix}.${k}`)])
      .sort();
  }
  return [];
};

const channelOf = (e: AriEvent): ChannelLike | undefined => (e.channel ?? e.peer) as ChannelLike | undefined;

/** Where the channel is in the dialplan and who it says it is: `[ctx,exten,prio,App(data)] caller>connected`. */
const snapshotItem = (ch: ChannelLike): string => {
  const d = ch.dialplan;
  const where = `${d.context},${d.exten},${d.priority},${d.app_name}(${d.app_data})`;
  const vars = ch.channelvars ? ` vars=${JSON.stringify(ch.channelvars)}` : '';
  return normalizeText(
    `[${where}] ${ch.caller.name}/${ch.caller.number}>${ch.connected.name}/${ch.connected.number}${vars}`,
  );
};

const coreItem = (e: AriEvent, ch: ChannelLike): string => {
  let s = `${e.type}(${ch.state}) ${snapshotItem(ch)}`;
  if (e.type === 'Dial') s += ` dialstatus="${e.dialstatus}"`;
  if (e.cause !== undefined) s += ` cause=${e.cause}`;
  if (e.cause_txt !== undefined) s += ` "${e.cause_txt}"`;
  if (e.soft) s += ' soft';
  if (e.type === 'StasisStart') s += ` args=${JSON.stringify(e.args)}`;
  if (e.type === 'ChannelVarset') s += ` ${e.variable}="${e.value}"`;
  return s;
};

type Streams = Map<string, string[]>;

/** Events without a channel: what they say about the playback, recording or bridge. */
const socketItem = (ev: AriEvent): string => {
  const pb = ev.playback as Record<string, string> | undefined;
  if (pb) {
    const next = pb.next_media_uri === undefined ? '' : ` next=${pb.next_media_uri}`;
    return normalizeText(`${ev.type} ${pb.state} ${pb.id} ${pb.media_uri}${next} ${pb.language}`);
  }
  const rec = ev.recording as Record<string, unknown> | undefined;
  if (rec) {
    const extra = ['duration', 'talking_duration', 'silence_duration', 'cause']
      .filter((k) => rec[k] !== undefined)
      .map((k) => ` ${k}=${rec[k]}`)
      .join('');
    return `${ev.type} ${rec.name} ${rec.format} ${rec.state}${extra}`;
  }
  const bridge = ev.bridge as { id: string; bridge_type: string; channels: string[] } | undefined;
  if (bridge) return `${ev.type} ${bridge.id} ${bridge.bridge_type} [${bridge.channels.join(',')}]`;
  return ev.type;
};

/** The fifth stream per leg: DTMF with digit and length, bridge entries and exits. */
const otherItem = (ev: AriEvent, ch: ChannelLike): string => {
  let s = `${ev.type}(${ch.state})`;
  if (ev.digit !== undefined) s += ` ${ev.digit} ${ev.duration_ms}ms`;
  const bridge = ev.bridge as { id: string; channels: string[] } | undefined;
  if (bridge) s += ` ${bridge.id} [${bridge.channels.join(',')}]`;
  return s;
};

/** The Dial-race normalisation described at the top of this file. */
const normalizeDialRace = (seq: string[]): string[] => {
  const i = seq.findIndex((s) => s.startsWith('Dial(') && s.endsWith('dialstatus=""'));
  const created = seq[0]?.startsWith('ChannelCreated(') ? 1 : 0;
  if (i <= created) return seq;
  const out = [...seq];
  out.splice(i, 1);
  out.splice(created, 0, (seq[i] as string).replace(/^Dial\(\w+\)/, 'Dial(Down)'));
  return out;
};

/** Splits a log's events into the compared streams, keyed by socket, call number and leg. */
const eventStreams = (log: TraceEntry[]): Streams => {
  const streams: Streams = new Map();
  const calls = new Map<string, Map<string, number>>();
  const push = (key: string, item: string) => {
    const list = streams.get(key) ?? [];
    list.push(item);
    streams.set(key, list);
  };
  for (const e of log) {
    if (!isEvent(e)) continue;
    const ev = e.body;
    const ch = channelOf(ev);
    if (!ch) {
      if (ev.type !== 'DeviceStateChanged') push(`${e.socket} socket`, socketItem(ev));
      continue;
    }
    const base = ch.name.replace(/;[12]$/, '');
    const leg = ch.name.endsWith(';2') ? ';2' : ';1';
    const perSocket = calls.get(e.socket) ?? new Map<string, number>();
    calls.set(e.socket, perSocket);
    if (!perSocket.has(base)) perSocket.set(base, perSocket.size + 1);
    const key = `${e.socket} call#${perSocket.get(base)} ${leg}`;
    if (isCoreEvent(ev)) push(`${key} core`, coreItem(ev, ch));
    else if (ev.type === 'ChannelDialplan') {
      push(`${key} dialplan`, normalizeText(`${ev.dialplan_app}(${ev.dialplan_app_data})`));
    } else if (ev.type === 'ChannelVarset') push(`${key} variables`, `${ev.variable}="${ev.value}"`);
    else if (ev.type === 'ChannelCallerId' || ev.type === 'ChannelConnectedLine') {
      push(
        `${key} callerid`,
        `${ev.type} caller=${ch.caller.name}/${ch.caller.number} connected=${ch.connected.name}/${ch.connected.number}`,
      );
    } else push(`${key} other`, otherItem(ev, ch));
  }
  for (const [key, seq] of streams) {
    if (key.endsWith(';1 core')) streams.set(key, normalizeDialRace(seq));
  }
  return streams;
};

/** The race of a 201 to play/record against its Started event (see the top of this file). */
const raceFree = (e: TraceEntry): unknown => {
  const body = e.body as { state?: string } | null;
  if (e.method !== 'POST' || e.status !== 201 || !body || typeof body !== 'object') return body;
  const path = (e.path ?? '').split('?')[0] as string;
  if (/\/play(\/[^/]+)?$/.test(path) && body.state === 'playing') return { ...body, state: 'queued' };
  if (/\/record$/.test(path) && body.state === 'recording') return { ...body, state: 'queued' };
  return body;
};

const httpDigest = (e: TraceEntry) => ({
  request: `${e.method} ${normalizeText(e.path ?? '')}`,
  status: e.status,
  body: normalize(raceFree(e)),
  ...(e.www_authenticate ? { www_authenticate: e.www_authenticate } : {}),
  ...(e.response_headers
    ? { response_headers: e.response_headers, body_bytes: e.body_bytes, body_magic: e.body_magic }
    : {}),
});

const lifecycle = (log: TraceEntry[]): string[] =>
  log
    .filter((e) => e.kind === 'ws' && (e.method === 'OPEN' || e.method === 'CLOSE' || e.method === 'ERROR'))
    .map((e) => `${e.socket} ${e.method}${e.method === 'ERROR' ? '' : ` ${e.status}`}`)
    .sort();

export interface Comparison {
  differences: string[];
  /** How many compared items matched, to show the test compared something. */
  compared: { http: number; sockets: number; streams: number; events: number };
}

export const compareLogs = (recorded: TraceEntry[], observed: TraceEntry[]): Comparison => {
  const differences: string[] = [];
  const show = (v: unknown) => JSON.stringify(v);

  const recHttp = recorded.filter((e) => e.kind === 'http' || e.method === 'UPGRADE');
  const obsHttp = observed.filter((e) => e.kind === 'http' || e.method === 'UPGRADE');
  if (recHttp.length !== obsHttp.length) {
    differences.push(`HTTP exchanges: recorded ${recHttp.length}, replayed ${obsHttp.length}`);
  }
  for (let i = 0; i < Math.min(recHttp.length, obsHttp.length); i++) {
    const want = httpDigest(recHttp[i] as TraceEntry);
    const got = httpDigest(obsHttp[i] as TraceEntry);
    if (show(want) !== show(got))
      differences.push(`HTTP #${i + 1}\n  recorded ${show(want)}\n  replayed ${show(got)}`);
  }

  const recLife = lifecycle(recorded);
  const obsLife = lifecycle(observed);
  if (show(recLife) !== show(obsLife)) {
    differences.push(`websocket opens/closes\n  recorded ${show(recLife)}\n  replayed ${show(obsLife)}`);
  }

  const rec = eventStreams(recorded);
  const obs = eventStreams(observed);
  let events = 0;
  for (const key of new Set([...rec.keys(), ...obs.keys()])) {
    const want = rec.get(key) ?? [];
    const got = obs.get(key) ?? [];
    events += want.length;
    if (show(want) !== show(got)) {
      differences.push(`${key}\n  recorded ${want.join(' | ')}\n  replayed ${got.join(' | ')}`);
    }
  }

  // Shape: every replayed event has the keys of some recorded event of its type.
  const shapes = new Map<string, Set<string>>();
  for (const e of recorded) {
    if (!isEvent(e)) continue;
    const known = shapes.get(e.body.type) ?? new Set<string>();
    known.add(show(shape(e.body)));
    shapes.set(e.body.type, known);
  }
  const reported = new Set<string>();
  for (const e of observed) {
    if (!isEvent(e)) continue;
    const known = shapes.get(e.body.type);
    const got = show(shape(e.body));
    if (known && !known.has(got) && !reported.has(e.body.type)) {
      reported.add(e.body.type);
      differences.push(`shape of ${e.body.type}\n  recorded ${[...known].join(' or ')}\n  replayed ${got}`);
    }
  }
  return {
    differences,
    compared: { http: recHttp.length, sockets: recLife.length, streams: rec.size, events },
  };
};

/** Events whose time the simulator decides itself (media, DTMF, AMD), as opposed to requests. */
const timedType = (e: AriEvent): string | null => {
  if (/^(Playback|Recording)/.test(e.type) || e.type === 'ChannelDtmfReceived') return e.type;
  if (e.type === 'ChannelVarset' && e.variable === 'AMDSTATUS') return 'ChannelVarset AMDSTATUS';
  return null;
};

export interface TimedDelay {
  /** `<socket> <type> #<n>`: the n-th event of that type on that socket. */
  key: string;
  /** Milliseconds since the last event before it, or the last request sent (strictly) before it. */
  ms: number;
}

/**
 * See the top of this file; DeviceStateChanged (asynchronous) is never a reference point.
 * `sentAfterEvent`: for a recording, its requests in SENT_AFTER_EVENT (traces.ts).
 */
export const timedDelays = (log: TraceEntry[], sentAfterEvent: readonly number[] = []): TimedDelay[] => {
  const sent = log.filter((e) => e.kind === 'http').map((e) => sentAt(e, sentAfterEvent));
  const counts = new Map<string, number>();
  const out: TimedDelay[] = [];
  let lastEvent = Number.NEGATIVE_INFINITY;
  for (const e of log) {
    if (!isEvent(e) || e.body.type === 'DeviceStateChanged') continue;
    const type = timedType(e.body);
    if (type !== null) {
      const name = `${e.socket} ${type}`;
      const n = (counts.get(name) ?? 0) + 1;
      counts.set(name, n);
      const request = Math.max(Number.NEGATIVE_INFINITY, ...sent.filter((t) => t < e.t_ms));
      const since = Math.max(lastEvent, request);
      if (Number.isFinite(since)) out.push({ key: `${name} #${n}`, ms: e.t_ms - since });
    }
    lastEvent = e.t_ms;
  }
  return out;
};
