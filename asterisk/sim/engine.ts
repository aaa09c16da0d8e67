/**
 * The telephony model behind the simulated ARI: channels, Local channel pairs, the originate
 * dial, two dialplan threads per call and Stasis, plus the routing of events to applications.
 *
 * Event orders come from the recordings in traces/ (copied from shared/ari-traces). Where
 * Asterisk races (their README marks those ±), the engine always takes one recorded order.
 */
import { findExtension, SIM_DIALPLAN, substitute } from './dialplan.ts';
import {
  applicationJson,
  applicationReplacedEvent,
  asteriskTime,
  type CallerIdJson,
  type ChannelJson,
  type ChannelStateName,
  type ChannelView,
  causeText,
  channelEvent,
  type DialplanJson,
  deviceStateEvent,
  dialEvent,
  dialStatusForCause,
  type EventBuilder,
  hangupRequestEvent,
  type PlaybackJson,
  playbackEvent,
  SOFT,
  snapshot,
  varsetEvent,
} from './model.ts';
import { type OriginatePlan, parseCallerId } from './originate.ts';
import { seededRandom, Timers } from './timers.ts';

/** Where an events websocket's messages go; the server wraps Bun's ServerWebSocket in one. */
export interface Sink {
  readonly id: number;
  send(data: string): void;
  isOpen(): boolean;
}

export type EventsBeforeReply = 'never' | 'sometimes' | 'always';

export interface EngineOptions {
  timeScale: number;
  asteriskVersion: string;
  entityId?: string;
  eventsBeforeReply?: EventsBeforeReply;
  seed?: number;
  log?: (line: string) => void;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface SocketState {
  readonly sink: Sink;
  readonly apps: readonly string[];
  readonly subscribeAll: boolean;
}

interface Delivery {
  readonly sink: Sink;
  readonly data: string;
}

/** Playback(hello-world) took 1.42 s in recordings 34 and 35. */
const SOUND_MS: Record<string, number> = { 'hello-world': 1420 };
/** Answer() on a channel that was not up yet holds the dialplan for half a second. */
const ANSWER_DELAY_MS = 500;

const NO_ONE: CallerIdJson = { name: '', number: '' };

/** What ChannelCallerId carries besides the channel; originated caller ids are never restricted. */
const CALLER_ID_FIELDS = {
  caller_presentation: 0,
  caller_presentation_txt: 'Presentation Allowed, Not Screened',
};

class Channel implements ChannelView {
  state: ChannelStateName;
  caller: CallerIdJson = { ...NO_ONE };
  connected: CallerIdJson = { ...NO_ONE };
  dialplan: DialplanJson;
  readonly vars = new Map<string, string>();
  /** Apps without subscribeAll that still get this channel's events (originate with app=). */
  readonly subscriptions = new Set<string>();
  /** Set between StasisStart and StasisEnd. */
  stasisApp: string | null = null;
  alive = true;
  /** The Local pair this channel is half of; set right after both halves exist. */
  call: LocalCall | null = null;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly leg: 1 | 2,
    readonly creationtime: string,
    context: string,
    exten: string,
  ) {
    this.state = leg === 1 ? 'Down' : 'Ring';
    this.dialplan = { context, exten, priority: 1, app_name: '', app_data: '' };
  }
}

type Runner = 'dial' | 'pbx' | 'stasis' | 'done';
type PbxEnd =
  | { kind: 'hangup'; cause: number }
  | { kind: 'invalid'; location: Location }
  | { kind: 'fallthrough' };
type Location = Pick<DialplanJson, 'context' | 'exten' | 'priority'>;

/** One dialplan thread: runs priorities until an app blocks, then resumes from a timer. */
class Pbx {
  private cancel: (() => void) | null = null;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly call: LocalCall,
    readonly chan: Channel,
    private context: string,
    private exten: string,
    private priority: number,
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

  private resumeAfter(ms: number, then: () => void): void {
    this.cancel = this.engine.timers.after(ms, () => {
      this.cancel = null;
      if (this.stopped) return;
      then();
      this.run();
    });
  }

  private end(how: PbxEnd): void {
    this.stopped = true;
    this.call.pbxEnded(this, how);
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
      const data = substitute(raw, (name) =>
        this.engine.readVariable(this.chan, name, this.exten, this.context),
      );
      this.chan.dialplan = {
        context: this.context,
        exten: this.exten,
        priority: this.priority,
        app_name: app,
        app_data: data,
      };
      this.engine.emitChannel(this.chan, 'ChannelDialplan', { dialplan_app: app, dialplan_app_data: data });
      if (!this.exec(app, data)) return;
    }
  }

  /** Executes one app; returns false when the thread blocked or ended. */
  private exec(app: string, data: string): boolean {
    switch (app) {
      case 'NoOp':
        break;
      case 'Set': {
        const eq = data.indexOf('=');
        if (eq > 0) this.engine.setVariable(this.chan, data.slice(0, eq), data.slice(eq + 1));
        break;
      }
      case 'Goto': {
        const parts = data.split(',');
        const [c, e, p] =
          parts.length >= 3
            ? parts
            : parts.length === 2
              ? [this.context, ...parts]
              : [this.context, this.exten, parts[0]];
        this.context = c ?? this.context;
        this.exten = e ?? this.exten;
        this.priority = Number.parseInt(p ?? '1', 10) || 1;
        return true;
      }
      case 'Wait': {
        const seconds = Number.parseFloat(data);
        if (seconds > 0) {
          this.resumeAfter(seconds * 1000, () => this.priority++);
          return false;
        }
        break;
      }
      case 'Ringing':
        this.call.indication(this, 'RINGING');
        break;
      case 'Progress':
        this.call.indication(this, 'PROGRESS');
        break;
      case 'Answer':
        if (this.chan.state !== 'Up') {
          this.call.answer(this);
          if (this.stopped) return false;
          this.resumeAfter(ANSWER_DELAY_MS, () => this.priority++);
          return false;
        }
        break;
      case 'Busy':
      case 'Congestion': {
        this.call.busyIndication(this, app === 'Busy' ? 17 : 34, app === 'Busy' ? 'BUSY' : 'CONGESTION');
        if (this.stopped) return false;
        const seconds = Number.parseFloat(data);
        if (seconds > 0) {
          this.resumeAfter(seconds * 1000, () => this.priority++);
        }
        return false;
      }
      case 'Playback': {
        const ms = SOUND_MS[data];
        if (ms === undefined) {
          this.engine.setVariable(this.chan, 'PLAYBACKSTATUS', 'FAILED');
          break;
        }
        this.resumeAfter(ms, () => {
          this.engine.setVariable(this.chan, 'PLAYBACKSTATUS', 'SUCCESS');
          this.priority++;
        });
        return false;
      }
      case 'Hangup': {
        const cause = Number.parseInt(data, 10);
        this.end({ kind: 'hangup', cause: Number.isFinite(cause) && cause > 0 ? cause : 16 });
        return false;
      }
      default:
        break;
    }
    this.priority++;
    return true;
  }
}

/**
 * One originate to Local/<exten>@<context>: `;1` is the channel ARI returned, `;2` runs the
 * callee context. `runner` says what owns `;1`: the originate's dial (before answer), the
 * dialplan (dialplan-style), Stasis (app-style), or nothing any more.
 */
class LocalCall {
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
      this.engine.setState(this.ch1, 'Ringing');
      this.engine.emitDial(this, 'RINGING');
      this.engine.emitDevice(this.device, 'INUSE');
    } else {
      this.engine.emitDial(this, 'PROGRESS');
    }
  }

  /** Answer() in the callee context: both halves go up and `;1` continues after the dial. */
  answer(pbx: Pbx): void {
    if (pbx.chan !== this.ch2) {
      this.engine.setState(pbx.chan, 'Up');
      return;
    }
    this.engine.setState(this.ch2, 'Up');
    this.engine.emitDevice(this.device, 'INUSE');
    if (this.runner !== 'dial') return;
    this.cancelTimeout?.();
    this.cancelTimeout = null;
    this.engine.setState(this.ch1, 'Up');
    this.engine.emitDevice(this.device, 'INUSE');
    this.engine.emitDial(this, 'ANSWER');
    this.continueAfterAnswer();
  }

  private continueAfterAnswer(): void {
    const { appData } = this.plan;
    if (appData !== null) {
      this.runner = 'stasis';
      const [app = '', ...rest] = appData.split(',');
      this.ch1.dialplan = { ...this.ch1.dialplan, app_name: 'Stasis', app_data: appData };
      this.engine.setVariable(this.ch1, 'STASISSTATUS', '');
      if (this.engine.isRegistered(app)) {
        this.ch1.stasisApp = app;
        this.engine.emitStasisStart(this.ch1, app, rest);
      } else {
        this.stasisFailed();
      }
      return;
    }
    this.runner = 'pbx';
    this.ivr = new Pbx(
      this.engine,
      this,
      this.ch1,
      this.plan.context,
      this.plan.extension,
      this.plan.priority,
    );
    this.ivr.start();
  }

  /** Stasis() found no registered app: STASISSTATUS=FAILED and the call dies with cause 0. */
  private stasisFailed(): void {
    this.runner = 'done';
    this.engine.setVariable(this.ch1, 'STASISSTATUS', 'FAILED');
    this.engine.emitHangupRequest(this.ch2, 0, false);
    this.callee?.stop();
    this.engine.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
    this.engine.destroy(this, this.ch2, 0);
    this.engine.destroy(this, this.ch1, 0);
  }

  private stasisEnd(): void {
    this.engine.stopPlaybacks(this.ch1);
    const app = this.ch1.stasisApp;
    this.ch1.stasisApp = null;
    if (app !== null) this.engine.emitStasisEnd(this.ch1, app);
    this.engine.setVariable(this.ch1, 'STASISSTATUS', 'SUCCESS');
  }

  /**
   * Busy()/Congestion() before answer: the originate gives up, `;1` dies with cause 0 and only
   * the Dial status and the `;2` cause (17/34) tell what happened.
   */
  busyIndication(pbx: Pbx, cause: number, status: string): void {
    this.engine.setState(pbx.chan, 'Busy');
    if (pbx.chan !== this.ch2 || this.runner !== 'dial') return;
    this.engine.emitDevice(this.device, 'NOT_INUSE');
    this.engine.emitDial(this, status);
    this.finishDial();
    this.engine.emitHangupRequest(this.ch2, 0, false);
    this.engine.destroy(this, this.ch1, 0);
    this.callee?.stop();
    this.engine.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
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
    this.engine.emitHangupRequest(ch2, SOFT.endOfDialplan, true);
    const runner = this.runner;
    this.finishDial();
    if (runner === 'done') {
      this.engine.destroy(this, ch2, cause);
      return;
    }
    this.engine.emitHangupRequest(ch1, cause, false);
    this.engine.destroy(this, ch2, cause);
    if (runner === 'dial') {
      this.engine.emitDial(this, dialStatusForCause(cause));
    } else if (runner === 'pbx') {
      this.ivr?.stop();
      this.engine.emitHangupRequest(ch1, SOFT.endOfDialplan, true);
    } else {
      this.stasisEnd();
    }
    this.engine.destroy(this, ch1, cause);
  }

  /** `;1`'s own dialplan ended (Hangup() in outbound-ivr): `;2` is hung up with the same cause. */
  private callerEnded(cause: number): void {
    this.runner = 'done';
    this.engine.emitHangupRequest(this.ch1, SOFT.endOfDialplan, true);
    this.engine.emitHangupRequest(this.ch2, cause, false);
    this.engine.destroy(this, this.ch1, cause);
    this.callee?.stop();
    this.engine.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
    this.engine.destroy(this, this.ch2, cause);
  }

  /**
   * Dialplan-style originate to an extension that does not exist: the answered `;1` dies with
   * cause 0, and Asterisk even sends one more ChannelDialplan for it after ChannelDestroyed.
   */
  private callerDialplanMissing(location: Location): void {
    this.runner = 'done';
    this.engine.emitHangupRequest(this.ch1, SOFT.endOfDialplan, true);
    this.engine.emitHangupRequest(this.ch2, 0, false);
    this.ch1.dialplan = { ...this.ch1.dialplan, ...location };
    this.engine.destroy(this, this.ch1, 0);
    this.engine.emitChannel(this.ch1, 'ChannelDialplan', {
      dialplan_app: 'AppDial2',
      dialplan_app_data: '(Outgoing Line)',
    });
    this.callee?.stop();
    this.engine.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
    this.engine.destroy(this, this.ch2, 0);
  }

  /** The originate timeout fired while ringing: no final Dial event, no HangupRequest on `;1`. */
  timeout(): void {
    if (this.runner !== 'dial') return;
    this.finishDial();
    this.engine.emitHangupRequest(this.ch2, 19, false);
    this.engine.destroy(this, this.ch1, 19);
    this.callee?.stop();
    this.engine.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
    this.engine.destroy(this, this.ch2, 19);
  }

  /** A soft hangup (ARI DELETE: flag 32; shutdown: flag 4) of one half, ending with `cause`. */
  softHangup(ch: Channel, flag: number, cause: number, announce = true): void {
    if (!ch.alive) return;
    if (announce) this.engine.emitHangupRequest(ch, flag, true);
    if (ch === this.ch2) {
      this.callee?.stop();
      this.calleeEnded(cause);
      return;
    }
    const runner = this.runner;
    if (runner === 'pbx') {
      this.ivr?.stop();
      this.callerEnded(cause);
      return;
    }
    this.finishDial();
    if (runner === 'dial') this.engine.emitDial(this, dialStatusForCause(cause));
    else if (runner === 'stasis') this.stasisEnd();
    this.engine.emitHangupRequest(this.ch2, cause, false);
    this.engine.destroy(this, this.ch1, cause);
    this.callee?.stop();
    if (this.ch2.alive) {
      this.engine.emitHangupRequest(this.ch2, SOFT.endOfDialplan, true);
      this.engine.destroy(this, this.ch2, cause);
    }
  }

  /** `core restart now` with the call up (recording 70): both halves see soft hangup 4, cause 0. */
  shutdown(): void {
    if (!this.ch1.alive || !this.ch2.alive) return;
    this.engine.emitHangupRequest(this.ch1, SOFT.shutdown, true);
    this.engine.emitHangupRequest(this.ch2, SOFT.shutdown, true);
    this.softHangup(this.ch1, SOFT.shutdown, 0, false);
  }

  stopThreads(): void {
    this.callee?.stop();
    this.ivr?.stop();
    this.cancelTimeout?.();
    this.cancelTimeout = null;
  }
}

interface Playback {
  readonly json: PlaybackJson;
  readonly channel: Channel;
  cancel: () => void;
}

export interface OriginateResult extends Reply {
  /** How many of the events published by the originate belong to the request thread. */
  requestThreadEvents: number;
  /** The `;1` channel was already destroyed when the request finished. */
  failedFast: boolean;
}

export interface Gated<T> {
  value: T;
  /** Events delivered before the reply; the server waits a moment so they arrive first. */
  sentBeforeReply: number;
  /** Call once the reply has been handed to the HTTP layer. */
  afterReply(): void;
}

export class Engine {
  readonly timers: Timers;
  private readonly opts: Required<Omit<EngineOptions, 'log'>> & { log: (line: string) => void };
  private readonly random: () => number;
  private readonly sockets = new Map<number, SocketState>();
  private readonly registry = new Map<string, SocketState>();
  private readonly channels = new Map<string, Channel>();
  private readonly calls = new Set<LocalCall>();
  private readonly playbacks = new Map<string, Playback>();
  private capturing: Delivery[][] | null = null;
  private deferred: Delivery[] = [];
  private flushScheduled = false;
  private published = 0;
  private localCounter = 0;
  private uniqueSeq = 0;
  private startupTime = asteriskTime();
  eventsSent = 0;

  constructor(options: EngineOptions) {
    this.opts = {
      timeScale: options.timeScale,
      asteriskVersion: options.asteriskVersion,
      entityId: options.entityId ?? '02:fc:00:00:00:01',
      eventsBeforeReply: options.eventsBeforeReply ?? 'sometimes',
      seed: options.seed ?? 1,
      log: options.log ?? (() => {}),
    };
    this.random = seededRandom(this.opts.seed);
    this.timers = new Timers(options.timeScale, (err) => this.opts.log(`timer failed: ${String(err)}`));
  }

  // ---------------------------------------------------------------- applications and sockets

  attach(sink: Sink, apps: readonly string[], subscribeAll: boolean): void {
    const state: SocketState = { sink, apps, subscribeAll };
    this.sockets.set(sink.id, state);
    for (const app of apps) {
      const previous = this.registry.get(app);
      if (previous && previous !== state) {
        // The old socket stays open but is told once, then hears nothing more for this app.
        this.publish([{ app, sink: previous.sink }], applicationReplacedEvent(this.base()));
      }
      this.registry.set(app, state);
    }
  }

  detach(sink: Sink): void {
    const state = this.sockets.get(sink.id);
    if (!state) return;
    this.sockets.delete(sink.id);
    for (const app of state.apps) {
      if (this.registry.get(app) === state) this.registry.delete(app);
    }
  }

  get socketCount(): number {
    return this.sockets.size;
  }

  isRegistered(app: string): boolean {
    return this.registry.has(app);
  }

  hasSubscribeAllApp(): boolean {
    for (const state of this.registry.values()) if (state.subscribeAll) return true;
    return false;
  }

  applications(): unknown[] {
    return [...this.registry.keys()].sort().map((name) => this.application(name));
  }

  application(name: string): unknown {
    const state = this.registry.get(name);
    if (!state) return undefined;
    const ids = [...this.channels.values()].filter((c) => c.subscriptions.has(name)).map((c) => c.id);
    return applicationJson(name, state.subscribeAll, ids);
  }

  // ---------------------------------------------------------------- event publishing

  private base() {
    return { timestamp: asteriskTime(), asteriskId: this.opts.entityId };
  }

  private channelRoutes(ch: Channel): Array<{ app: string; sink: Sink }> {
    const routes: Array<{ app: string; sink: Sink }> = [];
    for (const [app, state] of this.registry) {
      if (state.subscribeAll || ch.subscriptions.has(app)) routes.push({ app, sink: state.sink });
    }
    return routes;
  }

  private publish(routes: Array<{ app: string; sink: Sink }>, build: EventBuilder): void {
    const deliveries = routes.map(({ app, sink }) => ({ sink, data: JSON.stringify(build(app)) }));
    this.published++;
    if (this.capturing) {
      this.capturing.push(deliveries);
      return;
    }
    this.enqueue(deliveries);
  }

  private enqueue(deliveries: readonly Delivery[]): void {
    if (this.deferred.length > 0) {
      this.deferred.push(...deliveries);
      return;
    }
    for (const d of deliveries) this.send(d);
  }

  private send(d: Delivery): void {
    if (!d.sink.isOpen()) return;
    d.sink.send(d.data);
    this.eventsSent++;
  }

  private flushDeferred(): void {
    this.flushScheduled = false;
    const queue = this.deferred;
    this.deferred = [];
    for (const d of queue) this.send(d);
  }

  /**
   * Runs a request handler and decides which of the events it published go out before its
   * HTTP reply. Real Asterisk publishes from other threads, so a client sees ChannelCreated (and
   * for fast failures sometimes even ChannelDestroyed) before the 200; see README finding 3.
   */
  gated<T>(
    fn: () => T,
    prefix: (value: T, published: number, mode: EventsBeforeReply, random: () => number) => number,
  ): Gated<T> {
    if (this.capturing) {
      return { value: fn(), sentBeforeReply: 0, afterReply: () => {} };
    }
    const captured: Delivery[][] = [];
    this.capturing = captured;
    let value: T;
    try {
      value = fn();
    } finally {
      this.capturing = null;
    }
    const mode = this.opts.eventsBeforeReply;
    const k = Math.max(0, Math.min(captured.length, prefix(value, captured.length, mode, this.random)));
    let sentBeforeReply = 0;
    for (let i = 0; i < captured.length; i++) {
      const deliveries = captured[i] as Delivery[];
      if (i < k) {
        this.enqueue(deliveries);
        sentBeforeReply += deliveries.length;
      } else {
        this.deferred.push(...deliveries);
      }
    }
    return {
      value,
      sentBeforeReply,
      afterReply: () => {
        if (this.deferred.length === 0 || this.flushScheduled) return;
        this.flushScheduled = true;
        setTimeout(() => this.flushDeferred(), 1);
      },
    };
  }

  /** Prefix policy for originates: see README finding 3 and scenario 55. */
  static originatePrefix(
    result: OriginateResult,
    published: number,
    mode: EventsBeforeReply,
    random: () => number,
  ) {
    if (mode === 'never') return 0;
    if (mode === 'always' || result.status !== 200) return published;
    const r = random();
    if (result.failedFast) return r < 0.1 ? published : result.requestThreadEvents;
    return r < 0.5 ? result.requestThreadEvents : 0;
  }

  /** Prefix policy for DELETE: the hangup events came before the 204 in two of six recorded cases. */
  static hangupPrefix(_r: Reply, published: number, mode: EventsBeforeReply, random: () => number) {
    if (mode === 'always') return published;
    if (mode === 'never') return 0;
    return random() < 0.35 ? published : 0;
  }

  emitChannel(ch: Channel, type: string, fields: Record<string, unknown> = {}): void {
    this.publish(this.channelRoutes(ch), channelEvent(type, snapshot(ch), this.base(), fields));
  }

  setState(ch: Channel, state: ChannelStateName): void {
    if (ch.state === state) return;
    ch.state = state;
    this.emitChannel(ch, 'ChannelStateChange');
  }

  emitHangupRequest(ch: Channel, cause: number, soft: boolean): void {
    this.publish(this.channelRoutes(ch), hangupRequestEvent(snapshot(ch), this.base(), cause, soft));
  }

  emitDial(call: LocalCall, status: string): void {
    this.publish(
      this.channelRoutes(call.ch1),
      dialEvent(snapshot(call.ch1), this.base(), status, call.dialstring),
    );
  }

  emitDevice(device: string, state: string): void {
    const routes: Array<{ app: string; sink: Sink }> = [];
    for (const [app, s] of this.registry) if (s.subscribeAll) routes.push({ app, sink: s.sink });
    this.publish(routes, deviceStateEvent(this.base(), device, state));
  }

  emitStasisStart(ch: Channel, app: string, args: string[]): void {
    const owner = this.registry.get(app);
    if (!owner) return;
    this.publish(
      [{ app, sink: owner.sink }],
      channelEvent('StasisStart', snapshot(ch), this.base(), { args }),
    );
  }

  emitStasisEnd(ch: Channel, app: string): void {
    const owner = this.registry.get(app);
    if (!owner) return;
    this.publish([{ app, sink: owner.sink }], channelEvent('StasisEnd', snapshot(ch), this.base()));
  }

  /** Sets a channel variable the way Set() does, including the CALLERID() function. */
  setVariable(ch: Channel, name: string, value: string): void {
    const fn = /^CALLERID\((name|num|number|all)\)$/i.exec(name);
    if (fn) {
      const field = (fn[1] as string).toLowerCase();
      if (field === 'name') ch.caller = { ...ch.caller, name: value };
      else if (field === 'all') ch.caller = parseCallerId(value);
      else ch.caller = { ...ch.caller, number: value };
      this.emitChannel(ch, 'ChannelCallerId', CALLER_ID_FIELDS);
      return;
    }
    ch.vars.set(name.replace(/^_{1,2}/, ''), value);
    this.publish(this.channelRoutes(ch), varsetEvent(snapshot(ch), this.base(), name, value));
  }

  readVariable(ch: Channel, name: string, exten?: string, context?: string): string | undefined {
    switch (name) {
      case 'EXTEN':
        return exten ?? ch.dialplan.exten;
      case 'CONTEXT':
        return context ?? ch.dialplan.context;
      case 'PRIORITY':
        return String(ch.dialplan.priority);
      case 'CHANNEL':
      case 'CHANNEL(name)':
        return ch.name;
      case 'UNIQUEID':
        return ch.id;
      case 'CALLERID(num)':
      case 'CALLERID(number)':
        return ch.caller.number;
      case 'CALLERID(name)':
        return ch.caller.name;
      case 'CALLERID(all)': {
        const { name: n, number } = ch.caller;
        if (n && number) return `"${n}" <${number}>`;
        return n ? `"${n}"` : number;
      }
    }
    return ch.vars.get(name.replace(/^_{1,2}/, ''));
  }

  destroy(call: LocalCall, ch: Channel, cause: number): void {
    if (!ch.alive) return;
    ch.alive = false;
    ch.dialplan =
      ch.leg === 1
        ? { ...ch.dialplan, app_name: 'AppDial2', app_data: '(Outgoing Line)' }
        : { ...ch.dialplan, app_name: '', app_data: '' };
    this.emitChannel(ch, 'ChannelDestroyed', { cause, cause_txt: causeText(cause) });
    if (this.channels.get(ch.id) === ch) this.channels.delete(ch.id);
    this.emitDevice(call.device, call.invalid ? 'INVALID' : 'NOT_INUSE');
    if (!call.live) {
      call.stopThreads();
      this.calls.delete(call);
    }
  }

  // ---------------------------------------------------------------- REST operations

  private findChannel(idOrName: string): Channel | undefined {
    const byId = this.channels.get(idOrName);
    if (byId) return byId;
    for (const ch of this.channels.values()) if (ch.name === idOrName) return ch;
    return undefined;
  }

  channelList(): ChannelJson[] {
    return [...this.channels.values()].map(snapshot);
  }

  channel(id: string): ChannelJson | undefined {
    const ch = this.findChannel(id);
    return ch ? snapshot(ch) : undefined;
  }

  get liveChannelCount(): number {
    return this.channels.size;
  }

  private autoId(): string {
    return `${Math.floor(Date.now() / 1000)}.${this.uniqueSeq++}`;
  }

  private newChannel(id: string, name: string, leg: 1 | 2, context: string, exten: string): Channel {
    return new Channel(id, name, leg, asteriskTime(), context, exten);
  }

  originate(plan: OriginatePlan): OriginateResult {
    const start = this.published;
    const fail = (status: number, body: unknown): OriginateResult => ({
      status,
      body,
      requestThreadEvents: this.published - start,
      failedFast: true,
    });
    const { args } = plan;
    if (args.originator && !this.findChannel(args.originator)) {
      return fail(400, { message: 'Provided originator channel was not found' });
    }
    if (plan.tech.toLowerCase() !== 'local') return fail(500, { error: 'Allocation failed' });

    // chan_local: options after the first '/', the context after the first '@'.
    const slash = plan.device.indexOf('/');
    const target = slash < 0 ? plan.device : plan.device.slice(0, slash);
    const at = target.indexOf('@');
    const dialed = at < 0 ? target : target.slice(0, at);
    const context = at < 0 || at === target.length - 1 ? 'default' : target.slice(at + 1);
    // The name keeps what was dialed; the dialplan runs an empty extension as "s".
    const exten = dialed === '' ? 's' : dialed;
    const counter = (this.localCounter++).toString(16).padStart(8, '0');
    const base = `Local/${dialed}@${context}-${counter}`;

    const taken = (id: string) => this.channels.has(id);
    const id1 = args.channelId || this.autoId();
    if (taken(id1)) return fail(409, { message: 'Channel with given unique ID already exists' });
    const id2 = args.otherChannelId || (args.channelId ? `${args.channelId};2` : this.autoId());
    const device = `Local/${dialed}@${context}`;
    if (taken(id2)) {
      // Asterisk has already allocated `;1` when the `;2` id collides, and says so.
      const ghost = this.newChannel(id1, `${base};1`, 1, context, exten);
      this.emitChannel(ghost, 'ChannelCreated');
      ghost.alive = false;
      this.emitChannel(ghost, 'ChannelDestroyed', { cause: 0, cause_txt: causeText(0) });
      this.emitDevice(device, 'NOT_INUSE');
      return fail(409, { message: 'Channel with given unique ID already exists' });
    }

    const ch1 = this.newChannel(id1, `${base};1`, 1, context, exten);
    const ch2 = this.newChannel(id2, `${base};2`, 2, context, exten);
    const call = new LocalCall(this, ch1, ch2, plan, plan.device, device);
    ch1.call = call;
    ch2.call = call;
    this.channels.set(id1, ch1);
    this.channels.set(id2, ch2);
    this.calls.add(call);

    // The request thread: allocation, caller id, variables, Stasis subscription.
    this.emitChannel(ch1, 'ChannelCreated');
    this.emitChannel(ch2, 'ChannelCreated');
    ch1.dialplan = { ...ch1.dialplan, app_name: 'AppDial2', app_data: '(Outgoing Line)' };
    this.emitChannel(ch1, 'ChannelDialplan', {
      dialplan_app: 'AppDial2',
      dialplan_app_data: '(Outgoing Line)',
    });
    const cid = args.callerId ? parseCallerId(args.callerId) : NO_ONE;
    if (cid.name || cid.number) {
      ch1.caller = { ...cid };
      this.emitChannel(ch1, 'ChannelCallerId', CALLER_ID_FIELDS);
      ch1.connected = { ...cid };
      this.emitChannel(ch1, 'ChannelConnectedLine');
    }
    const inherited: Array<[string, string]> = [];
    for (const [name, value] of args.variables) {
      this.setVariable(ch1, name, value);
      if (!/^[A-Z]+\(.*\)$/i.test(name)) inherited.push([name, value]);
    }
    if (plan.appData !== null) {
      const app = plan.appData.split(',')[0] as string;
      ch1.subscriptions.add(app);
      ch2.subscriptions.add(app);
    }
    const body = snapshot(ch1);
    const requestThreadEvents = this.published - start;

    // The dial thread: Local copies variables and caller ids to `;2`, then dials it.
    for (const [name, value] of inherited.reverse()) this.setVariable(ch2, name, value);
    ch2.caller = { ...ch1.connected };
    ch2.connected = { ...ch1.caller };
    if (ch2.caller.name || ch2.caller.number || ch2.connected.name || ch2.connected.number) {
      this.emitChannel(ch2, 'ChannelCallerId', CALLER_ID_FIELDS);
      this.emitChannel(ch2, 'ChannelConnectedLine');
    }
    if (!findExtension(SIM_DIALPLAN, context, exten)) {
      call.invalid = true;
      call.runner = 'done';
      this.destroy(call, ch2, 0);
      this.destroy(call, ch1, 0);
    } else {
      this.emitDial(call, '');
      if (plan.timeoutMs !== null)
        call.cancelTimeout = this.timers.after(plan.timeoutMs, () => call.timeout());
      call.callee = new Pbx(this, call, ch2, context, exten, 1);
      call.callee.start();
    }
    this.opts.log(JSON.stringify({ sim: 'originate', id: id1, endpoint: args.endpoint, alive: ch1.alive }));
    return { status: 200, body, requestThreadEvents, failedFast: !ch1.alive };
  }

  hangup(id: string, cause: number): Reply {
    const ch = this.findChannel(id);
    if (!ch) return { status: 404, body: { message: 'Channel not found' } };
    ch.call?.softHangup(ch, SOFT.explicit, cause);
    return { status: 204 };
  }

  variable(id: string, name: string | null): Reply {
    if (!name) return { status: 400, body: { message: 'Variable name is required' } };
    const ch = this.findChannel(id);
    if (!ch) return { status: 404, body: { message: 'Provided channel was not found' } };
    const value = this.readVariable(ch, name);
    if (value === undefined) {
      if (name.endsWith(')')) return { status: 500, body: { message: 'Unable to read provided function' } };
      return { status: 404, body: { message: 'Provided variable was not found' } };
    }
    return { status: 200, body: { value } };
  }

  /** find_control() and channel_state_invalid() of resource_channels.c. */
  private stasisControl(id: string): Channel | Reply {
    const ch = this.findChannel(id);
    if (!ch) return { status: 404, body: { message: 'Channel not found' } };
    if (ch.stasisApp === null) return { status: 409, body: { message: 'Channel not in Stasis application' } };
    if (ch.state === 'Down' || ch.state === 'Ringing') {
      return { status: 412, body: { message: 'Channel in invalid state' } };
    }
    return ch;
  }

  answerChannel(id: string): Reply {
    const ch = this.stasisControl(id);
    return ch instanceof Channel ? { status: 204 } : ch;
  }

  play(id: string, media: string[], lang: string | null, playbackId: string | null): Reply {
    const ch = this.stasisControl(id);
    if (!(ch instanceof Channel)) return ch;
    const first = media[0];
    if (!first) return { status: 400, body: { message: 'media: Required parameter is missing' } };
    const pbId = playbackId || crypto.randomUUID();
    const json: PlaybackJson = {
      id: pbId,
      media_uri: first,
      target_uri: `channel:${ch.id}`,
      language: lang || 'en',
      state: 'playing',
    };
    this.publish(this.channelRoutes(ch), playbackEvent('PlaybackStarted', { ...json }, this.base()));
    let ms = 0;
    let failed = false;
    for (const m of media) {
      const sound = /^sound:(.+)$/.exec(m);
      if (!sound) ms += 1000;
      else if (SOUND_MS[sound[1] as string] === undefined) failed = true;
      else ms += SOUND_MS[sound[1] as string] as number;
    }
    const pb: Playback = { json, channel: ch, cancel: () => {} };
    this.playbacks.set(pbId, pb);
    pb.cancel = this.timers.after(failed ? 0 : ms, () => this.finishPlayback(pb, failed ? 'failed' : 'done'));
    return { status: 201, body: { ...json }, headers: { Location: `/playbacks/${pbId}` } };
  }

  private finishPlayback(pb: Playback, state: string): void {
    pb.cancel();
    this.playbacks.delete(pb.json.id);
    pb.json.state = state;
    this.publish(
      this.channelRoutes(pb.channel),
      playbackEvent('PlaybackFinished', { ...pb.json }, this.base()),
    );
  }

  /** A channel leaving Stasis stops what it was playing. */
  stopPlaybacks(ch: Channel): void {
    for (const pb of [...this.playbacks.values()]) if (pb.channel === ch) this.finishPlayback(pb, 'done');
  }

  // ---------------------------------------------------------------- Asterisk itself

  info(): unknown {
    return {
      build: {
        os: 'Linux',
        kernel: '6.18.44-fc-v595',
        machine: 'x86_64',
        options: 'OPTIONAL_API',
        date: '2026-11-23 15:12:14 UTC',
        user: 'root',
      },
      system: { version: this.opts.asteriskVersion, entity_id: this.opts.entityId },
      config: { name: '', default_language: 'en', setid: { user: '', group: '' } },
      status: { startup_time: this.startupTime, last_reload_time: this.startupTime },
    };
  }

  ping(): unknown {
    return { ping: 'pong', timestamp: asteriskTime(), asterisk_id: this.opts.entityId };
  }

  /** Stops every call where it is; nothing moves until shutdownCalls() or reset(). */
  freeze(): void {
    this.timers.clear();
  }

  /** What `core restart now` tells the apps about live calls just before the sockets drop. */
  shutdownCalls(): void {
    for (const call of [...this.calls]) call.shutdown();
  }

  /** A fresh Asterisk: no channels, no apps, counters and startup time reset. */
  reset(): void {
    this.timers.clear();
    for (const call of this.calls) call.stopThreads();
    this.calls.clear();
    this.channels.clear();
    this.playbacks.clear();
    this.sockets.clear();
    this.registry.clear();
    this.deferred = [];
    this.localCounter = 0;
    this.uniqueSeq = 0;
    this.startupTime = asteriskTime();
  }
}
