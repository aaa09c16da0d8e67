/**
 * ARI playbacks: POST /channels/{id}/play, GET|DELETE /playbacks/{id}, POST .../control, as
 * recorded in 43, 44, 45, 47, 56 and 59 (IVR.md). A playback waits its turn in the channel's
 * media queue; each media of its list is Started (with the next one as next_media_uri), then
 * Continuing into the next, and the last one Finished `done`. A missing file fails alone but is
 * skipped inside a list; a scheme ARI does not know is Started and then never heard of again.
 */
import type { Channel } from './channel.ts';
import type { Engine } from './engine.ts';
import type { MediaItem } from './media.ts';
import { type PlaybackJson, playbackEvent } from './model.ts';
import { fail, type Reply } from './reply.ts';
import { ENDLESS, resolveMedia, type Sound } from './sounds.ts';

type State = 'queued' | 'playing' | 'paused' | 'done' | 'failed';

export interface PlayRequest {
  media: string[];
  lang: string | null;
  playbackId: string | null;
  /** forward/reverse step, ARI's default 3000 ms. */
  skipMs: number;
}

export class Playback implements MediaItem {
  state: State = 'queued';
  /** DELETE while queued: it will finish `done` when its turn comes, without starting. */
  private canceled = false;
  private index = 0;
  /** Where in the current media and since when (simulated ms) it has been playing. */
  private position = 0;
  private playingSince = 0;
  private stopTimer: (() => void) | null = null;
  private stopAudio: (() => void) | null = null;
  private sound: Sound | null = null;

  constructor(
    private readonly engine: Engine,
    readonly id: string,
    readonly channel: Channel,
    private readonly media: string[],
    private readonly language: string,
    private readonly skipMs: number,
  ) {}

  /** The JSON of GET and of the 201: the first media and the state. */
  json(): PlaybackJson {
    return this.snapshot(this.index, this.canceled ? 'done' : this.state);
  }

  private snapshot(index: number, state: string, withNext = true): PlaybackJson {
    const next = this.media[index + 1];
    return {
      id: this.id,
      media_uri: this.media[index] as string,
      ...(withNext && next !== undefined ? { next_media_uri: next } : {}),
      target_uri: `channel:${this.channel.id}`,
      language: this.language,
      state,
    };
  }

  private publish(type: 'PlaybackStarted' | 'PlaybackContinuing' | 'PlaybackFinished', json: PlaybackJson) {
    const { bus } = this.engine;
    bus.publish(bus.channelRoutes(this.channel), playbackEvent(type, json, bus.base()));
  }

  begin(): void {
    if (this.canceled) {
      this.finish('done');
      return;
    }
    this.startMedia();
  }

  private startMedia(): void {
    this.state = 'playing';
    this.publish('PlaybackStarted', this.snapshot(this.index, 'playing'));
    const media = resolveMedia(this.media[this.index] as string, (name) => this.engine.storedSound(name));
    if (media.kind === 'unsupported') {
      // 59: Started, then GET/DELETE answer 404 and no PlaybackFinished ever comes.
      this.engine.playbacks.remove(this);
      this.channel.media.finished(this);
      return;
    }
    if (media.kind === 'missing') {
      this.mediaEnded('failed');
      return;
    }
    this.sound = media.kind === 'endless' ? ENDLESS : media.sound;
    this.position = 0;
    this.resume();
  }

  /** Plays the rest of the current media from `position`. */
  private resume(): void {
    const sound = this.sound as Sound;
    this.playingSince = this.engine.timers.now();
    this.stopAudio = this.channel.out.send(sound, this.position);
    if (Number.isFinite(sound.ms)) {
      this.stopTimer = this.engine.timers.after(sound.ms - this.position, () => this.mediaEnded('done'));
    }
  }

  /** Stops the clock and the audio; `position` keeps where it was. */
  private hold(): void {
    if (!this.stopAudio) return;
    this.position += this.engine.timers.now() - this.playingSince;
    this.stopTimer?.();
    this.stopAudio?.();
    this.stopTimer = null;
    this.stopAudio = null;
  }

  /** One media is over: the next one of the list, or the end of the playback. */
  private mediaEnded(how: 'done' | 'failed'): void {
    this.hold();
    if (this.index + 1 >= this.media.length) {
      this.finish(how);
      return;
    }
    // A missing file inside a list is skipped silently (44).
    this.publish('PlaybackContinuing', this.snapshot(this.index, 'continuing'));
    this.index++;
    this.startMedia();
  }

  private finish(state: 'done' | 'failed'): void {
    this.hold();
    this.state = state;
    this.engine.playbacks.remove(this);
    // The last media, without next_media_uri (45); a canceled one as it was queued (44).
    this.publish('PlaybackFinished', this.snapshot(this.index, state, this.canceled));
    this.channel.media.finished(this);
  }

  /** DELETE /playbacks/{id}: a running playback ends `done` at once (47), a queued one later (44). */
  stop(): void {
    if (this.state === 'queued') {
      this.canceled = true;
      return;
    }
    this.finish('done');
  }

  /** Hanging up fails what plays (44, 56); continuing to the dialplan ends it. */
  interrupt(why: 'hangup' | 'continue'): void {
    this.finish(why === 'hangup' ? 'failed' : 'done');
  }

  discard(): void {
    this.hold();
    this.engine.playbacks.remove(this);
  }

  /** POST /playbacks/{id}/control (resource_playbacks.c and its table of operations per state). */
  control(operation: string): Reply {
    const playing = this.state === 'playing';
    switch (operation) {
      case 'pause':
        if (this.state === 'paused') return { status: 204 };
        if (!playing) break;
        this.hold();
        this.state = 'paused';
        return { status: 204 };
      case 'unpause':
        if (playing) return { status: 204 };
        if (this.state !== 'paused') break;
        // 44: unpausing emits another PlaybackStarted.
        this.state = 'playing';
        this.publish('PlaybackStarted', this.snapshot(this.index, 'playing'));
        this.resume();
        return { status: 204 };
      case 'restart':
      case 'forward':
      case 'reverse':
        if (this.state === 'queued' && operation === 'restart') return { status: 204 };
        if (!playing) break;
        this.seek(operation);
        return { status: 204 };
    }
    return fail(409, `Can only ${operation} while media is playing`);
  }

  private seek(operation: 'restart' | 'forward' | 'reverse'): void {
    this.hold();
    const ms = (this.sound as Sound).ms;
    if (operation === 'restart') this.position = 0;
    else if (operation === 'forward') this.position = Math.min(ms, this.position + this.skipMs);
    else this.position = Math.max(0, this.position - this.skipMs);
    this.resume();
  }
}

/** The playbacks by id; the same id twice is allowed and the first one answers (44). */
export class Playbacks {
  private readonly byId = new Map<string, Playback[]>();

  add(pb: Playback): void {
    const list = this.byId.get(pb.id) ?? [];
    list.push(pb);
    this.byId.set(pb.id, list);
  }

  get(id: string): Playback | undefined {
    return this.byId.get(id)?.[0];
  }

  remove(pb: Playback): void {
    const list = this.byId.get(pb.id);
    if (!list) return;
    const rest = list.filter((p) => p !== pb);
    if (rest.length > 0) this.byId.set(pb.id, rest);
    else this.byId.delete(pb.id);
  }

  clear(): void {
    this.byId.clear();
  }
}

/** POST /channels/{id}/play[/{playbackId}]: 201 with the playback, queued or already playing. */
export const play = (engine: Engine, channelId: string, req: PlayRequest): Reply => {
  const ch = engine.stasisControl(channelId);
  if (!ch.ok) return ch.reply;
  if (req.media.length === 0) return fail(500, 'Failed to queue media for playback');
  const id = req.playbackId || crypto.randomUUID();
  const pb = new Playback(engine, id, ch.channel, req.media, req.lang || 'en', req.skipMs);
  engine.playbacks.add(pb);
  const json = pb.json();
  ch.channel.media.add(pb);
  // The state at the moment of the answer: "playing" when it began at once (34), else queued.
  return {
    status: 201,
    body: { ...json, state: pb.state === 'queued' ? 'queued' : 'playing' },
    headers: { Location: `/playbacks/${id}` },
  };
};

const NOT_FOUND = fail(404, 'Playback not found');

export const getPlayback = (engine: Engine, id: string): Reply => {
  const pb = engine.playbacks.get(id);
  return pb ? { status: 200, body: pb.json() } : NOT_FOUND;
};

export const stopPlayback = (engine: Engine, id: string): Reply => {
  const pb = engine.playbacks.get(id);
  if (!pb) return NOT_FOUND;
  pb.stop();
  return { status: 204 };
};

const OPERATIONS = new Set(['pause', 'unpause', 'restart', 'reverse', 'forward']);

export const controlPlayback = (engine: Engine, id: string, operation: string | null): Reply => {
  if (!operation) return fail(400, 'Missing operation');
  if (!OPERATIONS.has(operation)) return fail(400, `Invalid operation ${operation}`);
  const pb = engine.playbacks.get(id);
  return pb ? pb.control(operation) : NOT_FOUND;
};
