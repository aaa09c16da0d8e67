/** POST /channels/{id}/play and the playbacks it starts. */
import type { Channel } from './channel.ts';
import type { Engine } from './engine.ts';
import { type PlaybackJson, playbackEvent } from './model.ts';
import type { Reply } from './reply.ts';
import { SOUND_MS } from './sounds.ts';

export interface Playback {
  readonly json: PlaybackJson;
  readonly channel: Channel;
  cancel: () => void;
}

export const play = (
  engine: Engine,
  id: string,
  media: string[],
  lang: string | null,
  playbackId: string | null,
): Reply => {
  const ch = engine.stasisControl(id);
  if (!ch.ok) return ch.reply;
  const { channel } = ch;
  const first = media[0];
  if (!first) return { status: 400, body: { message: 'media: Required parameter is missing' } };
  const pbId = playbackId || crypto.randomUUID();
  const json: PlaybackJson = {
    id: pbId,
    media_uri: first,
    target_uri: `channel:${channel.id}`,
    language: lang || 'en',
    state: 'playing',
  };
  engine.bus.publish(
    engine.bus.channelRoutes(channel),
    playbackEvent('PlaybackStarted', { ...json }, engine.bus.base()),
  );
  let ms = 0;
  let failed = false;
  for (const m of media) {
    const sound = /^sound:(.+)$/.exec(m);
    if (!sound) ms += 1000;
    else if (SOUND_MS[sound[1] as string] === undefined) failed = true;
    else ms += SOUND_MS[sound[1] as string] as number;
  }
  const pb: Playback = { json, channel, cancel: () => {} };
  engine.playbacks.set(pbId, pb);
  pb.cancel = engine.timers.after(failed ? 0 : ms, () =>
    finishPlayback(engine, pb, failed ? 'failed' : 'done'),
  );
  return { status: 201, body: { ...json }, headers: { Location: `/playbacks/${pbId}` } };
};

const finishPlayback = (engine: Engine, pb: Playback, state: string): void => {
  pb.cancel();
  engine.playbacks.delete(pb.json.id);
  pb.json.state = state;
  engine.bus.publish(
    engine.bus.channelRoutes(pb.channel),
    playbackEvent('PlaybackFinished', { ...pb.json }, engine.bus.base()),
  );
};

/** A channel leaving Stasis stops what it was playing. */
export const stopPlaybacks = (engine: Engine, ch: Channel): void => {
  for (const pb of [...engine.playbacks.values()]) if (pb.channel === ch) finishPlayback(engine, pb, 'done');
};
