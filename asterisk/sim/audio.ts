/**
 * The audio model: what one half of a Local pair sends to the other over time. A channel that
 * plays something (an ARI playback, the dialplan's Playback(), a recording's beep) sends 20 ms
 * frames, speech or quiet as the sound says; a channel in Wait() or SendDTMF() sends no frames
 * at all (IVR.md: silence detection and AMD only count real silent frames).
 *
 * Who listens: Answer() on the other half waits for the first frame, and a recording or AMD()
 * analyses the frames. They do not tick every 20 ms: a FrameFeed walks the frames ahead of time
 * to find when its analyser decides, sets one timer, and walks again whenever the audio changes.
 */
import { isSpeech, type Sound } from './sounds.ts';
import type { Timers } from './timers.ts';

const FRAME_MS = 20;

interface Segment {
  readonly sound: Sound;
  /** Simulated time the sound's `offset` ms were being sent. */
  readonly startedAt: number;
  readonly offset: number;
}

export interface LinkListener {
  /** Called just before the audio changes at `now`, and just after. */
  changing(now: number): void;
  changed(now: number): void;
}

/** The frames one channel sends to its peer. One sound at a time: a new one replaces the last. */
export class AudioLink {
  private segment: Segment | null = null;
  private readonly listeners = new Set<LinkListener>();

  constructor(private readonly timers: Timers) {}

  get sending(): boolean {
    return this.segment !== null;
  }

  get current(): Segment | null {
    return this.segment;
  }

  listen(l: LinkListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Starts sending `sound` from `offset` ms; the returned function stops it (if still current). */
  send(sound: Sound, offset = 0): () => void {
    const segment: Segment = { sound, startedAt: this.timers.now(), offset };
    this.change(segment);
    return () => {
      if (this.segment === segment) this.change(null);
    };
  }

  private change(next: Segment | null): void {
    const now = this.timers.now();
    for (const l of [...this.listeners]) l.changing(now);
    this.segment = next;
    for (const l of [...this.listeners]) l.changed(now);
  }
}

/** Something that judges received audio frame by frame (AMD(), a recording's silence limit). */
export interface FrameAnalyser<R> {
  /** A 20 ms frame (speech or quiet) that arrived at `at`; a result once decided. */
  frame(speech: boolean, at: number): R | null;
  /** A wait for a frame that timed out at `at` (only analysers with `idleMs` get these). */
  idle(at: number): R | null;
  /** How long an analyser waits for a frame before idle(); null: it waits as long as it takes. */
  readonly idleMs: number | null;
  /** A copy to look ahead with. */
  clone(): FrameAnalyser<R>;
}

type Wakeup = { at: number; frame: boolean | null };

/**
 * The moments an analyser wakes up after `from` (exclusive) until `until` (inclusive): one per
 * frame while the segment lasts (frame k of a segment arrives at its start + 20 (k + 1) ms), one
 * per `idleMs` without frames, counted from the last wakeup.
 */
function* wakeups(segment: Segment | null, from: number, last: number, until: number, idleMs: number | null) {
  let lastWake = last;
  if (segment) {
    const end = segment.startedAt + segment.sound.ms - segment.offset;
    const first = Math.max(0, Math.floor((from - segment.startedAt) / FRAME_MS));
    for (let k = first; ; k++) {
      const at = segment.startedAt + FRAME_MS * (k + 1);
      if (at > end || at > until) break;
      if (at <= from) continue;
      lastWake = at;
      yield { at, frame: isSpeech(segment.sound, segment.offset + FRAME_MS * k) } as Wakeup;
    }
    if (end > until) return;
  }
  if (idleMs === null) return;
  for (let at = lastWake + idleMs; at <= until; at += idleMs)
    if (at > from) yield { at, frame: null } as Wakeup;
}

/**
 * Feeds the frames `link` delivers to `analyser` until it decides, then calls `decided` (at the
 * simulated time of the deciding frame, from a timer). `horizonMs` bounds each look ahead.
 */
export class FrameFeed<R> implements LinkListener {
  /** Simulated time up to which the analyser has seen everything. */
  private seen: number;
  private lastWake: number;
  private cancelTimer: (() => void) | null = null;
  private readonly unlisten: () => void;
  private done = false;

  constructor(
    private readonly timers: Timers,
    private readonly link: AudioLink,
    private readonly analyser: FrameAnalyser<R>,
    private readonly decided: (result: R, at: number) => void,
    private readonly horizonMs = 60_000,
  ) {
    this.seen = timers.now();
    this.lastWake = this.seen;
    this.unlisten = link.listen(this);
    this.plan();
  }

  stop(): void {
    this.done = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.unlisten();
  }

  /** Counts what arrived up to now; the owner calls it before stopping the feed itself. */
  catchUp(): void {
    if (!this.done) this.advance(this.timers.now());
  }

  changing(now: number): void {
    if (!this.done) this.advance(now);
  }

  changed(): void {
    if (!this.done) this.plan();
  }

  /** Runs the real analyser up to `to`; stops and reports when it decides. */
  private advance(to: number): boolean {
    const run = wakeups(this.link.current, this.seen, this.lastWake, to, this.analyser.idleMs);
    for (const w of run) {
      this.lastWake = w.at;
      const result = w.frame === null ? this.analyser.idle(w.at) : this.analyser.frame(w.frame, w.at);
      if (result !== null) {
        this.stop();
        this.decided(result, w.at);
        return true;
      }
    }
    this.seen = to;
    return false;
  }

  /** Looks ahead on a copy; one timer for the first decision, or for the horizon. */
  private plan(): void {
    this.cancelTimer?.();
    const now = this.timers.now();
    const until = now + this.horizonMs;
    const copy = this.analyser.clone();
    let at = until;
    for (const w of wakeups(this.link.current, this.seen, this.lastWake, until, this.analyser.idleMs)) {
      const result = w.frame === null ? copy.idle(w.at) : copy.frame(w.frame, w.at);
      if (result !== null) {
        at = w.at;
        break;
      }
    }
    this.cancelTimer = this.timers.after(Math.max(0, at - now), () => {
      this.cancelTimer = null;
      if (!this.advance(at)) this.plan();
    });
  }
}
