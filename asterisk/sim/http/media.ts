/** /ari/playbacks and /ari/recordings (live and stored). */
import { controlPlayback, getPlayback, stopPlayback } from '../playback.ts';
import { endLive, getLive } from '../recording.ts';
import { gatedReply, reply } from './respond.ts';
import type { Handler } from './router.ts';

/** GET|DELETE /playbacks/{id}, POST /playbacks/{id}/control?operation=. */
export const playbacks: Handler = (ctx, { method, segs, query }) => {
  const [, id, op] = segs;
  if (id === undefined) return undefined;
  const { engine } = ctx;
  if (segs.length === 2) {
    if (method === 'GET') return reply(getPlayback(engine, id));
    // 47: the 204 first, PlaybackFinished right after.
    if (method === 'DELETE') return gatedReply(ctx, () => stopPlayback(engine, id), 'after');
    return null;
  }
  if (segs.length === 3 && op === 'control') {
    return method === 'POST'
      ? gatedReply(ctx, () => controlPlayback(engine, id, query.get('operation')))
      : null;
  }
  return undefined;
};

/** /recordings/live/{name}[/stop] and /recordings/stored[/{name}[/file|/copy]]. */
export const recordings: Handler = (ctx, { method, segs, query }) => {
  const [, kind, name, op] = segs;
  const { engine } = ctx;
  const { stored } = engine.recordings;
  if (kind === 'stored' && segs.length === 2) return method === 'GET' ? reply(stored.list()) : null;
  if (name === undefined) return undefined;
  if (kind === 'live') {
    if (segs.length === 3) {
      if (method === 'GET') return reply(getLive(engine, name));
      // 49: RecordingFinished in the same millisecond as the 204.
      if (method === 'DELETE') return gatedReply(ctx, () => endLive(engine, name, 'cancel'));
      return null;
    }
    if (segs.length === 4 && op === 'stop') {
      return method === 'POST' ? gatedReply(ctx, () => endLive(engine, name, 'stop')) : null;
    }
    return undefined;
  }
  if (kind !== 'stored') return undefined;
  if (segs.length === 3) {
    if (method === 'GET') return reply(stored.show(name));
    if (method === 'DELETE') return reply(stored.remove(name));
    return null;
  }
  if (segs.length === 4 && op === 'file') return method === 'GET' ? stored.file(name) : null;
  if (segs.length === 4 && op === 'copy') {
    return method === 'POST' ? reply(stored.copy(name, query.get('destinationRecordingName'))) : null;
  }
  return undefined;
};
