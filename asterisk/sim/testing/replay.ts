/**
 * Replays one recorded scenario against a simulator: the same HTTP requests and websocket
 * opens, closes and refused upgrades, at the recorded times multiplied by the time scale. The
 * result is a log in the recording's own format, so both can be compared the same way.
 */
import type { SimHandle } from '../server.ts';
import { GOOD_BASIC, isCoreEvent, PASS, rawUpgrade, USER } from './client.ts';
import { isEvent, SENT_AFTER_EVENT, sentAt, type TraceEntry } from './traces.ts';

/**
 * How the recorder restarted Asterisk in scenarios 70–74, read from their NOTE entries, in
 * recorded milliseconds: `at` the command (or the first 1006 close), `downMs` until HTTP answered
 * again, `delayMs` until the shutdown events of recording 70, `resumeAt` the first action that
 * needs the new instance (the replay waits for the restart to finish before it).
 * `downMs` gets 250 ms of slack so that requests the recorder made while Asterisk was down
 * still fall into the window when the machine is busy; nothing after `resumeAt` depends on it.
 * In 70 the command came 500 ms after the answer, while the callee started Wait(60) and
 * `;1` had 1.5 s of Wait(2) left; the replay restarts midway so that neither timer races it.
 */
const SLACK = 250;
export const RESTARTS: Record<string, { at: number; downMs: number; delayMs?: number; resumeAt: number }> = {
  '70-restart-core-restart-now': {
    at: 2256,
    delayMs: 17874 - 2256,
    downMs: 17982 - 17880 + SLACK,
    resumeAt: 17982,
  },
  '71-kill9-and-start': { at: 0, downMs: 1572 + SLACK, resumeAt: 1572 },
  '72-core-stop-now-and-start': { at: 936, downMs: 2506 - 937 + SLACK, resumeAt: 2506 },
  '73-restart-core-restart-now-idle': { at: 914, downMs: 1022 - 915 + SLACK, resumeAt: 1022 },
  // Same delay as 70 is asked for, but without a subscribeAll socket Asterisk does not wait.
  '74-restart-live-call-without-subscribeall-socket': {
    at: 2631,
    delayMs: 16000,
    downMs: 105 + SLACK,
    resumeAt: 2739,
  },
};

/**
 * Requests the recorder happened to send within a few milliseconds of a change they observe;
 * replayed at a time where the recorded answer is the only possible one (recorded t_ms → when).
 * 74: GET /channels at 1510 saw `;2` still in Answer(), whose half second ended about 2 ms later.
 */
const RETIMED: Record<string, Record<number, number>> = {
  '74-restart-live-call-without-subscribeall-socket': { 1510: 1300 },
  // 57: continue sent in the millisecond the channel went away (after Playback(goodbye)); the
  // last request, so it can wait half a second more.
  '57-ivr-continue-to-dialplan': { 1952: 2400 },
  // 49: stop and cancel 1.00 s after their RecordingStarted, right at the second that makes
  // duration 1; and the recording before them ends on maxDurationSeconds=2, checked against whole
  // seconds of the clock, anywhere from 2 to 3 s after it began (recorded 2.34 s; replayed about
  // 2.67 s, at the simulator's 9 s, its clock starting just before the replay). Sent later,
  // duration 1 is the only answer whatever that clock does: the stop about 1.2 s after its
  // recording began, the cancel 1.2 s after the stop (three requests after it begin the cancel's
  // recording), and the hang-up after it still within the `;1` leg's recorded lifetime.
  '49-ivr-record-limits-stop-cancel': { 9651: 10200, 10657: 11420 },
};

/** Events the recorder was waiting for before its next request, so the replay waits too. */
const REACTION_TYPES = new Set([
  'StasisStart',
  'PlaybackStarted',
  'PlaybackContinuing',
  'PlaybackFinished',
  'RecordingStarted',
  'RecordingFinished',
  'RecordingFailed',
  'ChannelDtmfReceived',
]);

type Action =
  /** `at`: when the replay sends it; `seenAt`: what the recorder had seen by then (retimed later). */
  | { kind: 'http'; at: number; seenAt: number; entry: TraceEntry }
  | { kind: 'open'; at: number; socket: string; path: string }
  | { kind: 'close'; at: number; socket: string }
  | { kind: 'upgrade'; at: number; socket: string; path: string }
  | { kind: 'connect-fail'; at: number; socket: string; path: string }
  | { kind: 'restart'; at: number };

const INITIAL_SOCKETS: Record<string, string> = {
  main: '/ari/events?app=contactcenter&subscribeAll=true&api_key=***',
  plain: '/ari/events?app=ccplain&api_key=***',
};

const actionsOf = (name: string, trace: TraceEntry[]): Action[] => {
  const actions: Action[] = [];
  // The recorder sent one request at a time, in the order of the log; with latencies rounded to
  // the millisecond a request can seem to have left before the previous one came back.
  let lastHttp = 0;
  for (const e of trace) {
    if (e.kind === 'http') {
      const sent = sentAt(e, SENT_AFTER_EVENT[name]);
      const at = RETIMED[name]?.[e.t_ms] ?? Math.max(lastHttp, sent);
      lastHttp = at;
      actions.push({ kind: 'http', at, seenAt: Math.min(sent, at), entry: e });
    } else if (e.method === 'OPEN' && e.socket && e.path) {
      actions.push({
        kind: 'open',
        at: Math.max(0, e.t_ms - (e.connect_ms ?? 0)),
        socket: e.socket,
        path: e.path,
      });
    } else if (e.method === 'CLOSE' && e.status === 1000 && e.socket) {
      actions.push({ kind: 'close', at: e.t_ms, socket: e.socket });
    } else if (e.method === 'UPGRADE' && e.socket && e.path) {
      actions.push({ kind: 'upgrade', at: Math.max(0, e.t_ms - 2), socket: e.socket, path: e.path });
    } else if (e.method === 'ERROR' && e.socket && e.path) {
      actions.push({ kind: 'connect-fail', at: Math.max(0, e.t_ms - 1), socket: e.socket, path: e.path });
    }
  }
  const restart = RESTARTS[name];
  if (restart) actions.push({ kind: 'restart', at: restart.at });
  return actions.sort((a, b) => a.at - b.at);
};

/** Credentials by the recorder's socket names: badauth-* wrong, noauth none, others good. */
const socketAuth = (socket: string, path: string): { path: string; headers: Record<string, string> } => {
  const bad = socket.startsWith('badauth');
  if (path.includes('api_key=***')) {
    return { path: path.replace('api_key=***', `api_key=${USER}:${bad ? 'wrong' : PASS}`), headers: {} };
  }
  if (socket === 'noauth') return { path, headers: {} };
  return { path, headers: { Authorization: bad ? `Basic ${btoa(`${USER}:wrong`)}` : GOOD_BASIC } };
};

export interface ReplayOptions {
  timeScale: number;
  /** Longest wait for the simulator to catch up with the recording, in real milliseconds. */
  catchUpMs?: number;
}

type EventEntry = TraceEntry & { body: { type: string }; socket: string };

/** The recorder kept the headers, size and first bytes of recording files (IVR.md, format). */
const fileDetails = async (res: Response, entry: TraceEntry): Promise<string | null> => {
  const type = res.headers.get('content-type') ?? '';
  entry.response_headers = {
    'content-type': type,
    'content-length': res.headers.get('content-length') ?? '',
  };
  const bytes = new Uint8Array(await res.arrayBuffer());
  entry.body_bytes = bytes.length;
  if (type.includes('json')) return new TextDecoder().decode(bytes);
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.slice(from, to));
  entry.body_magic = `${ascii(0, 4)}....${ascii(8, 12)}`;
  return null;
};

/** One replay of one recording against one simulator. */
class Replay {
  readonly observed: TraceEntry[] = [];
  private readonly sockets = new Map<string, WebSocket>();
  /** Per socket: how many events of each type arrived so far. */
  private readonly seen = new Map<string, Map<string, number>>();
  /** Ids Asterisk generated in the recording → the ones the simulator generated. */
  private readonly ids = new Map<string, string>();
  private t0 = performance.now();
  private readonly scale: number;
  private readonly catchUpMs: number;

  constructor(
    private readonly name: string,
    private readonly trace: TraceEntry[],
    private readonly sim: SimHandle,
    opts: ReplayOptions,
  ) {
    this.scale = opts.timeScale;
    this.catchUpMs = opts.catchUpMs ?? 1500;
  }

  /**
   * Recorded milliseconds since the start, to the microsecond: an event the simulator sends within
   * the same millisecond as the request that caused it must still read as after it (timedDelays);
   * rounded to whole milliseconds (two real ones at half speed), the two could be equal, and the
   * event was then timed from whatever came before the request (49's RecordingFinished after its
   * stop read as 1,207 ms late).
   */
  private now(at = performance.now()): number {
    return Math.round(((at - this.t0) / (this.scale || 1)) * 1000) / 1000;
  }

  private at(ms: number): number {
    return this.t0 + ms * this.scale;
  }

  private push(entry: Omit<TraceEntry, 't_ms'>): void {
    this.observed.push({ t_ms: this.now(), ...entry });
  }

  private count(socket: string, type: string): number {
    return this.seen.get(socket)?.get(type) ?? 0;
  }

  openSocket(socket: string, rawPath: string): Promise<void> {
    const { path, headers } = socketAuth(socket, rawPath);
    const base = { kind: 'ws' as const, path: rawPath, socket };
    return new Promise<void>((resolve) => {
      const ws = new WebSocket(`${this.sim.url.replace(/^http/, 'ws')}${path}`, {
        headers,
      } as unknown as string[]);
      let opened = false;
      const timer = setTimeout(() => resolve(), 2000);
      ws.onopen = () => {
        opened = true;
        this.sockets.set(socket, ws);
        this.push({ ...base, method: 'OPEN', status: 101, body: null });
        clearTimeout(timer);
        resolve();
      };
      ws.onmessage = (m) => {
        const body = JSON.parse(String(m.data)) as { type: string };
        const perType = this.seen.get(socket) ?? new Map<string, number>();
        perType.set(body.type, (perType.get(body.type) ?? 0) + 1);
        this.seen.set(socket, perType);
        this.push({ ...base, method: 'EVENT', status: null, body });
      };
      ws.onerror = () => {
        if (!opened) this.push({ ...base, method: 'ERROR', status: null, body: { error: 'connect failed' } });
      };
      ws.onclose = (ev) => {
        if (this.sockets.get(socket) === ws) this.sockets.delete(socket);
        this.push({ ...base, method: 'CLOSE', status: ev.code, body: { code: ev.code, reason: ev.reason } });
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The recorded path with the simulator's ids in place of the ones Asterisk generated. */
  private pathOf(e: TraceEntry): string {
    let path = e.path ?? '';
    for (const [recorded, replayed] of this.ids) path = path.split(recorded).join(replayed);
    return path;
  }

  /** A generated `id` (a playback without playbackId) differs between the runs: map it. */
  private learnIds(recorded: unknown, replayed: unknown): void {
    const idOf = (b: unknown) => (b && typeof b === 'object' ? (b as { id?: unknown }).id : undefined);
    const [r, o] = [idOf(recorded), idOf(replayed)];
    if (typeof r === 'string' && typeof o === 'string' && r !== o) this.ids.set(r, o);
  }

  async http(e: TraceEntry): Promise<void> {
    const headers: Record<string, string> = {};
    if (e.request_auth === undefined) headers.Authorization = GOOD_BASIC;
    else if (e.request_auth !== 'none') headers.Authorization = e.request_auth;
    let body: string | undefined;
    if (e.request_body !== undefined) {
      body = typeof e.request_body === 'string' ? e.request_body : JSON.stringify(e.request_body);
      headers['Content-Type'] = 'application/json';
    }
    const entry: TraceEntry = {
      t_ms: 0,
      kind: 'http',
      method: e.method,
      path: e.path,
      status: null,
      body: null,
    };
    const started = performance.now();
    try {
      const res = await fetch(`${this.sim.url}${this.pathOf(e)}`, { method: e.method, headers, body });
      const text = e.response_headers ? await fileDetails(res, entry) : await res.text();
      entry.status = res.status;
      entry.content_type = res.headers.get('content-type');
      entry.www_authenticate = res.headers.get('www-authenticate');
      entry.body =
        text === '' || text === null
          ? null
          : (res.headers.get('content-type') ?? '').includes('json')
            ? JSON.parse(text)
            : text;
      this.learnIds(e.body, entry.body);
    } catch (err) {
      entry.error = String(err);
    }
    entry.t_ms = this.now();
    // Both rounded on the same clock, so that t_ms - latency_ms is when the request left: an event
    // that came before it must never read as coming after (timedDelays).
    entry.latency_ms = entry.t_ms - this.now(started);
    this.observed.push(entry);
  }

  async upgrade(socket: string, rawPath: string): Promise<void> {
    const { path, headers } = socketAuth(socket, rawPath);
    const r = await rawUpgrade(this.sim.port, path, headers);
    let body: unknown = r.body;
    try {
      body = JSON.parse(r.body);
    } catch {}
    this.push({
      kind: 'ws',
      method: 'UPGRADE',
      path: rawPath,
      status: r.status,
      body,
      socket,
      www_authenticate: r.wwwAuthenticate,
    });
  }

  async close(socket: string): Promise<void> {
    const ws = this.sockets.get(socket);
    if (!ws) return;
    const closed = new Promise<void>((r) => ws.addEventListener('close', () => r()));
    ws.close(1000);
    await closed;
  }

  /** Recorded events per socket and type, for the ones `keep` selects. */
  private tally(keep: (e: EventEntry, index: number) => boolean) {
    const wanted = new Map<string, Map<string, number>>();
    for (const [index, e] of this.trace.entries()) {
      if (!isEvent(e) || !keep(e, index)) continue;
      const m = wanted.get(e.socket) ?? new Map<string, number>();
      m.set(e.body.type, (m.get(e.body.type) ?? 0) + 1);
      wanted.set(e.socket, m);
    }
    return wanted;
  }

  private reached(wanted: Map<string, Map<string, number>>): boolean {
    for (const [socket, types] of wanted)
      for (const [type, n] of types) if (this.count(socket, type) < n) return false;
    return true;
  }

  /**
   * Waits until the simulator has sent what the recorder had seen before `at`. An event of the
   * very millisecond a request left counts only if the log has it before that request's answer:
   * one logged after it may be the request's own doing (59: a record and its RecordingStarted).
   */
  private async catchUp(action: Action): Promise<void> {
    const at = action.kind === 'http' ? action.seenAt : action.at;
    const answeredAt = action.kind === 'http' ? this.trace.indexOf(action.entry) : this.trace.length;
    const wanted = this.tally((e, index) =>
      REACTION_TYPES.has(e.body.type)
        ? e.t_ms < at || (e.t_ms === at && index < answeredAt)
        : e.t_ms < at && isCoreEvent(e.body),
    );
    const deadline = performance.now() + this.catchUpMs;
    while (!this.reached(wanted) && performance.now() < deadline) await Bun.sleep(1);
  }

  async run(): Promise<TraceEntry[]> {
    for (const [socket, path] of Object.entries(INITIAL_SOCKETS)) await this.openSocket(socket, path);
    // The recorder's clock starts once its sockets are up.
    this.t0 = performance.now();
    this.observed.length = 0;
    let restarting: Promise<void> | null = null;
    const restart = RESTARTS[this.name];
    for (const action of actionsOf(this.name, this.trace)) {
      const wait = this.at(action.at) - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      if (restarting && restart && action.at >= restart.resumeAt) await restarting;
      if (action.kind !== 'restart' && action.kind !== 'connect-fail') await this.catchUp(action);
      if (action.kind === 'restart') {
        if (restart) restarting = this.restart(restart);
      } else await this.act(action);
    }
    if (restarting) await restarting;
    await this.drain();
    return this.finish();
  }

  private restart(r: (typeof RESTARTS)[string]): Promise<void> {
    return this.sim.restart({
      downMs: r.downMs * this.scale,
      ...(r.delayMs ? { withLiveCallDelayMs: r.delayMs * this.scale } : {}),
    });
  }

  private act(action: Exclude<Action, { kind: 'restart' }>): Promise<void> {
    switch (action.kind) {
      case 'http':
        return this.http(action.entry);
      case 'open':
      case 'connect-fail':
        return this.openSocket(action.socket, action.path);
      case 'close':
        return this.close(action.socket);
      case 'upgrade':
        return this.upgrade(action.socket, action.path);
    }
  }

  /** Waits for the rest of the recorded traffic (timeouts, callee hangups) to happen here too. */
  private async drain(): Promise<void> {
    const lastT = this.trace.reduce((m, e) => Math.max(m, e.t_ms), 0);
    const totals = this.tally((e) => isCoreEvent(e.body));
    while (performance.now() < this.at(lastT) && !this.reached(totals)) await Bun.sleep(2);
    const endBy = this.at(lastT) + this.catchUpMs;
    while (!this.reached(totals) && performance.now() < endBy) await Bun.sleep(2);
    // A short grace period catches events the simulator sends that the recording does not have.
    await Bun.sleep(Math.max(20, 200 * this.scale));
  }

  private finish(): TraceEntry[] {
    const result = [...this.observed];
    for (const ws of this.sockets.values()) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.close(1000);
    }
    return result;
  }
}

export const replayScenario = (
  name: string,
  trace: TraceEntry[],
  sim: SimHandle,
  opts: ReplayOptions,
): Promise<TraceEntry[]> => new Replay(name, trace, sim, opts).run();
