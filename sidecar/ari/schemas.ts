import { z } from 'zod';

/**
 * What the sidecar reads from ARI, parsed before use. Objects are loose: ARI sends many more
 * members than we read, and a new Asterisk may add some.
 */

export const AriChannel = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  state: z.string(),
});
export type AriChannel = z.infer<typeof AriChannel>;

export const AriChannelList = z.array(AriChannel);

const base = { timestamp: z.string().optional(), application: z.string().optional() };

export const ChannelCreated = z.looseObject({
  type: z.literal('ChannelCreated'),
  ...base,
  channel: AriChannel,
});
export const ChannelStateChange = z.looseObject({
  type: z.literal('ChannelStateChange'),
  ...base,
  channel: AriChannel,
});
/** For an originate, `peer` is the originated `;1` channel and there is no `caller`. */
export const Dial = z.looseObject({
  type: z.literal('Dial'),
  ...base,
  dialstatus: z.string(),
  peer: AriChannel,
  caller: AriChannel.optional(),
});
/** `cause` is a Q.850 cause only without `soft`; with `soft:true` it is the soft-hangup bitmask. */
export const ChannelHangupRequest = z.looseObject({
  type: z.literal('ChannelHangupRequest'),
  ...base,
  cause: z.number().int().optional(),
  soft: z.boolean().optional(),
  channel: AriChannel,
});
export const ChannelDestroyed = z.looseObject({
  type: z.literal('ChannelDestroyed'),
  ...base,
  cause: z.number().int(),
  cause_txt: z.string(),
  channel: AriChannel,
});
export const ChannelVarset = z.looseObject({
  type: z.literal('ChannelVarset'),
  ...base,
  variable: z.string(),
  value: z.string(),
  // Global variables come without a channel.
  channel: AriChannel.optional(),
});
export const StasisStart = z.looseObject({
  type: z.literal('StasisStart'),
  ...base,
  args: z.array(z.string()).optional(),
  channel: AriChannel,
});
export const StasisEnd = z.looseObject({ type: z.literal('StasisEnd'), ...base, channel: AriChannel });
/** Another socket registered our app name: this one gets nothing more. */
export const ApplicationReplaced = z.looseObject({ type: z.literal('ApplicationReplaced'), ...base });

const KnownAriEvent = z.discriminatedUnion('type', [
  ChannelCreated,
  ChannelStateChange,
  Dial,
  ChannelHangupRequest,
  ChannelDestroyed,
  ChannelVarset,
  StasisStart,
  StasisEnd,
  ApplicationReplaced,
]);

const KNOWN_TYPES: ReadonlySet<string> = new Set(
  KnownAriEvent.options.map((option) => option.shape.type.value),
);

/** Every other event type (ChannelDialplan, DeviceStateChanged, Playback…) passes through unread. */
export const OtherAriEvent = z.looseObject({
  type: z.string().refine((type) => !KNOWN_TYPES.has(type), 'a known event type failed its own schema'),
});

export const AriEvent = z.union([KnownAriEvent, OtherAriEvent]);
export type AriEvent = z.infer<typeof AriEvent>;
export type KnownAriEvent = z.infer<typeof KnownAriEvent>;

export function isKnownAriEvent(event: AriEvent): event is KnownAriEvent {
  return KNOWN_TYPES.has(event.type);
}

/** The channel an event is about (`peer` for Dial), or null. */
export function eventChannel(event: KnownAriEvent): AriChannel | null {
  switch (event.type) {
    case 'Dial':
      return event.peer;
    case 'ApplicationReplaced':
      return null;
    case 'ChannelVarset':
      return event.channel ?? null;
    default:
      return event.channel;
  }
}

/** ARI error bodies: `{"message": …}` mostly, `{"error": …}` for "Allocation failed". */
export const AriErrorBody = z.looseObject({ message: z.string().optional(), error: z.string().optional() });
