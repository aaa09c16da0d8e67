/**
 * One dialplan thread (a PBX running priorities on a channel): runs the apps of the simulated
 * dialplan until one blocks, then resumes from a timer. What the apps do to the call (ringing,
 * answer, busy, the end of the thread) is the Local pair's business (local-call.ts).
 */
import type { Channel, Location } from './channel.ts';
import { findExtension, SIM_DIALPLAN, substitute } from './dialplan.ts';
import type { Engine } from './engine.ts';
import type { LocalCall } from './local-call.ts';
import { SOUND_MS } from './sounds.ts';
import { readVariable, setVariable } from './variables.ts';

/** Answer() on a channel that was not up yet holds the dialplan for half a second. */
const ANSWER_DELAY_MS = 500;

export type PbxEnd =
  | { kind: 'hangup'; cause: number }
  | { kind: 'invalid'; location: Location }
  | { kind: 'fallthrough' };

/** One app: returns false when the thread blocked or ended. */
type App = (pbx: Pbx, data: string) => boolean;

export class Pbx {
  private cancel: (() => void) | null = null;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    readonly call: LocalCall,
    readonly chan: Channel,
    public context: string,
    public exten: string,
    public priority: number,
  ) {}

  start(): void {
    this.run();
  }

  /** The channel is going away: whatever the thread was waiting for will never finish. */
  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Blocks the thread for `ms`, then runs `then` and goes on with the next priorities. */
  resumeAfter(ms: number, then: () => void): void {
    this.cancel = this.engine.timers.after(ms, () => {
      this.cancel = null;
      if (this.stopped) return;
      then();
      this.run();
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
  Answer: (pbx) => {
    if (pbx.chan.state === 'Up') return next(pbx);
    pbx.call.answer(pbx);
    if (pbx.isStopped) return false;
    pbx.resumeAfter(ANSWER_DELAY_MS, () => pbx.priority++);
    return false;
  },
  Busy: (pbx, data) => busyOrCongestion(pbx, data, 17, 'BUSY'),
  Congestion: (pbx, data) => busyOrCongestion(pbx, data, 34, 'CONGESTION'),
  Playback: (pbx, data) => {
    const ms = SOUND_MS[data];
    if (ms === undefined) {
      pbx.set('PLAYBACKSTATUS', 'FAILED');
      return next(pbx);
    }
    pbx.resumeAfter(ms, () => {
      pbx.set('PLAYBACKSTATUS', 'SUCCESS');
      pbx.priority++;
    });
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
