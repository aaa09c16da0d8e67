/**
 * One originate to Local/<exten>@<context>: the two halves, who runs `;1` (the originate's dial,
 * a dialplan thread, Stasis), and how each way of ending the call reaches both halves. The event
 * orders come from the recordings (README of traces/, findings 5-9).
 */
import type { Channel, Location } from './channel.ts';
import type { Engine } from './engine.ts';
import { dialStatusForCause, SOFT } from './model.ts';
import type { OriginatePlan } from './originate.ts';
import { Pbx, type PbxEnd } from './pbx.ts';
import { enterStasis, leaveStasis } from './stasis.ts';
import { setVariable } from './variables.ts';

/**
 * What runs `;1`: the originate's dial (before answer), the originate's Stasis app (`app`), a
 * dialplan thread started inside that app by continue (`app-pbx`), the dialplan of a
 * dialplan-style originate (`pbx`, which may itself enter Stasis()), or nothing any more.
 */
type Runner = 'dial' | 'app' | 'app-pbx' | 'pbx' | 'done';

/** One originate to Local/<exten>@<context>: `;1` is the channel ARI returned, `;2` runs the callee context. */
export class LocalCall {
  runner: Runner = 'dial';
  callee: Pbx | null = null;
  ivr: Pbx | null = null;
  cancelTimeout: (() => void) | null = null;
  /** Local/<x>@<ctx> with an extension that does not exist: the device is INVALID. */
  invalid = false;

  constructor(
    private readonly engine: Engine,
    readonly ch1: Channel,
    readonly ch2: Channel,
    readonly plan: OriginatePlan,
    readonly dialstring: string,
    readonly device: string,
  ) {}

  get live(): boolean {
    return this.ch1.alive || this.ch2.alive;
  }

  private finishDial(): void {
    this.runner = 'done';
    this.cancelTimeout?.();
    this.cancelTimeout = null;
  }

  /** Ringing()/Progress() in the callee context, seen by the originate as a Dial status. */
  indication(pbx: Pbx, status: 'RINGING' | 'PROGRESS'): void {
    if (pbx.chan !== this.ch2 || this.runner !== 'dial') return;
    if (status === 'RINGING') {
      if (this.ch1.state === 'Ringing') return;
      this.engine.bus.setState(this.ch1, 'Ringing');
      this.engine.bus.emitDial(this.ch1, this.dialstring, 'RINGING');
      this.engine.bus.emitDevice(this.device, 'INUSE');
    } else {
      this.engine.bus.emitDial(this.ch1, this.dialstring, 'PROGRESS');
    }
  }

  /** Answer() in the callee context: both halves go up and `;1` continues after the dial. */
  answer(pbx: Pbx): void {
    if (pbx.chan !== this.ch2) {
      this.engine.bus.setState(pbx.chan, 'Up');
      return;
    }
    this.engine.bus.setState(this.ch2, 'Up');
    this.engine.bus.emitDevice(this.device, 'INUSE');
    if (this.runner !== 'dial') return;
    this.cancelTimeout?.();
    this.cancelTimeout = null;
    this.engine.bus.setState(this.ch1, 'Up');
    this.engine.bus.emitDevice(this.device, 'INUSE');
    this.engine.bus.emitDial(this.ch1, this.dialstring, 'ANSWER');
    this.continueAfterAnswer();
  }

  private continueAfterAnswer(): void {
    const { appData } = this.plan;
    if (appData !== null) {
      this.runner = 'app';
      this.ch1.dialplan = { ...this.ch1.dialplan, app_name: 'Stasis', app_data: appData };
      if (!enterStasis(this.engine, this.ch1, appData)) this.stasisFailed();
      return;
    }
    this.runner = 'pbx';
    this.startIvr({ context: this.plan.context, exten: this.plan.extension, priority: this.plan.priority });
  }

  private startIvr(loc: Location): void {
    this.ivr = new Pbx(this.engine, this, this.ch1, loc.context, loc.exten, loc.priority);
    this.ivr.start();
  }

  /** Stasis() found no registered app: STASISSTATUS=FAILED and the call dies with cause 0. */
  private stasisFailed(): void {
    this.runner = 'done';
    setVariable(this.engine, this.ch1, 'STASISSTATUS', 'FAILED');
    this.engine.bus.emitHangupRequest(this.ch2, 0, false);
    this.callee?.stop();
    this.engine.bus.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
    this.engine.destroy(this, this.ch2, 0);
    this.engine.destroy(this, this.ch1, 0);
  }

  /** `;1` leaves its app because the call ends: StasisEnd, then STASISSTATUS=SUCCESS. */
  private stasisEnd(): void {
    leaveStasis(this.engine, this.ch1, 'hangup');
    setVariable(this.engine, this.ch1, 'STASISSTATUS', 'SUCCESS');
  }

  /** `;1`'s dialplan thread stops, leaving the Stasis() it may be in first (58). */
  private stopIvr(): void {
    if (this.ivr?.inStasis) this.stasisEnd();
    this.ivr?.stop();
  }

  /**
   * POST continue (stasis.ts): StasisEnd, then the dialplan. After an originate's app, a new
   * dialplan thread runs inside it, and STASISSTATUS=SUCCESS only comes when that ends (57);
   * from a dialplan Stasis() the app returns and the same thread goes on at `loc`.
   */
  continueAt(loc: Location): void {
    leaveStasis(this.engine, this.ch1, 'continue');
    if (this.runner === 'app') {
      this.runner = 'app-pbx';
      this.startIvr(loc);
    } else if (this.ivr?.inStasis) {
      setVariable(this.engine, this.ch1, 'STASISSTATUS', 'SUCCESS');
      this.ivr.continueAt(loc);
    }
  }

  /**
   * Busy()/Congestion() before answer: the originate gives up, `;1` dies with cause 0 and only
   * the Dial status and the `;2` cause (17/34) tell what happened.
   */
  busyIndication(pbx: Pbx, cause: number, status: string): void {
    this.engine.bus.setState(pbx.chan, 'Busy');
    if (pbx.chan !== this.ch2 || this.runner !== 'dial') return;
    this.engine.bus.emitDevice(this.device, 'NOT_INUSE');
    this.engine.bus.emitDial(this.ch1, this.dialstring, status);
    this.finishDial();
    this.engine.bus.emitHangupRequest(this.ch2, 0, false);
    this.engine.destroy(this, this.ch1, 0);
    this.callee?.stop();
    this.engine.bus.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
    this.engine.destroy(this, this.ch2, cause);
  }

  pbxEnded(pbx: Pbx, how: PbxEnd): void {
    if (pbx.chan === this.ch2) {
      this.calleeEnded(how.kind === 'hangup' ? how.cause : how.kind === 'invalid' ? 0 : 16);
      return;
    }
    if (how.kind === 'invalid') {
      this.callerDialplanMissing(how.location);
      return;
    }
    this.callerEnded(how.kind === 'hangup' ? how.cause : 16);
  }

  /** The callee side is done (Hangup(cause), or it was hung up): `;1` follows with that cause. */
  private calleeEnded(cause: number): void {
    const { ch1, ch2 } = this;
    this.engine.bus.emitHangupRequest(ch2, SOFT.endOfDialplan, true);
    const runner = this.runner;
    this.finishDial();
    if (runner === 'done') {
      this.engine.destroy(this, ch2, cause);
      return;
    }
    this.engine.bus.emitHangupRequest(ch1, cause, false);
    this.engine.destroy(this, ch2, cause);
    if (runner === 'dial') {
      this.engine.bus.emitDial(this.ch1, this.dialstring, dialStatusForCause(cause));
    } else if (runner === 'app') {
      this.stasisEnd();
    } else {
      this.stopIvr();
      this.endOfCallerDialplan(runner);
    }
    this.engine.destroy(this, ch1, cause);
  }

  /**
   * What `;1` says when its dialplan thread is over: a dialplan-style originate's thread ends with
   * soft hang-up 16 (35); one that ran inside the originate's app returns to it, which sets
   * STASISSTATUS=SUCCESS and hangs up with no request at all (57, 59).
   */
  private endOfCallerDialplan(runner: Runner): void {
    if (runner === 'app-pbx') setVariable(this.engine, this.ch1, 'STASISSTATUS', 'SUCCESS');
    else this.engine.bus.emitHangupRequest(this.ch1, SOFT.endOfDialplan, true);
  }

  /** `;1`'s own dialplan ended (Hangup() in outbound-ivr): `;2` is hung up with the same cause. */
  private callerEnded(cause: number): void {
    const runner = this.runner;
    this.runner = 'done';
    this.endOfCallerDialplan(runner);
    this.engine.bus.emitHangupRequest(this.ch2, cause, false);
    this.engine.destroy(this, this.ch1, cause);
    this.callee?.stop();
    this.engine.bus.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
    this.engine.destroy(this, this.ch2, cause);
  }

  /**
   * Dialplan-style originate to an extension that does not exist: the answered `;1` dies with
   * cause 0, and Asterisk even sends one more ChannelDialplan for it after ChannelDestroyed.
   */
  private callerDialplanMissing(location: Location): void {
    const runner = this.runner;
    this.runner = 'done';
    this.endOfCallerDialplan(runner);
    this.engine.bus.emitHangupRequest(this.ch2, 0, false);
    this.ch1.dialplan = { ...this.ch1.dialplan, ...location };
    this.engine.destroy(this, this.ch1, 0);
    this.engine.bus.emitChannel(this.ch1, 'ChannelDialplan', {
      dialplan_app: 'AppDial2',
      dialplan_app_data: '(Outgoing Line)',
    });
    this.callee?.stop();
    this.engine.bus.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
    this.engine.destroy(this, this.ch2, 0);
  }

  /** The originate timeout fired while ringing: no final Dial event, no HangupRequest on `;1`. */
  timeout(): void {
    if (this.runner !== 'dial') return;
    this.finishDial();
    this.engine.bus.emitHangupRequest(this.ch2, 19, false);
    this.engine.destroy(this, this.ch1, 19);
    this.callee?.stop();
    this.engine.bus.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
    this.engine.destroy(this, this.ch2, 19);
  }

  /** A soft hangup (ARI DELETE: flag 32; shutdown: flag 4) of one half, ending with `cause`. */
  softHangup(ch: Channel, flag: number, cause: number, announce = true): void {
    if (!ch.alive) return;
    if (announce) this.engine.bus.emitHangupRequest(ch, flag, true);
    if (ch === this.ch2) {
      this.callee?.stop();
      this.calleeEnded(cause);
      return;
    }
    const runner = this.runner;
    if (runner === 'pbx' || runner === 'app-pbx') {
      this.stopIvr();
      this.callerEnded(cause);
      return;
    }
    this.finishDial();
    if (runner === 'dial') this.engine.bus.emitDial(this.ch1, this.dialstring, dialStatusForCause(cause));
    else if (runner === 'app') this.stasisEnd();
    this.engine.bus.emitHangupRequest(this.ch2, cause, false);
    this.engine.destroy(this, this.ch1, cause);
    this.callee?.stop();
    if (this.ch2.alive) {
      this.engine.bus.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
      this.engine.destroy(this, this.ch2, cause);
    }
  }

  /** `core restart now` with the call up (recording 70): both halves see soft hangup 4, cause 0. */
  shutdown(): void {
    if (!this.ch1.alive || !this.ch2.alive) return;
    this.engine.bus.emitHangupRequest(this.ch1, SOFT.shutdown, true);
    this.engine.bus.emitHangupRequest(this.ch2, SOFT.shutdown, true);
    this.softHangup(this.ch1, SOFT.shutdown, 0, false);
  }

  stopThreads(): void {
    this.callee?.stop(true);
    this.ivr?.stop(true);
    this.cancelTimeout?.();
    this.cancelTimeout = null;
  }
}
