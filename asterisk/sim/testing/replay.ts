/**
 * Replays one recorded scenario against a simulator: the same HTTP requests and websocket
 * opens, closes and refused upgrades, at the recorded times multiplied by the time scale. The
 * result is a log in the recording's own format, so both can be compared the same way.
 */
import type { SimHandle } from '../server.ts';
import { GOOD_BASIC, isCoreEvent, PASS, rawUpgrade, USER } from './client.ts';
import { isEvent, type TraceEntry } from './traces.ts';

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
};

/** Events the recorder was waiting for before its next request, so the replay waits too. */
const REACTION_TYPES = new Set(['StasisStart', 'PlaybackStarted', 'PlaybackFinished']);

type Action =
  | { kind: 'http'; at: number; entry: TraceEntry }
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
  for (const e of trace) {
    if (e.kind === 'http') {
      const at = RETIMED[name]?.[e.t_ms] ?? Math.max(0, e.t_ms - (e.latency_ms ?? 0));
      actions.push({ kind: 'http', at, entry: e });
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

export const replayScenario = async (
  name: string,
  trace: TraceEntry[],
  sim: SimHandle,
  opts: ReplayOptions,
): Promise<TraceEntry[]> => {
  const scale = opts.timeScale;
  const catchUpMs = opts.catchUpMs ?? 1500;
  const observed: TraceEntry[] = [];
  const sockets = new Map<string, WebSocket>();
  let t0 = performance.now();
  const now = () => Math.round((performance.now() - t0) / (scale || 1));
  const wsBase = sim.url.replace(/^http/, 'ws');

  /** Per socket: how many events of each type arrived so far. */
  const seen = new Map<string, Map<string, number>>();
  const count = (socket: string, type: string) => seen.get(socket)?.get(type) ?? 0;

  const openSocket = (socket: string, rawPath: string): Promise<void> => {
    const { path, headers } = socketAuth(socket, rawPath);
    return new Promise<void>((resolve) => {
      const ws = new WebSocket(`${wsBase}${path}`, { headers } as unknown as string[]);
      let opened = false;
      const timer = setTimeout(() => resolve(), 2000);
      ws.onopen = () => {
        opened = true;
        sockets.set(socket, ws);
        observed.push({
          t_ms: now(),
          kind: 'ws',
          method: 'OPEN',
          path: rawPath,
          status: 101,
          body: null,
          socket,
        });
        clearTimeout(timer);
        resolve();
      };
      ws.onmessage = (m) => {
        const body = JSON.parse(String(m.data)) as { type: string };
        const perType = seen.get(socket) ?? new Map<string, number>();
        perType.set(body.type, (perType.get(body.type) ?? 0) + 1);
        seen.set(socket, perType);
        observed.push({
          t_ms: now(),
          kind: 'ws',
          method: 'EVENT',
          path: rawPath,
          status: null,
          body,
          socket,
        });
      };
      ws.onerror = () => {
        if (!opened) {
          observed.push({
            t_ms: now(),
            kind: 'ws',
            method: 'ERROR',
            path: rawPath,
            status: null,
            body: { error: 'connect failed' },
            socket,
          });
        }
      };
      ws.onclose = (ev) => {
        if (sockets.get(socket) === ws) sockets.delete(socket);
        observed.push({
          t_ms: now(),
          kind: 'ws',
          method: 'CLOSE',
          path: rawPath,
          status: ev.code,
          body: { code: ev.code, reason: ev.reason },
          socket,
        });
        clearTimeout(timer);
        resolve();
      };
    });
  };

  const http = async (e: TraceEntry) => {
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
      const res = await fetch(`${sim.url}${e.path}`, { method: e.method, headers, body });
      const text = await res.text();
      entry.status = res.status;
      entry.content_type = res.headers.get('content-type');
      entry.www_authenticate = res.headers.get('www-authenticate');
      entry.body =
        text === ''
          ? null
          : (res.headers.get('content-type') ?? '').includes('json')
            ? JSON.parse(text)
            : text;
    } catch (err) {
      entry.error = String(err);
    }
    entry.latency_ms = Math.round((performance.now() - started) / (scale || 1));
    entry.t_ms = now();
    observed.push(entry);
  };

  const upgrade = async (socket: string, rawPath: string) => {
    const { path, headers } = socketAuth(socket, rawPath);
    const r = await rawUpgrade(sim.port, path, headers);
    let body: unknown = r.body;
    try {
      body = JSON.parse(r.body);
    } catch {}
    observed.push({
      t_ms: now(),
      kind: 'ws',
      method: 'UPGRADE',
      path: rawPath,
      status: r.status,
      body,
      socket,
      www_authenticate: r.wwwAuthenticate,
    });
  };

  /** Recorded events per socket and type, for the ones `keep` selects. */
  const tally = (keep: (e: TraceEntry & { body: { type: string }; socket: string }) => boolean) => {
    const wanted = new Map<string, Map<string, number>>();
    for (const e of trace) {
      if (!isEvent(e) || !keep(e)) continue;
      const m = wanted.get(e.socket) ?? new Map<string, number>();
      m.set(e.body.type, (m.get(e.body.type) ?? 0) + 1);
      wanted.set(e.socket, m);
    }
    return wanted;
  };
  const reached = (wanted: Map<string, Map<string, number>>) => {
    for (const [socket, types] of wanted)
      for (const [type, n] of types) if (count(socket, type) < n) return false;
    return true;
  };

  /** Waits until the simulator has sent what the recorder had seen before `at`. */
  const catchUp = async (at: number) => {
    const wanted = tally((e) =>
      REACTION_TYPES.has(e.body.type) ? e.t_ms <= at : e.t_ms < at && isCoreEvent(e.body),
    );
    const deadline = performance.now() + catchUpMs;
    while (!reached(wanted) && performance.now() < deadline) await Bun.sleep(1);
  };

  for (const [socket, path] of Object.entries(INITIAL_SOCKETS)) await openSocket(socket, path);
  // The recorder's clock starts once its sockets are up.
  const start = performance.now();
  t0 = start;
  observed.length = 0;
  const at = (ms: number) => start + ms * scale;

  let restarting: Promise<void> | null = null;
  const restart = RESTARTS[name];
  const lastT = trace.reduce((m, e) => Math.max(m, e.t_ms), 0);

  for (const action of actionsOf(name, trace)) {
    const wait = at(action.at) - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    if (restarting && restart && action.at >= restart.resumeAt) await restarting;
    if (action.kind !== 'restart' && action.kind !== 'connect-fail') await catchUp(action.at);
    switch (action.kind) {
      case 'http':
        await http(action.entry);
        break;
      case 'open':
        await openSocket(action.socket, action.path);
        break;
      case 'close': {
        const ws = sockets.get(action.socket);
        if (ws) {
          const closed = new Promise<void>((r) => ws.addEventListener('close', () => r()));
          ws.close(1000);
          await closed;
        }
        break;
      }
      case 'upgrade':
        await upgrade(action.socket, action.path);
        break;
      case 'connect-fail':
        await openSocket(action.socket, action.path);
        break;
      case 'restart':
        if (restart) {
          restarting = sim.restart({
            downMs: restart.downMs * scale,
            ...(restart.delayMs ? { withLiveCallDelayMs: restart.delayMs * scale } : {}),
          });
        }
        break;
    }
  }
  if (restarting) await restarting;

  // Wait for the rest of the recorded traffic (timeouts, callee hangups) to happen here too.
  const totals = tally((e) => isCoreEvent(e.body));
  while (performance.now() < at(lastT) && !reached(totals)) await Bun.sleep(2);
  const endBy = at(lastT) + catchUpMs;
  while (!reached(totals) && performance.now() < endBy) await Bun.sleep(2);
  // A short grace period catches events the simulator sends that the recording does not have.
  await Bun.sleep(Math.max(20, 200 * scale));

  const result = [...observed];
  for (const ws of sockets.values()) {
    ws.onclose = null;
    ws.onmessage = null;
    ws.close(1000);
  }
  return result;
};
