/**
 * One dialplan thread (a PBX running priorities on a channel): runs the apps of the simulated
 * dialplan until one blocks, then resumes when it is done. What the apps do to the call
 * (ringing, answer, busy, the end of the thread) is the Local pair's business (local-call.ts).
 */

import { AmdAnalyser, parseAmdArgs } from './amd.ts';
import { FrameFeed } from './audio.ts';
import type { Channel, Location } from './channel.ts';
import { findExtension, SIM_DIALPLAN, substitute } from './dialplan.ts';
import { sendDtmfApp } from './dtmf.ts';
import type { Engine } from './engine.ts';
import type { LocalCall } from './local-call.ts';
import { type Sound, sequence, soundFile } from './sounds.ts';
import { enterStasis } from './stasis.ts';
import { readVariable, setVariable } from './variables.ts';

/** Answer() on a channel that was not up yet waits this long for a first frame (IVR.md). */
const ANSWER_WAIT_MS = 500;

export type PbxEnd =
  | { kind: 'hangup'; cause: number }
  | { kind: 'invalid'; location: Location }
  | { kind: 'fallthrough' };

/** One app: returns false when the thread blocked or ended. */
type App = (pbx: Pbx, data: string) => boolean;

export class Pbx {
  private cancel: (() => void) | null = null;
  /** What the blocked app still does when the channel goes away under it. */
  private onHangup: (() => void) | null = null;
  private stopped = false;
  /** In the dialplan app Stasis(): the thread waits for StasisEnd. */
  inStasis = false;

  constructor(
    readonly engine: Engine,
    readonly call: LocalCall,
    readonly chan: Channel,
    public context: string,
    public exten: string,
    public priority: number,
  ) {}

  start(): void {
    this.run();
  }

  /**
   * The channel is going away: whatever the thread was waiting for will never finish. A
   * Playback() under way still sets PLAYBACKSTATUS=SUCCESS (49, 58); `quiet` skips that (reset).
   */
  stop(quiet = false): void {
    if (this.stopped) return;
    this.stopped = true;
    const hook = this.onHangup;
    this.cancel?.();
    this.cancel = null;
    this.onHangup = null;
    if (!quiet) hook?.();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Blocks the thread until resume(); `cancel` undoes what it waits on. */
  block(cancel: () => void, onHangup: (() => void) | null = null): void {
    this.cancel = cancel;
    this.onHangup = onHangup;
  }

  /** Unblocks: runs `then` (which moves the priority) and goes on. */
  resume(then: () => void): void {
    this.cancel = null;
    this.onHangup = null;
    if (this.stopped) return;
    then();
    this.run();
  }

  /** Blocks the thread for `ms`, then runs `then` and goes on with the next priorities. */
  resumeAfter(ms: number, then: () => void): void {
    this.block(this.engine.timers.after(ms, () => this.resume(then)));
  }

  /** continue from Stasis(): the app returns and the thread goes on at `loc`. */
  continueAt(loc: Location): void {
    this.inStasis = false;
    this.resume(() => {
      this.context = loc.context;
      this.exten = loc.exten;
      this.priority = loc.priority;
    });
  }

  end(how: PbxEnd): void {
    this.stopped = true;
    this.call.pbxEnded(this, how);
  }

  set(name: string, value: string): void {
    setVariable(this.engine, this.chan, name, value);
  }

  private run(): void {
    while (!this.stopped) {
      const priorities = findExtension(SIM_DIALPLAN, this.context, this.exten);
      if (!priorities) {
        this.end({
          kind: 'invalid',
          location: { context: this.context, exten: this.exten, priority: this.priority },
        });
        return;
      }
      const step = priorities[this.priority - 1];
      if (!step) {
        this.end({ kind: 'fallthrough' });
        return;
      }
      const [app, raw] = step;
      const data = substitute(raw, (name) => readVariable(this.chan, name, this.exten, this.context));
      this.chan.dialplan = {
        context: this.context,
        exten: this.exten,
        priority: this.priority,
        app_name: app,
        app_data: data,
      };
      this.engine.bus.emitChannel(this.chan, 'ChannelDialplan', {
        dialplan_app: app,
        dialplan_app_data: data,
      });
      const exec = APPS[app];
      if (exec && !exec(this, data)) return;
      if (!exec) this.priority++;
    }
  }
}

const next = (pbx: Pbx): boolean => {
  pbx.priority++;
  return true;
};

/** Blocks for `seconds` (Wait(), the pause of Busy()/Congestion()); false when it blocked. */
const waitSeconds = (pbx: Pbx, seconds: number): boolean => {
  if (!(seconds > 0)) return next(pbx);
  pbx.resumeAfter(seconds * 1000, () => pbx.priority++);
  return false;
};

/**
 * Answer() on a channel that was ringing: it waits for the first audio frame from the other
 * half, at most 500 ms. So a callee goes on at once when the app plays something right after
 * StasisStart (43, 47), and half a second later otherwise (46, 58).
 */
const answer: App = (pbx) => {
  if (pbx.chan.state === 'Up') return next(pbx);
  pbx.call.answer(pbx);
  const from = pbx.chan.peer?.out;
  if (pbx.isStopped) return false;
  if (from?.sending) return next(pbx);
  const go = () => {
    cancel();
    pbx.resume(() => pbx.priority++);
  };
  const timer = pbx.engine.timers.after(ANSWER_WAIT_MS, go);
  const unlisten = from?.listen({ changing() {}, changed: () => from.sending && go() });
  const cancel = () => {
    timer();
    unlisten?.();
  };
  pbx.block(cancel);
  return false;
};

/**
 * Playback(file[&file…]): the channel sends the sounds; PLAYBACKSTATUS=SUCCESS at the end (35,
 * 57) or FAILED at once when a file does not exist.
 */
const playback: App = (pbx, data) => {
  const sounds = (data.split(',')[0] ?? '').split('&').map(soundFile);
  if (sounds.some((x) => x === undefined)) {
    pbx.set('PLAYBACKSTATUS', 'FAILED');
    return next(pbx);
  }
  const sound = sequence(sounds as Sound[]);
  const stopAudio = pbx.chan.out.send(sound);
  const timer = pbx.engine.timers.after(sound.ms, () => {
    stopAudio();
    pbx.resume(() => {
      pbx.set('PLAYBACKSTATUS', 'SUCCESS');
      pbx.priority++;
    });
  });
  const cancel = () => {
    timer();
    stopAudio();
  };
  pbx.block(cancel, () => pbx.set('PLAYBACKSTATUS', 'SUCCESS'));
  return false;
};

const APPS: Record<string, App> = {
  NoOp: next,
  Set: (pbx, data) => {
    const eq = data.indexOf('=');
    if (eq > 0) pbx.set(data.slice(0, eq), data.slice(eq + 1));
    return next(pbx);
  },
  Goto: (pbx, data) => {
    const parts = data.split(',');
    const [c, e, p] =
      parts.length >= 3
        ? parts
        : parts.length === 2
          ? [pbx.context, ...parts]
          : [pbx.context, pbx.exten, parts[0]];
    pbx.context = c ?? pbx.context;
    pbx.exten = e ?? pbx.exten;
    pbx.priority = Number.parseInt(p ?? '1', 10) || 1;
    return true;
  },
  Wait: (pbx, data) => waitSeconds(pbx, Number.parseFloat(data)),
  Ringing: (pbx) => {
    pbx.call.indication(pbx, 'RINGING');
    return next(pbx);
  },
  Progress: (pbx) => {
    pbx.call.indication(pbx, 'PROGRESS');
    return next(pbx);
  },
  Answer: answer,
  Busy: (pbx, data) => busyOrCongestion(pbx, data, 17, 'BUSY'),
  Congestion: (pbx, data) => busyOrCongestion(pbx, data, 34, 'CONGESTION'),
  Playback: playback,
  SendDTMF: (pbx, data) => {
    pbx.block(sendDtmfApp(pbx.engine, pbx.chan, data, () => pbx.resume(() => pbx.priority++)));
    return false;
  },
  AMD: (pbx, data) => {
    const from = pbx.chan.peer?.out;
    if (!from) return next(pbx);
    const { timers } = pbx.engine;
    const analyser = new AmdAnalyser(parseAmdArgs(data), timers.now());
    const feed = new FrameFeed(timers, from, analyser, (result) =>
      pbx.resume(() => {
        pbx.set('AMDSTATUS', result.status);
        pbx.set('AMDCAUSE', result.cause);
        pbx.priority++;
      }),
    );
    pbx.block(() => feed.stop());
    return false;
  },
  Stasis: (pbx, data) => {
    if (!enterStasis(pbx.engine, pbx.chan, data)) {
      pbx.set('STASISSTATUS', 'FAILED');
      return next(pbx);
    }
    pbx.inStasis = true;
    pbx.block(() => {});
    return false;
  },
  Hangup: (pbx, data) => {
    const cause = Number.parseInt(data, 10);
    pbx.end({ kind: 'hangup', cause: Number.isFinite(cause) && cause > 0 ? cause : 16 });
    return false;
  },
};

function busyOrCongestion(pbx: Pbx, data: string, cause: number, status: string): boolean {
  pbx.call.busyIndication(pbx, cause, status);
  if (pbx.isStopped) return false;
  const seconds = Number.parseFloat(data);
  if (seconds > 0) pbx.resumeAfter(seconds * 1000, () => pbx.priority++);
  return false;
}
