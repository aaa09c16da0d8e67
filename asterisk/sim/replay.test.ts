/**
 * Replays every recording of a real Asterisk 22.10.1 (asterisk/sim/traces, copied from
 * shared/ari-traces) against the simulator and compares what a client sees.
 *
 * Compared (see testing/compare.ts for the details):
 *  - every HTTP exchange and refused websocket upgrade: request, status, the whole body with
 *    times, Local name counters and generated ids normalised, WWW-Authenticate;
 *  - websocket opens and closes per socket, including 1006 on restart;
 *  - per socket and per channel leg: the core events (ChannelCreated, ChannelStateChange, Dial,
 *    ChannelHangupRequest, ChannelDestroyed, StasisStart, StasisEnd, ChannelVarset STASISSTATUS)
 *    with state, dialstatus, cause, cause_txt, soft, args, dialplan location and caller ids;
 *    ChannelDialplan, the other ChannelVarset, ChannelCallerId/ConnectedLine as separate
 *    streams; ApplicationReplaced and Playback* per socket;
 *  - the JSON shape of every event against the recorded events of the same type;
 *  - roughly, how long each `;1` leg lives from its POST to ChannelDestroyed (waits, timeouts,
 *    the time scale);
 *  - roughly, when each event the simulator times itself comes (Playback*, Recording*,
 *    ChannelDtmfReceived, AMDSTATUS): its delay after the last event or request before it.
 * Not compared: DeviceStateChanged order and count (shape only), and the recorder's NOTE lines.
 */
import { describe, expect, test } from 'bun:test';
import { startAriSimulator } from './server.ts';
import { compareLogs, timedDelays } from './testing/compare.ts';
import { RESTARTS, replayScenario } from './testing/replay.ts';
import { isEvent, loadTrace, SENT_AFTER_EVENT, scenarioNames, type TraceEntry } from './testing/traces.ts';

/** Recordings not replayed, with the reason. Every recording is replayed at the moment. */
const NOT_REPLAYED: Record<string, string> = {};

/**
 * 1 s of recording takes 100 ms here; the restart scenarios 200 ms, because in 71 and 72 a
 * request has to land while the port is closed; the IVR ones 200 ms, because their timings
 * (DTMF 351 ms apart, AMD decisions) are compared too. A few IVR ones go slower, because a
 * request must land inside a window only a few HTTP round trips wide (round trips do not shrink
 * with the time scale, and the simulator's chained timers run late on a busy machine).
 */
const SLOW: Record<string, number> = {
  // The hang-up 313 ms into Answer()'s 500 ms wait.
  '49-ivr-record-failed-in-bridge': 0.5,
  // The stop and cancel between 1 and 2 s after their RecordingStarted (RETIMED in replay.ts).
  '49-ivr-record-limits-stop-cancel': 0.5,
  // The hang-up 251 ms after SendDTMF(12#) ended, after four timers in a row.
  '46-ivr-dtmf-gather': 0.5,
  // The hang-up 24 ms and 22 requests after answer, inside Answer()'s 500 ms wait.
  '59-ivr-channel-variables': 1,
};
const timeScaleFor = (name: string) => SLOW[name] ?? (name in RESTARTS || name.includes('-ivr-') ? 0.2 : 0.1);

/**
 * Delays the recordings show to vary by more than the tolerance, checked against the range
 * Asterisk allows instead. maxDurationSeconds=2 is checked against whole seconds of the clock,
 * so the recording ends 2 to 3 s after it began (2.34 s here, 2.82 s in an earlier run).
 */
const VARYING: Record<string, Record<string, { min: number; max: number }>> = {
  '49-ivr-record-limits-stop-cancel': { 'main RecordingFinished #2': { min: 2000, max: 3000 } },
};

/** Scheduling noise allowed on top of the recorded time, in real milliseconds. */
const JITTER_MS = 30;

/**
 * Adds up how late this thread's timers ran until the returned function is called: time in which
 * the simulator (in this process) could not run, on a busy machine, and its timers could not
 * keep the recorded pace. It widens the lifetime tolerance by that much and no more.
 */
function watchLateness(intervalMs = 5, ignoreMs = 2): () => number {
  let late = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    // A tick's usual jitter is well under a millisecond; only stalls add up.
    const lateBy = now - last - intervalMs;
    if (lateBy > ignoreMs) late += lateBy;
    last = now;
  }, intervalMs);
  return () => {
    clearInterval(timer);
    return late;
  };
}

interface Lifetime {
  call: string;
  ms: number;
}

/**
 * How long each originated `;1` channel lived, from sending its POST to its ChannelDestroyed.
 * Measured from the request (not from the scenario start) because HTTP round trips do not
 * shrink with the time scale.
 */
const lifetimes = (log: TraceEntry[]): Lifetime[] => {
  const sent = new Map<string, number>();
  for (const e of log) {
    if (e.kind === 'http' && e.method === 'POST' && e.status === 200) {
      sent.set((e.body as { id: string }).id, e.t_ms - (e.latency_ms ?? 0));
    }
  }
  const out: Lifetime[] = [];
  const seen = new Set<string>();
  for (const e of log) {
    if (!isEvent(e) || e.body.type !== 'ChannelDestroyed') continue;
    const ch = e.body.channel as { id: string; name: string };
    const start = sent.get(ch.id);
    if (!ch.name.endsWith(';1') || seen.has(ch.name) || start === undefined) continue;
    seen.add(ch.name);
    out.push({ call: ch.name.replace(/-[0-9a-f]{8};1$/, ''), ms: e.t_ms - start });
  }
  return out;
};

/** For each originate, did ChannelCreated/ChannelDestroyed of its `;1` arrive before the 200? */
const beforeReply = (log: TraceEntry[]) => {
  let created = 0;
  let destroyed = 0;
  let originates = 0;
  log.forEach((e, i) => {
    if (e.kind !== 'http' || e.method !== 'POST' || e.status !== 200) return;
    const id = (e.body as { id: string }).id;
    originates++;
    const earlier = log.slice(0, i).filter(isEvent);
    const seen = (type: string) =>
      earlier.some((x) => x.body.type === type && (x.body.channel as { id: string }).id === id);
    if (seen('ChannelCreated')) created++;
    if (seen('ChannelDestroyed')) destroyed++;
  });
  return { originates, created, destroyed };
};

describe('replay of the recorded Asterisk scenarios', () => {
  const names = scenarioNames();

  test('every recording is either replayed or listed with a reason', () => {
    expect(names.length).toBe(71);
    for (const name of Object.keys(NOT_REPLAYED)) expect(names).toContain(name);
  });

  for (const name of names) {
    if (NOT_REPLAYED[name]) continue;
    test(name, async () => {
      const timeScale = timeScaleFor(name);
      const trace = loadTrace(name);
      const sim = await startAriSimulator({ timeScale });
      const lateness = watchLateness();
      let observed: TraceEntry[];
      let lateMs: number;
      try {
        observed = await replayScenario(name, trace, sim, { timeScale });
      } finally {
        lateMs = lateness();
        await sim.stop();
      }
      const { differences, compared } = compareLogs(trace, observed);
      expect(differences).toEqual([]);
      expect(compared.http + compared.sockets + compared.events).toBeGreaterThan(0);

      const want = lifetimes(trace);
      const got = lifetimes(observed);
      expect(got.map((d) => d.call)).toEqual(want.map((d) => d.call));
      want.forEach((w, i) => {
        // In recorded milliseconds: 5 % plus the real-time jitter and lateness scaled back.
        expect(Math.abs((got[i] as Lifetime).ms - w.ms)).toBeLessThanOrEqual(
          0.05 * w.ms + (JITTER_MS + lateMs) / timeScale,
        );
      });
      // The same tolerance for the events the simulator times itself.
      const close = (got: number, want: number) =>
        Math.abs(got - want) <= 0.05 * want + (JITTER_MS + lateMs) / timeScale;
      const gotDelays = new Map(timedDelays(observed).map((d) => [d.key, d.ms]));
      const inRange = (key: string, got: number) => {
        const range = VARYING[name]?.[key];
        if (!range) return false;
        const slack = (JITTER_MS + lateMs) / timeScale;
        return got >= range.min - slack && got <= range.max + slack;
      };
      const late = timedDelays(trace, SENT_AFTER_EVENT[name]).filter((d) => {
        const got = gotDelays.get(d.key) ?? Number.NaN;
        return !close(got, d.ms) && !inRange(d.key, got);
      });
      expect(late.map((d) => `${d.key}: recorded ${d.ms} ms, replayed ${gotDelays.get(d.key)} ms`)).toEqual(
        [],
      );

      if (name === '55-race-fast-failure-x20') {
        // Recorded: 20 of 20 ChannelCreated and 1 of 20 ChannelDestroyed before the HTTP 200.
        const stats = beforeReply(observed);
        expect(stats.originates).toBe(20);
        expect(stats.created).toBeGreaterThanOrEqual(18);
        expect(stats.destroyed).toBeGreaterThanOrEqual(1);
        expect(stats.destroyed).toBeLessThanOrEqual(6);
      }
    });
  }
});
