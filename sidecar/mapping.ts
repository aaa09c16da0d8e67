import {
  type CallReason,
  type CallStatus,
  type ChannelEventType,
  isTerminal,
  STATUS_RANK as RANK,
} from '../api/shared/contract/index.ts';
import { type AriChannel, eventChannel, type KnownAriEvent } from './ari/schemas.ts';

/**
 * From ARI events to call events, as a pure state machine per call. Nothing here does I/O: the
 * engine persists the returned track and events in one transaction.
 *
 * The facts it rests on (shared/ari-traces/README.md): the originated channel is `;1` and its id
 * is the call id; the `;2` peer is `<id>;2`. `;1` only shows Ringing and Up; the `Dial` event's
 * dialstatus carries the rest. The end is read from the `;1` ChannelDestroyed event itself, never
 * from a channel snapshot. Events may come before the originate reply.
 */

export interface CallTrack {
  status: CallStatus;
  answered: boolean;
  progressed: boolean;
  /** Last non-empty Dial dialstatus. */
  dialStatus: string | null;
  /** A Dial status that ends dialing (ANSWER, BUSY, NOANSWER…) was seen; a timeout has none. */
  finalDial: boolean;
  /** A soft hangup with the shutdown bit reached the call: Asterisk is stopping. */
  shutdown: boolean;
  /** We asked ARI to hang up (DELETE); an end before answer is then ours, not the callee's. */
  hangupRequested: boolean;
  /** STASISSTATUS=FAILED: the app was not registered when the call was answered. */
  stasisFailed: boolean;
  channel: string | null;
  /**
   * The time of the call's `dialing` event: what the originate reply reports as dialed_at, so the
   * API records the same time whichever of the two reaches it first. Absent in tracks stored
   * before it was kept.
   */
  dialedAt?: string | null;
}

export interface MappedEvent {
  type: ChannelEventType;
  status: CallStatus;
  occurred_at: string;
  reason: string | null;
  hangup_cause: number | null;
  hangup_cause_txt: string | null;
  dial_status: string | null;
  channel: string | null;
}

export interface Step {
  track: CallTrack;
  events: MappedEvent[];
}

/** Dial statuses after which the Dial is over (RINGING and PROGRESS are not). */
const FINAL_DIAL = new Set([
  'ANSWER',
  'BUSY',
  'CONGESTION',
  'NOANSWER',
  'CANCEL',
  'CHANUNAVAIL',
  'DONTCALL',
  'TORTURE',
]);

/** AST_SOFTHANGUP_SHUTDOWN in the soft-hangup bitmask of ChannelHangupRequest. */
const SOFT_SHUTDOWN = 4;

const CONGESTION_CAUSES = new Set([27, 34, 38, 41, 42]);
const INVALID_NUMBER_CAUSES = new Set([1, 3, 22, 28]);

export function newTrack(): CallTrack {
  return {
    status: 'pending',
    answered: false,
    progressed: false,
    dialStatus: null,
    finalDial: false,
    shutdown: false,
    hangupRequested: false,
    stasisFailed: false,
    channel: null,
    dialedAt: null,
  };
}

/** The call id a channel id belongs to: `<id>` and `<id>;2` both belong to call `<id>`. */
export function callIdOfChannel(channelId: string): string {
  const cut = channelId.indexOf(';');
  return cut === -1 ? channelId : channelId.slice(0, cut);
}

/** ARI writes `+0000`; the channel schema wants an RFC 3339 offset. */
export function normalizeTimestamp(value: string | undefined, fallback: string): string {
  if (!value) return fallback;
  const date = new Date(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(date.getTime()) ? fallback : date.toISOString();
}

interface Emit {
  type: ChannelEventType;
  status: CallStatus;
  reason?: string | null;
  hangup_cause?: number | null;
  hangup_cause_txt?: string | null;
}

function event(track: CallTrack, at: string, emit: Emit): MappedEvent {
  return {
    type: emit.type,
    status: emit.status,
    occurred_at: at,
    reason: emit.reason ?? null,
    hangup_cause: emit.hangup_cause ?? null,
    hangup_cause_txt: emit.hangup_cause_txt ?? null,
    dial_status: track.dialStatus,
    channel: track.channel,
  };
}

/** Moves the status forward only; returns the events that the move produces. */
function advance(
  track: CallTrack,
  to: 'dialing' | 'ringing' | 'answered',
  at: string,
  out: MappedEvent[],
): void {
  if (isTerminal(track.status)) return;
  if (to !== 'dialing' && RANK[track.status] < RANK.dialing) advance(track, 'dialing', at, out);
  if (RANK[track.status] >= RANK[to]) return;
  track.status = to;
  if (to === 'dialing') track.dialedAt = at;
  out.push(event(track, at, { type: to, status: to }));
}

/** The final status and reason of a call whose `;1` channel was destroyed with `cause`. */
export function classifyEnd(track: CallTrack, cause: number): { status: CallStatus; reason: CallReason } {
  const dial = track.dialStatus;
  if (track.answered) {
    if (track.shutdown) return { status: 'completed', reason: 'pbx_shutdown' };
    // Cause 0 after answer: what ran after the answer did not exist (no such app, extension or
    // context), so the callee heard nothing.
    if (cause === 0) return { status: 'failed', reason: 'pbx_routing' };
    return { status: 'completed', reason: track.hangupRequested ? 'hangup_requested' : 'normal' };
  }
  if (track.hangupRequested) return { status: 'canceled', reason: 'hangup_requested' };
  if (track.shutdown) return { status: 'failed', reason: 'pbx_shutdown' };
  if (dial === 'BUSY' || cause === 17) return { status: 'busy', reason: 'busy' };
  if (cause === 21) return { status: 'busy', reason: 'rejected' };
  if (dial === 'CONGESTION' || dial === 'CHANUNAVAIL' || CONGESTION_CAUSES.has(cause)) {
    return { status: 'failed', reason: 'congestion' };
  }
  if (INVALID_NUMBER_CAUSES.has(cause)) return { status: 'failed', reason: 'invalid_number' };
  // The originate timeout destroys `;1` with 19 and sends no final Dial event.
  if (cause === 19 && !track.finalDial) return { status: 'no_answer', reason: 'timeout' };
  if ((cause === 18 || cause === 19) && dial === 'NOANSWER')
    return { status: 'no_answer', reason: 'no_answer' };
  if (cause === 0 && dial === null) return { status: 'failed', reason: 'pbx_routing' };
  return { status: 'failed', reason: 'unknown' };
}

function end(
  track: CallTrack,
  at: string,
  out: MappedEvent[],
  outcome: { status: CallStatus; reason: string },
  cause: number | null,
  causeTxt: string | null,
): void {
  if (isTerminal(track.status)) return;
  track.status = outcome.status;
  out.push(
    event(track, at, {
      type: 'ended',
      status: outcome.status,
      reason: outcome.reason,
      hangup_cause: cause,
      hangup_cause_txt: causeTxt,
    }),
  );
}

/**
 * Applies one ARI event about call `callId` (either leg). `receivedAt` stands in when the event
 * has no usable timestamp.
 */
export function onAriEvent(
  previous: CallTrack,
  ari: KnownAriEvent,
  callId: string,
  receivedAt: string,
): Step {
  const track = { ...previous };
  const events: MappedEvent[] = [];
  if (isTerminal(track.status)) return { track, events };
  const at = normalizeTimestamp(ari.timestamp, receivedAt);
  const channel = eventChannel(ari);
  if (!channel) return { track, events };
  const own = channel.id === callId;
  if (own) track.channel = channel.name;
  // Any event about one of the call's channels proves ARI created it, reply or not.
  advance(track, 'dialing', at, events);

  switch (ari.type) {
    case 'ChannelStateChange':
      if (own && ari.channel.state === 'Ringing') advance(track, 'ringing', at, events);
      if (own && ari.channel.state === 'Up') {
        track.answered = true;
        advance(track, 'answered', at, events);
      }
      break;
    case 'Dial': {
      if (!own) break;
      const status = ari.dialstatus.toUpperCase();
      if (status !== '') track.dialStatus = status;
      if (FINAL_DIAL.has(status)) track.finalDial = true;
      if (status === 'RINGING') advance(track, 'ringing', at, events);
      if (status === 'PROGRESS' && !track.progressed && RANK[track.status] <= RANK.ringing) {
        track.progressed = true;
        track.status = 'ringing';
        events.push(event(track, at, { type: 'progress', status: 'ringing' }));
      }
      if (status === 'ANSWER') {
        track.answered = true;
        advance(track, 'answered', at, events);
      }
      break;
    }
    case 'StasisStart':
      // StasisStart only ever comes after answer.
      if (own) {
        track.answered = true;
        advance(track, 'answered', at, events);
      }
      break;
    case 'ChannelHangupRequest':
      if (ari.soft === true && ari.cause !== undefined && (ari.cause & SOFT_SHUTDOWN) !== 0)
        track.shutdown = true;
      break;
    case 'ChannelVarset':
      if (own && ari.variable === 'STASISSTATUS' && ari.value === 'FAILED') track.stasisFailed = true;
      break;
    case 'ChannelDestroyed':
      if (own) end(track, at, events, classifyEnd(track, ari.cause), ari.cause, ari.cause_txt);
      break;
    default:
      break;
  }
  return { track, events };
}

/** ARI answered the originate (200, or a 409 whose channel we then read). */
export function onAccepted(previous: CallTrack, channelName: string | null, at: string): Step {
  const track = { ...previous };
  const events: MappedEvent[] = [];
  if (channelName && !track.channel) track.channel = channelName;
  advance(track, 'dialing', at, events);
  return { track, events };
}

/** A channel snapshot (GET) of a call we had no events for: catch the status up with it. */
export function onSnapshot(previous: CallTrack, channel: AriChannel, at: string): Step {
  const step = onAccepted(previous, channel.name, at);
  const { track, events } = step;
  if (channel.state === 'Ringing' || channel.state === 'Ring') advance(track, 'ringing', at, events);
  if (channel.state === 'Up') {
    track.answered = true;
    advance(track, 'answered', at, events);
  }
  return step;
}

export function onHangupRequested(previous: CallTrack): CallTrack {
  return { ...previous, hangupRequested: true };
}

/** Reconciliation found the channel gone and no ChannelDestroyed ever came. */
export function onLost(previous: CallTrack, at: string): Step {
  const track = { ...previous };
  const events: MappedEvent[] = [];
  end(track, at, events, { status: 'failed', reason: 'lost' }, null, null);
  return { track, events };
}

/** A call that never rang: refused by ARI after it left the queue, or canceled while queued. */
export function onNeverDialed(
  previous: CallTrack,
  outcome: { status: CallStatus; reason: string },
  at: string,
): Step {
  const track = { ...previous };
  const events: MappedEvent[] = [];
  end(track, at, events, outcome, null, null);
  return { track, events };
}
