/**
 * JSON shapes of the ARI objects and events the simulator sends. Key order follows the
 * recordings in shared/ari-traces, because some clients (and our replay test) compare raw JSON.
 */

export type ChannelStateName = 'Down' | 'Ring' | 'Ringing' | 'Up' | 'Busy';

export interface CallerIdJson {
  name: string;
  number: string;
}

export interface DialplanJson {
  context: string;
  exten: string;
  priority: number;
  app_name: string;
  app_data: string;
}

export interface ChannelJson {
  id: string;
  name: string;
  state: ChannelStateName;
  protocol_id: string;
  caller: CallerIdJson;
  connected: CallerIdJson;
  accountcode: string;
  dialplan: DialplanJson;
  creationtime: string;
  language: string;
  /** Variables set with report_events (59-ivr-channel-variables). */
  channelvars?: Record<string, string>;
}

/** The mutable part of a channel that its snapshot is made from. */
export interface ChannelView {
  id: string;
  name: string;
  state: ChannelStateName;
  caller: CallerIdJson;
  connected: CallerIdJson;
  dialplan: DialplanJson;
  creationtime: string;
  readonly channelvars?: Record<string, string> | undefined;
}

export const snapshot = (ch: ChannelView): ChannelJson => {
  const json: ChannelJson = {
    id: ch.id,
    name: ch.name,
    state: ch.state,
    protocol_id: '',
    caller: { name: ch.caller.name, number: ch.caller.number },
    connected: { name: ch.connected.name, number: ch.connected.number },
    accountcode: '',
    dialplan: { ...ch.dialplan },
    creationtime: ch.creationtime,
    language: 'en',
  };
  const vars = ch.channelvars;
  if (vars) json.channelvars = vars;
  return json;
};

/** Asterisk prints times in local time with a numeric offset; the simulator always uses UTC. */
export const asteriskTime = (ms: number = Date.now()): string => {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 23)}+0000`;
};

/** Text of ast_cause2str() for the Q.850 causes Asterisk knows (main/channel.c). */
const CAUSE_TEXT: Record<number, string> = {
  0: 'Unknown',
  1: 'Unallocated (unassigned) number',
  2: 'No route to specified transmit network',
  3: 'No route to destination',
  5: 'Misdialed trunk prefix',
  6: 'Channel unacceptable',
  7: 'Call awarded and being delivered in an established channel',
  8: 'Pre-empted',
  14: 'Number ported elsewhere',
  16: 'Normal Clearing',
  17: 'User busy',
  18: 'No user responding',
  19: 'User alerting, no answer',
  20: 'Subscriber absent',
  21: 'Call Rejected',
  22: 'Number changed',
  23: 'Redirected to new destination',
  26: 'Answered elsewhere',
  27: 'Destination out of order',
  28: 'Invalid number format',
  29: 'Facility rejected',
  30: 'Response to STATus ENQuiry',
  31: 'Normal, unspecified',
  34: 'Circuit/channel congestion',
  38: 'Network out of order',
  41: 'Temporary failure',
  42: 'Switching equipment congestion',
  43: 'Access information discarded',
  44: 'Requested channel not available',
  50: 'Facility not subscribed',
  52: 'Outgoing call barred',
  54: 'Incoming call barred',
  57: 'Bearer capability not authorized',
  58: 'Bearer capability not available',
  65: 'Bearer capability not implemented',
  66: 'Channel not implemented',
  69: 'Facility not implemented',
  81: 'Invalid call reference value',
  88: 'Incompatible destination',
  95: 'Invalid message unspecified',
  96: 'Mandatory information element is missing',
  97: 'Message type nonexist.',
  98: 'Wrong message',
  99: 'Info. element nonexist or not implemented',
  100: 'Invalid information element contents',
  101: 'Message not compatible with call state',
  102: 'Recover on timer expiry',
  103: 'Mandatory IE length error',
  111: 'Protocol error, unspecified',
  127: 'Interworking, unspecified',
};

export const causeText = (cause: number): string => CAUSE_TEXT[cause] ?? 'Unknown';

/**
 * The dial status the Dial API (main/dial.c) reports when the callee hangs up before answer:
 * only busy and congestion keep their meaning, everything else reads as "no answer".
 */
export const dialStatusForCause = (cause: number): string => {
  if (cause === 17) return 'BUSY';
  if (cause === 34) return 'CONGESTION';
  if (cause === 3 || cause === 20) return 'CHANUNAVAIL';
  return 'NOANSWER';
};

/** Names accepted by DELETE /channels/{id}?reason= (convert_reason_to_hangup_code). */
export const HANGUP_REASONS: Record<string, number> = {
  normal: 16,
  busy: 17,
  congestion: 34,
  no_answer: 19,
  timeout: 18,
  rejected: 21,
  unallocated: 1,
  normal_unspecified: 31,
  number_incomplete: 28,
  codec_mismatch: 58,
  interworking: 127,
  failure: 38,
  answered_elsewhere: 26,
};

/** Soft hangup flags (AST_SOFTHANGUP_*) that ChannelHangupRequest reports with soft:true. */
export const SOFT = {
  shutdown: 4,
  endOfDialplan: 16,
  explicit: 32,
} as const;

interface EventBase {
  timestamp: string;
  asteriskId: string;
}

/** Builds the JSON of one event for one application; `application` sits where Asterisk puts it. */
export type EventBuilder = (app: string) => Record<string, unknown>;

/** Channel events: some carry fields before `type` (ChannelHangupRequest, ChannelVarset). */
const withChannel =
  (
    lead: Record<string, unknown>,
    type: string,
    ch: ChannelJson,
    base: EventBase,
    fields: Record<string, unknown> = {},
  ): EventBuilder =>
  (app) => ({
    ...lead,
    type,
    timestamp: base.timestamp,
    ...fields,
    channel: ch,
    asterisk_id: base.asteriskId,
    application: app,
  });

export const channelEvent = (
  type: string,
  ch: ChannelJson,
  base: EventBase,
  fields: Record<string, unknown> = {},
): EventBuilder => withChannel({}, type, ch, base, fields);

export const hangupRequestEvent = (
  ch: ChannelJson,
  base: EventBase,
  cause: number,
  soft: boolean,
): EventBuilder => withChannel(soft ? { cause, soft: true } : { cause }, 'ChannelHangupRequest', ch, base);

export const varsetEvent = (
  ch: ChannelJson,
  base: EventBase,
  variable: string,
  value: string,
): EventBuilder => withChannel({ variable, value }, 'ChannelVarset', ch, base);

export const dialEvent =
  (peer: ChannelJson, base: EventBase, dialstatus: string, dialstring: string): EventBuilder =>
  (app) => ({
    type: 'Dial',
    timestamp: base.timestamp,
    dialstatus,
    forward: '',
    dialstring,
    peer,
    asterisk_id: base.asteriskId,
    application: app,
  });

export const deviceStateEvent =
  (base: EventBase, name: string, state: string): EventBuilder =>
  (app) => ({
    type: 'DeviceStateChanged',
    application: app,
    timestamp: base.timestamp,
    device_state: { name, state },
    asterisk_id: base.asteriskId,
  });

export const applicationReplacedEvent =
  (base: EventBase): EventBuilder =>
  (app) => ({
    type: 'ApplicationReplaced',
    timestamp: base.timestamp,
    application: app,
    asterisk_id: base.asteriskId,
  });

export interface PlaybackJson {
  id: string;
  media_uri: string;
  next_media_uri?: string;
  target_uri: string;
  language: string;
  state: string;
}

/** Events that carry an object instead of a channel: Playback*, Recording*, Bridge*. */
const objectEvent =
  (type: string, key: string, value: unknown, base: EventBase): EventBuilder =>
  (app) => ({
    type,
    timestamp: base.timestamp,
    [key]: value,
    asterisk_id: base.asteriskId,
    application: app,
  });

export const playbackEvent = (
  type: 'PlaybackStarted' | 'PlaybackContinuing' | 'PlaybackFinished',
  playback: PlaybackJson,
  base: EventBase,
): EventBuilder => objectEvent(type, 'playback', { ...playback }, base);

/** LiveRecording: `{name, format, state, target_uri}`, then `duration`… or `cause` (49-*). */
export type RecordingJson = Record<string, unknown>;

export const recordingEvent = (
  type: 'RecordingStarted' | 'RecordingFinished' | 'RecordingFailed',
  recording: RecordingJson,
  base: EventBase,
): EventBuilder => objectEvent(type, 'recording', { ...recording }, base);

export interface BridgeJson {
  id: string;
  technology: string;
  bridge_type: string;
  bridge_class: string;
  creator: string;
  name: string;
  channels: string[];
  creationtime: string;
  video_mode: string;
}

export const bridgeEvent = (
  type: 'BridgeCreated' | 'BridgeDestroyed',
  bridge: BridgeJson,
  base: EventBase,
): EventBuilder => objectEvent(type, 'bridge', { ...bridge, channels: [...bridge.channels] }, base);

/** GET /applications entries: a subscribeAll app is subscribed to the "all" topics. */
export const applicationJson = (name: string, subscribeAll: boolean, channelIds: string[]) => ({
  name,
  channel_ids: subscribeAll ? ['__AST_CHANNEL_ALL_TOPIC'] : channelIds,
  bridge_ids: subscribeAll ? ['__AST_BRIDGE_ALL_TOPIC'] : [],
  endpoint_ids: subscribeAll ? ['__AST_ENDPOINT_ALL_TOPIC'] : [],
  device_names: subscribeAll ? ['__AST_DEVICE_STATE_ALL_TOPIC'] : [],
  events_allowed: [],
  events_disallowed: [],
});
