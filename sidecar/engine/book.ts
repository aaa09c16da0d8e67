import type { OriginateReply } from '../../api/shared/contract/index.ts';
import { isTerminal, type UnavailableReason } from '../../api/shared/contract/index.ts';
import type { AriChannel } from '../ari/schemas.ts';
import { type CallTrack, type MappedEvent, onSnapshot } from '../mapping.ts';
import type { CallRow, EventToWrite } from '../store.ts';
import type { EngineOptions } from './options.ts';

/**
 * The calls the engine follows, in memory and in the store alike: every change of a call is
 * committed to the store together with the call events it produces, before anything is sent.
 * The other parts of the engine (dialing, pacing, reconciliation) change calls only through it.
 */
export class CallBook {
  /** Calls not finished: queued, originating, live. The store holds the same rows. */
  readonly active = new Map<string, CallRow>();
  /** The pacing queue, in order. */
  readonly queue: CallRow[] = [];
  /** Originates this process has in flight (their calls must not be reconciled yet). */
  readonly dialing = new Map<string, Promise<OriginateReply>>();
  /** Set once the sidecar stops: no call starts after. */
  stopped = false;
  /** A call ended, so a place is free (the pacing queue starts the next). */
  onFreed: () => void = () => {};

  constructor(private readonly o: EngineOptions) {
    for (const row of o.store.activeCalls()) {
      this.active.set(row.callId, row);
      if (row.state === 'queued') this.queue.push(row);
    }
    this.queue.sort((a, b) => (a.queueSeq ?? 0) - (b.queueSeq ?? 0));
    const recovered = this.active.size;
    if (recovered > 0) {
      o.log.info('recovered calls from the outbox database', {
        queued: this.queue.length,
        originating: [...this.active.values()].filter((c) => c.state === 'originating').length,
        live: [...this.active.values()].filter((c) => c.state === 'live').length,
      });
    }
  }

  /** Calls that hold a channel (or are about to): what MAX_CONCURRENT_CALLS bounds. */
  liveCount(): number {
    return this.active.size - this.queue.length;
  }

  /** `call` is still the row followed for its id (not ended or replaced meanwhile). */
  isCurrent(call: CallRow): boolean {
    return this.active.get(call.callId) === call;
  }

  removeFromQueue(call: CallRow): void {
    const index = this.queue.indexOf(call);
    if (index !== -1) this.queue.splice(index, 1);
    call.queueSeq = null;
  }

  /** The reply to an originate for a call already known (a repeated command). */
  replyForKnown(call: CallRow): OriginateReply {
    if (call.state === 'queued') {
      const position = this.queue.indexOf(this.active.get(call.callId) ?? call) + 1;
      return { outcome: 'queued', call_id: call.callId, position: Math.max(1, position) };
    }
    if (call.state === 'finished' || isTerminal(call.track.status)) {
      return { outcome: 'finished', call_id: call.callId, status: call.track.status };
    }
    return dialingReply(call, call.track.channel);
  }

  /** A channel found at ARI for a call we had not confirmed (restart, 409): follow it from its snapshot. */
  adopt(call: CallRow, channel: AriChannel): void {
    call.accepted = true;
    if (call.state === 'originating') call.state = 'live';
    const step = onSnapshot(call.track, channel, new Date().toISOString());
    this.apply(call, step.track, step.events);
    this.o.log.info('adopted a live channel', { call_id: call.callId, state: channel.state });
  }

  /** Applies a new track and its events: one transaction, then bookkeeping. */
  apply(call: CallRow, track: CallTrack, events: MappedEvent[], observedAt = Date.now()): void {
    call.track = track;
    const finished = isTerminal(track.status);
    if (finished) {
      call.state = 'finished';
      this.removeFromQueue(call);
    }
    this.commit(call, events, observedAt);
    if (finished && this.isCurrent(call)) {
      this.active.delete(call.callId);
      const end = events.find((e) => e.type === 'ended');
      this.o.log.info('call ended', {
        call_id: call.callId,
        status: track.status,
        reason: end?.reason ?? null,
        hangup_cause: end?.hangup_cause ?? null,
        dial_status: end?.dial_status ?? null,
      });
      this.onFreed();
    }
  }

  commit(call: CallRow, events: EventToWrite[], observedAt = Date.now()): void {
    if (call.state !== 'finished') this.active.set(call.callId, call);
    this.o.store.commit(call, events, observedAt);
    if (events.length > 0) this.o.onEvents();
  }

  /** Drops a call the API will never hear events of (its originate was answered with a refusal). */
  forget(callId: string): void {
    this.active.delete(callId);
    this.o.store.forget(callId);
  }
}

/** The mapper has seen at least one ARI event for the call. */
export function hasEvidence(track: CallTrack): boolean {
  return track.status !== 'pending';
}

/**
 * A `dialing` reply, with the time of the call's `dialing` event (the one its events carry to the
 * API too); `fallbackAt` when the track has none (stored before it was kept).
 */
export function dialingReply(call: CallRow, channel: string | null, fallbackAt?: number): OriginateReply {
  const dialedAt =
    call.track.dialedAt ?? (fallbackAt === undefined ? null : new Date(fallbackAt).toISOString());
  return { outcome: 'dialing', call_id: call.callId, channel, ...(dialedAt ? { dialed_at: dialedAt } : {}) };
}

export function unavailable(callId: string, reason: UnavailableReason, retryAfterS: number): OriginateReply {
  return {
    outcome: 'unavailable',
    call_id: callId,
    reason,
    retry_after_s: Math.max(1, Math.ceil(retryAfterS)),
  };
}
