/**
 * The telephony state behind the simulated ARI, shared by the modules that act on it: the
 * timers (time scale), the event bus, the live channels and Local calls, the playbacks,
 * recordings and bridges, and Asterisk's own life (info, restart). The behaviour lives beside
 * it: the call model in local-call.ts and pbx.ts, the originate in dial.ts, the REST operations
 * in their modules (playback.ts, recording.ts, stasis.ts, dtmf.ts, variables.ts, bridges.ts).
 *
 * Event orders come from the recordings in traces/ (copied from shared/ari-traces). Where
 * Asterisk races (their README marks those ±), the simulator always takes one recorded order.
 */
import { Bridges } from './bridges.ts';
import { EventBus, type EventsBeforeReply } from './bus.ts';
import { Channel } from './channel.ts';
import type { LocalCall } from './local-call.ts';
import { asteriskTime, type ChannelJson, causeText, SOFT, snapshot } from './model.ts';
import { Playbacks } from './playback.ts';
import type { LiveRecording, Recordings } from './recording.ts';
import { StoredRecordings } from './recordings-store.ts';
import { fail, type Reply } from './reply.ts';
import type { Sound } from './sounds.ts';
import { seededRandom, Timers } from './timers.ts';

export type { EventsBeforeReply, Sink } from './bus.ts';
export type { Reply } from './reply.ts';

export interface EngineOptions {
  timeScale: number;
  asteriskVersion: string;
  entityId?: string;
  eventsBeforeReply?: EventsBeforeReply;
  seed?: number;
  log?: (line: string) => void;
}

/** A channel that ARI may control (in Stasis and answered), or why not. */
export type Controlled = { ok: true; channel: Channel } | { ok: false; reply: Reply };

export class Engine {
  readonly timers: Timers;
  readonly bus: EventBus;
  readonly channels = new Map<string, Channel>();
  readonly calls = new Set<LocalCall>();
  readonly playbacks = new Playbacks();
  readonly recordings: Recordings = {
    live: new Map<string, LiveRecording>(),
    stored: new StoredRecordings(),
  };
  readonly bridges = new Bridges(this);
  readonly log: (line: string) => void;
  private readonly asteriskVersion: string;
  private readonly entityId: string;
  private localCounter = 0;
  private uniqueSeq = 0;
  private startupTime = asteriskTime();

  constructor(options: EngineOptions) {
    this.asteriskVersion = options.asteriskVersion;
    this.entityId = options.entityId ?? '02:fc:00:00:00:01';
    this.log = options.log ?? (() => {});
    const random = seededRandom(options.seed ?? 1);
    this.bus = new EventBus(this.entityId, options.eventsBeforeReply ?? 'sometimes', random);
    this.timers = new Timers(options.timeScale, (err) => this.log(`timer failed: ${String(err)}`));
  }

  /** What `recording:<name>` plays. */
  storedSound(name: string): Sound | undefined {
    return this.recordings.stored.get(name)?.sound;
  }

  get eventsSent(): number {
    return this.bus.eventsSent;
  }

  // ---------------------------------------------------------------- channels

  findChannel(idOrName: string): Channel | undefined {
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

  /** Asterisk's generated unique ids: "<epoch seconds>.<sequence>". */
  autoId(): string {
    return `${Math.floor(Date.now() / 1000)}.${this.uniqueSeq++}`;
  }

  /** The hex counter in Local channel names; every attempt that reached chan_local takes one. */
  nextLocalCounter(): string {
    return (this.localCounter++).toString(16).padStart(8, '0');
  }

  newChannel(id: string, name: string, leg: 1 | 2, context: string, exten: string): Channel {
    return new Channel(id, name, leg, asteriskTime(), context, exten, this.timers);
  }

  destroy(call: LocalCall, ch: Channel, cause: number): void {
    if (!ch.alive) return;
    ch.alive = false;
    ch.dialplan =
      ch.leg === 1
        ? { ...ch.dialplan, app_name: 'AppDial2', app_data: '(Outgoing Line)' }
        : { ...ch.dialplan, app_name: '', app_data: '' };
    this.bus.emitChannel(ch, 'ChannelDestroyed', { cause, cause_txt: causeText(cause) });
    if (this.channels.get(ch.id) === ch) this.channels.delete(ch.id);
    this.bus.emitDevice(call.device, call.invalid ? 'INVALID' : 'NOT_INUSE');
    if (!call.live) {
      call.stopThreads();
      this.calls.delete(call);
    }
  }

  /** find_control() and channel_state_invalid() of resource_channels.c. */
  stasisControl(id: string): Controlled {
    const ch = this.findChannel(id);
    if (!ch) return { ok: false, reply: fail(404, 'Channel not found') };
    if (ch.stasisApp === null) return { ok: false, reply: fail(409, 'Channel not in Stasis application') };
    if (ch.state === 'Down' || ch.state === 'Ringing') {
      return { ok: false, reply: fail(412, 'Channel in invalid state') };
    }
    return { ok: true, channel: ch };
  }

  // ---------------------------------------------------------------- simple REST operations

  hangup(id: string, cause: number): Reply {
    const ch = this.findChannel(id);
    if (!ch) return fail(404, 'Channel not found');
    ch.call?.softHangup(ch, SOFT.explicit, cause);
    return { status: 204 };
  }

  answerChannel(id: string): Reply {
    const ch = this.stasisControl(id);
    return ch.ok ? { status: 204 } : ch.reply;
  }

  applications(): unknown[] {
    return this.bus.appNames().map((name) => this.application(name));
  }

  application(name: string): unknown {
    return this.bus.application(name, () =>
      [...this.channels.values()].filter((c) => c.subscriptions.has(name)).map((c) => c.id),
    );
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
      system: { version: this.asteriskVersion, entity_id: this.entityId },
      config: { name: '', default_language: 'en', setid: { user: '', group: '' } },
      status: { startup_time: this.startupTime, last_reload_time: this.startupTime },
    };
  }

  ping(): unknown {
    return { ping: 'pong', timestamp: asteriskTime(), asterisk_id: this.entityId };
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
    this.recordings.live.clear();
    this.recordings.stored.clear();
    this.bridges.clear();
    this.bus.clear();
    this.localCounter = 0;
    this.uniqueSeq = 0;
    this.startupTime = asteriskTime();
  }
}
