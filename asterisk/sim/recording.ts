/**
 * Live recordings: POST /channels/{id}/record and /recordings/live/{name} (GET, stop, DELETE),
 * as recorded in 49-ivr-record-* and 59-ivr-error-responses. A recording waits its turn in the
 * channel's media queue and records what the channel receives from its peer.
 *
 * How it ends and what RecordingFinished says (app.c's play-and-record, as the recordings show):
 * - `duration` is the whole seconds of frames received (no frames, no seconds: 59 stops after
 *   0.3 s of a callee in Wait() with duration 0);
 * - with maxSilenceSeconds, silence is counted over quiet frames only (the 0.45 s of SendDTMF in
 *   49-…-limits sent no frames and did not count), the recording ends once it exceeds the limit,
 *   `duration` loses that silence but 200 ms, `talking_duration` all silence but 200 ms,
 *   `silence_duration` is the difference; without maxSilenceSeconds neither field is sent;
 * - maxDurationSeconds is checked against whole seconds of the clock (2.34 s or 2.82 s for 2);
 * - terminateOn: the digit's ChannelDtmfReceived, then RecordingFinished (49-record-callee).
 */
import { type FrameAnalyser, FrameFeed } from './audio.ts';
import type { Channel } from './channel.ts';
import type { Engine } from './engine.ts';
import type { MediaItem } from './media.ts';
import { type RecordingJson, recordingEvent } from './model.ts';
import type { StoredRecordings } from './recordings-store.ts';
import { fail, type Reply } from './reply.ts';
import { type Sound, soundFile } from './sounds.ts';

export interface RecordOptions {
  name: string;
  format: string;
  maxDurationSeconds: number;
  maxSilenceSeconds: number;
  ifExists: 'fail' | 'overwrite' | 'append';
  beep: boolean;
  terminateOn: 'none' | 'any' | '*' | '#';
}

/** Frames as they came: whole seconds, the silence counters of app.c, and the audio itself. */
class Meter implements FrameAnalyser<'silence'> {
  readonly idleMs = null;
  framesMs = 0;
  dsp = 0;
  totalSilence = 0;
  speech: Array<[number, number]> = [];

  constructor(private readonly maxSilenceMs: number) {}

  clone(): Meter {
    const copy = new Meter(this.maxSilenceMs);
    Object.assign(copy, { framesMs: this.framesMs, dsp: this.dsp, totalSilence: this.totalSilence });
    return copy;
  }

  idle(): null {
    return null;
  }

  frame(speech: boolean): 'silence' | null {
    if (speech) {
      const last = this.speech.at(-1);
      if (last && last[1] === this.framesMs) last[1] += 20;
      else this.speech.push([this.framesMs, this.framesMs + 20]);
      if (this.dsp > 0) this.totalSilence += this.dsp;
      this.dsp = 0;
    } else this.dsp += 20;
    this.framesMs += 20;
    return this.maxSilenceMs > 0 && this.dsp > this.maxSilenceMs ? 'silence' : null;
  }
}

/** C's integer division: toward zero. */
const cdiv = (a: number, b: number) => Math.trunc(a / b);

export class LiveRecording implements MediaItem {
  state: 'queued' | 'recording' | 'done' | 'failed' = 'queued';
  private readonly meter: Meter;
  private feed: FrameFeed<'silence'> | null = null;
  private readonly cancels: Array<() => void> = [];

  constructor(
    private readonly engine: Engine,
    readonly channel: Channel,
    readonly opts: RecordOptions,
  ) {
    this.meter = new Meter(opts.maxSilenceSeconds * 1000);
  }

  get name(): string {
    return this.opts.name;
  }

  json(): RecordingJson {
    return {
      name: this.opts.name,
      format: this.opts.format,
      state: this.state,
      target_uri: `channel:${this.channel.id}`,
    };
  }

  private publish(type: 'RecordingStarted' | 'RecordingFinished' | 'RecordingFailed', json: RecordingJson) {
    const { bus } = this.engine;
    bus.publish(bus.channelRoutes(this.channel), recordingEvent(type, json, bus.base()));
  }

  begin(): void {
    if (this.state !== 'queued') {
      // Stopped or canceled while it waited: it never runs.
      this.channel.media.finished(this);
      return;
    }
    if (this.channel.bridge !== null) {
      // 49-ivr-record-failed-in-bridge: 201, then this.
      this.state = 'failed';
      this.engine.recordings.live.delete(this.name);
      this.publish('RecordingFailed', { ...this.json(), cause: 'Cannot record channel while in bridge' });
      this.channel.media.finished(this);
      return;
    }
    this.state = 'recording';
    this.publish('RecordingStarted', this.json());
    const { timers } = this.engine;
    if (this.opts.beep) {
      const beep = soundFile('beep') as Sound;
      const stop = this.channel.out.send(beep);
      this.cancels.push(stop, timers.after(beep.ms, stop));
    }
    const peer = this.channel.peer;
    if (peer) {
      this.feed = new FrameFeed(timers, peer.out, this.meter, () => this.finish('silence'));
    }
    if (this.opts.maxDurationSeconds > 0) {
      const now = timers.now();
      const end = (Math.floor(now / 1000) + this.opts.maxDurationSeconds + 1) * 1000;
      this.cancels.push(timers.after(end - now, () => this.finish('limit')));
    }
  }

  /** A digit reached the channel (SendDTMF of the peer). */
  dtmf(digit: string): void {
    const on = this.opts.terminateOn;
    if (this.state === 'recording' && (on === 'any' || on === digit)) this.finish('dtmf');
  }

  /** Ends it: RecordingFinished `done` (even when canceled, 49), the file kept unless `cancel`. */
  finish(how: 'stop' | 'cancel' | 'silence' | 'limit' | 'dtmf' | 'hangup'): void {
    if (this.state !== 'recording') return;
    // Frames up to now count; they may even have ended it by silence already.
    if (how !== 'silence') this.feed?.catchUp();
    if (this.state !== 'recording') return;
    this.feed?.stop();
    for (const cancel of this.cancels.splice(0)) cancel();
    this.state = 'done';
    this.engine.recordings.live.delete(this.name);
    const { json, kept } = this.result(how === 'silence');
    this.publish('RecordingFinished', { ...this.json(), ...json });
    if (how !== 'cancel') this.store(kept);
    this.channel.media.finished(this);
  }

  private result(bySilence: boolean) {
    const m = this.meter;
    let duration = Math.floor(m.framesMs / 1000);
    const json: Record<string, number> = {};
    if (this.opts.maxSilenceSeconds > 0) {
      const total = Math.floor(m.framesMs / 1000);
      const silence = m.totalSilence + m.dsp;
      const talking = Math.max(0, silence > 0 ? total - cdiv(silence - 200, 1000) : total);
      duration = Math.max(0, m.dsp > 0 ? total - cdiv(m.dsp - 200, 1000) : total);
      Object.assign(json, { duration, talking_duration: talking, silence_duration: duration - talking });
    } else json.duration = duration;
    // Ended by silence: the trailing silence goes, all but 200 ms.
    const keptMs = bySilence ? m.framesMs - Math.max(0, m.dsp - 200) : m.framesMs;
    const speech = m.speech
      .filter(([from]) => from < keptMs)
      .map(([f, t]): [number, number] => [f, Math.min(t, keptMs)]);
    return { json, kept: { ms: keptMs, speech } satisfies Sound };
  }

  private store(sound: Sound): void {
    const { stored } = this.engine.recordings;
    const old = stored.get(this.name);
    if (old && this.opts.ifExists === 'append') {
      const shift = old.sound.ms;
      const speech = [
        ...old.sound.speech,
        ...sound.speech.map(([f, t]): [number, number] => [f + shift, t + shift]),
      ];
      sound = { ms: shift + sound.ms, speech };
    }
    stored.put({ name: this.name, format: this.opts.format, sound });
  }

  interrupt(): void {
    this.finish('hangup');
  }

  /** Never ran: gone without a word. */
  discard(): void {
    this.engine.recordings.live.delete(this.name);
  }
}

/** The live recordings by name, and the stored ones. */
export interface Recordings {
  live: Map<string, LiveRecording>;
  stored: StoredRecordings;
}

const NOT_FOUND = fail(404, 'Recording not found');

export const getLive = (engine: Engine, name: string): Reply => {
  const rec = engine.recordings.live.get(name);
  return rec ? { status: 200, body: rec.json() } : NOT_FOUND;
};

/** POST …/stop and DELETE (cancel) of a live recording; a queued one just never runs. */
export const endLive = (engine: Engine, name: string, how: 'stop' | 'cancel'): Reply => {
  const rec = engine.recordings.live.get(name);
  if (!rec) return NOT_FOUND;
  if (rec.state === 'queued') {
    rec.discard();
    rec.state = 'done';
  } else rec.finish(how);
  return { status: 204 };
};

/** The formats Asterisk can write (ast_get_format_for_file_ext of a stock build). */
const FORMATS = new Set([
  'wav',
  'WAV',
  'wav49',
  'wav16',
  'gsm',
  'ulaw',
  'ul',
  'alaw',
  'al',
  'sln',
  'raw',
  'g722',
  'g729',
  'ogg',
  'siren7',
  'siren14',
  'au',
  'vox',
]);
const IF_EXISTS = new Set(['fail', 'overwrite', 'append']);
const TERMINATE_ON = new Set(['none', 'any', '*', '#']);

/** C atoi(): an optional sign and digits; anything else reads as 0. */
const atoi = (v: string | null): number => {
  const m = /^\s*([+-]?\d+)/.exec(v ?? '');
  return m ? Number.parseInt(m[1] as string, 10) : 0;
};

/** A name that would leave the recordings folder, or none at all. */
const badName = (name: string): boolean =>
  name === '' || name.startsWith('/') || name.split('/').some((part) => part === '..');

/**
 * POST /channels/{id}/record, checked in the order 59-ivr-error-responses shows: the channel,
 * then the format (before even the name), ifExists, terminateOn, the limits, the name, and
 * finally a live or stored recording of that name.
 */
export const record = (engine: Engine, channelId: string, q: URLSearchParams, beep: boolean): Reply => {
  const ch = engine.stasisControl(channelId);
  if (!ch.ok) return ch.reply;
  const format = q.get('format') ?? '';
  if (!FORMATS.has(format)) return fail(422, 'specified format is unknown on this system');
  const ifExists = q.get('ifExists') || 'fail';
  if (!IF_EXISTS.has(ifExists)) return fail(400, 'ifExists invalid');
  const terminateOn = q.get('terminateOn') || 'none';
  if (!TERMINATE_ON.has(terminateOn)) return fail(400, 'terminateOn invalid');
  const maxDurationSeconds = atoi(q.get('maxDurationSeconds'));
  if (maxDurationSeconds < 0) return fail(400, 'max_duration_seconds cannot be negative');
  const maxSilenceSeconds = atoi(q.get('maxSilenceSeconds'));
  if (maxSilenceSeconds < 0) return fail(400, 'max_silence_seconds cannot be negative');
  const name = q.get('name') ?? '';
  if (badName(name)) return fail(500, 'Error parsing request');
  const { live, stored } = engine.recordings;
  if (live.has(name) || (ifExists === 'fail' && stored.has(name))) {
    return fail(409, `Recording '${name}' already exists and can not be overwritten`);
  }
  const rec = new LiveRecording(engine, ch.channel, {
    name,
    format,
    maxDurationSeconds,
    maxSilenceSeconds,
    ifExists: ifExists as RecordOptions['ifExists'],
    beep,
    terminateOn: terminateOn as RecordOptions['terminateOn'],
  });
  live.set(name, rec);
  const json = rec.json();
  ch.channel.media.add(rec);
  return {
    status: 201,
    body: { ...json, state: rec.state === 'queued' ? 'queued' : 'recording' },
    headers: { Location: `/recordings/live/${name}` },
  };
};
