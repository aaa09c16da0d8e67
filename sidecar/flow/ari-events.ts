import { z } from 'zod';
import type { AriEvent } from '../ari/schemas.ts';
import { normalizeTimestamp } from '../mapping.ts';

/**
 * The ARI events a flow waits on (shared/ari-traces/IVR.md), parsed before use, and the call each
 * is about: Playback* and Recording* name their channel in `target_uri` ("channel:<id>"),
 * ChannelDtmfReceived, StasisStart/End and the hang-up events in `channel`.
 */

const Playback = z.looseObject({ id: z.string(), state: z.string(), target_uri: z.string() });
const Recording = z.looseObject({
  name: z.string(),
  state: z.string().optional(),
  target_uri: z.string(),
  duration: z.number().optional(),
  cause: z.string().optional(),
});
const Channel = z.looseObject({ id: z.string(), state: z.string().optional() });

const PlaybackEvent = z.looseObject({
  type: z.enum(['PlaybackStarted', 'PlaybackContinuing', 'PlaybackFinished']),
  playback: Playback,
});
export type PlaybackEvent = z.infer<typeof PlaybackEvent>;
const RecordingEvent = z.looseObject({
  type: z.enum(['RecordingStarted', 'RecordingFinished', 'RecordingFailed']),
  recording: Recording,
});
export type RecordingEvent = z.infer<typeof RecordingEvent>;

export const FlowAriEvent = z.discriminatedUnion('type', [
  PlaybackEvent,
  RecordingEvent,
  z.looseObject({ type: z.literal('ChannelDtmfReceived'), digit: z.string(), channel: Channel }),
  z.looseObject({
    type: z.literal('StasisStart'),
    args: z.array(z.string()).optional(),
    channel: Channel,
  }),
  z.looseObject({
    type: z.enum(['StasisEnd', 'ChannelHangupRequest', 'ChannelDestroyed']),
    timestamp: z.string().optional(),
    cause: z.number().optional(),
    soft: z.boolean().optional(),
    channel: Channel,
  }),
]);
export type FlowAriEvent = z.infer<typeof FlowAriEvent>;

const FLOW_TYPES: ReadonlySet<string> = new Set(
  FlowAriEvent.options.flatMap((o) => {
    const type = o.shape.type;
    return 'options' in type ? [...type.options] : [type.value];
  }),
);

/** The event as a flow reads it, with the id of the channel it is about; null for any other. */
export function flowEventOf(event: AriEvent): { channelId: string; event: FlowAriEvent } | null {
  if (!FLOW_TYPES.has(event.type)) return null;
  const parsed = FlowAriEvent.safeParse(event);
  if (!parsed.success) return null;
  const e = parsed.data;
  const target = isPlayback(e) ? e.playback.target_uri : isRecording(e) ? e.recording.target_uri : null;
  if (target !== null) {
    return target.startsWith('channel:') ? { channelId: target.slice('channel:'.length), event: e } : null;
  }
  return { channelId: (e as { channel: { id: string } }).channel.id, event: e };
}

/** The events after which the channel is leaving (or left) the call: the callee or someone hung up. */
export function isHangup(event: FlowAriEvent): boolean {
  return event.type === 'ChannelHangupRequest' || event.type === 'ChannelDestroyed';
}

/**
 * When the channel left, as ARI tells it (the time the call's own end carries, mapping.ts), so that
 * the flow's end it causes is not stamped later than the call's end; now when ARI gives none.
 */
export function leftAt(event: FlowAriEvent): string {
  const now = new Date().toISOString();
  return 'timestamp' in event && typeof event.timestamp === 'string'
    ? normalizeTimestamp(event.timestamp, now)
    : now;
}

export function isPlayback(e: FlowAriEvent): e is PlaybackEvent {
  return e.type.startsWith('Playback');
}

export function isRecording(e: FlowAriEvent): e is RecordingEvent {
  return e.type.startsWith('Recording');
}
