import {
  type HangupReply,
  isTerminal,
  type OriginateCommand,
  type OriginateReply,
} from '../api/shared/contract/index.ts';
import { type AriEvent, eventChannel, isKnownAriEvent } from './ari/schemas.ts';
import { CallBook, hasEvidence, unavailable } from './engine/book.ts';
import { Dialer } from './engine/dial.ts';
import { type AriPort, type EngineOptions, sleep } from './engine/options.ts';
import { QueuePump } from './engine/pump.ts';
import { Reconciler } from './engine/reconcile.ts';
import { isAriError } from './errors.ts';
import { FlowAri } from './flow/ari.ts';
import { AMD_CONTEXT } from './flow/dialplan.ts';
import { Flows } from './flow/flows.ts';
import {
  type CallTrack,
  callIdOfChannel,
  newTrack,
  onAriEvent,
  onHangupRequested,
  onNeverDialed,
} from './mapping.ts';
import type { CallRow } from './store.ts';

export type { AriPort, EngineOptions };

/** How long a hang-up for a call not seen yet keeps its originate from ringing. */
const HANGUP_BEFORE_ORIGINATE_MS = 10 * 60_000;

/**
 * Calls from command to end: pacing queue, originate with retries and 409 handling, ARI events
 * through the mapper, hang-up intents and reconciliation. Every change of a call is committed
 * to the store together with the call events it produces, before anything is sent. The parts
 * live in ./engine/: the calls followed and their commits (book), originating (dial), the pacing
 * queue (pump) and reconciliation with ARI's channels (reconcile); this class takes the commands
 * and the events and hands them on.
 */
export class CallEngine {
  private readonly o: EngineOptions;
  private readonly book: CallBook;
  private readonly dialer: Dialer;
  private readonly queue: QueuePump;
  private readonly reconciler: Reconciler;
  private readonly flows: Flows;

  constructor(options: EngineOptions) {
    this.o = options;
    this.book = new CallBook(options);
    const { tuning } = options;
    this.flows = new Flows({
      ari: new FlowAri(options.ari),
      requester:
        options.flowRequester ?? (async () => ({ outcome: 'error', detail: 'no API to run the request' })),
      limits: {
        maxStepsRun: tuning.flowMaxStepsRun,
        maxMs: tuning.flowMaxMs,
        playbackTimeoutMs: tuning.flowPlaybackTimeoutMs,
        recordMarginMs: tuning.flowRecordMarginMs,
        amdMarginMs: tuning.flowAmdMarginMs,
      },
      amdContext: AMD_CONTEXT,
      ariApp: options.config.ariApp,
      commit: (call, events) => this.book.commit(call, events),
      log: options.log.child({ component: 'flow' }),
    });
    this.reconciler = new Reconciler(options, this.book, this.flows);
    this.dialer = new Dialer(options, this.book, () => this.pump());
    this.queue = new QueuePump(options, this.book, (call, origin) => this.dialer.startDial(call, origin));
    this.book.onFreed = () => this.pump();
  }

  /** Calls that hold a channel (or are about to): what MAX_CONCURRENT_CALLS bounds. */
  liveCount(): number {
    return this.book.liveCount();
  }

  queuedCount(): number {
    return this.book.queue.length;
  }

  // ───────────────────────── commands ─────────────────────────

  async originate(command: OriginateCommand): Promise<OriginateReply> {
    const { book } = this;
    const callId = command.call_id;
    const known = book.active.get(callId) ?? this.o.store.getCall(callId);
    if (known) return book.replyForKnown(known);
    if (this.o.store.wasHungUpBeforeOriginate(callId, Date.now())) {
      this.o.log.info('originate refused: the call was hung up before it arrived', { call_id: callId });
      return { outcome: 'finished', call_id: callId, status: 'canceled' };
    }
    if (book.stopped) return unavailable(callId, 'shutting_down', 5);

    if (this.o.ari.breakerState() === 'open') {
      this.o.metrics.originates.inc({ outcome: 'unavailable' });
      return unavailable(callId, 'breaker_open', this.o.ari.retryAfterS() ?? 1);
    }

    const now = Date.now();
    const call: CallRow = {
      callId,
      state: 'queued',
      accepted: false,
      seq: 0,
      track: newTrack(),
      command,
      queueSeq: null,
      flow: null,
      createdAt: now,
      updatedAt: now,
    };
    const canDialNow =
      book.queue.length === 0 &&
      this.o.eventsConnected() &&
      book.liveCount() < this.o.config.maxConcurrentCalls &&
      this.o.limiter.tryAcquire();
    if (canDialNow) {
      call.state = 'originating';
      book.commit(call, []);
      return this.dialer.startDial(call, 'command');
    }
    if (book.queue.length >= this.o.config.queueMax) {
      this.o.metrics.originates.inc({ outcome: 'queue_full' });
      return unavailable(
        callId,
        'queue_full',
        Math.max(1, Math.ceil(book.queue.length / this.o.config.originateCps)),
      );
    }
    call.queueSeq = this.o.store.nextQueueSeq();
    book.commit(call, []);
    book.queue.push(call);
    this.o.metrics.originates.inc({ outcome: 'queued' });
    this.o.log.info('call queued', { call_id: callId, position: book.queue.length });
    this.pump();
    return { outcome: 'queued', call_id: callId, position: book.queue.length };
  }

  /**
   * An originate this sidecar pulled from the API (a campaign's lease): the same path as a command,
   * but nobody reads the reply, so a refusal must reach the API as the call's end (failed, with why).
   */
  async originatePulled(command: OriginateCommand): Promise<OriginateReply> {
    const reply = await this.originate(command);
    if (reply.outcome !== 'rejected' && reply.outcome !== 'unavailable') return reply;
    if (this.book.active.has(command.call_id) || this.o.store.getCall(command.call_id)) return reply;
    const now = Date.now();
    const call: CallRow = {
      callId: command.call_id,
      state: 'queued',
      accepted: false,
      seq: 0,
      track: newTrack(),
      command,
      queueSeq: null,
      flow: null,
      createdAt: now,
      updatedAt: now,
    };
    const reason = reply.outcome === 'rejected' ? reply.reason : 'pbx_unreachable';
    const step = onNeverDialed(call.track, { status: 'failed', reason }, new Date(now).toISOString());
    this.book.apply(call, step.track, step.events);
    return reply;
  }

  async hangup(callId: string): Promise<HangupReply> {
    const call = this.book.active.get(callId);
    if (!call) {
      if (!this.o.store.getCall(callId)) {
        this.o.store.rememberHangupBeforeOriginate(callId, Date.now() + HANGUP_BEFORE_ORIGINATE_MS);
      }
      return { call_id: callId, outcome: 'not_found' };
    }
    if (call.state === 'queued') {
      this.book.removeFromQueue(call);
      const step = onNeverDialed(
        onHangupRequested(call.track),
        { status: 'canceled', reason: 'hangup_requested' },
        new Date().toISOString(),
      );
      this.book.apply(call, step.track, step.events);
      this.o.log.info('queued call canceled', { call_id: callId });
      return { call_id: callId, outcome: 'canceled' };
    }
    // The intent is durable before ARI is asked (its events may come before the DELETE's
    // reply): an end before answer is then ours.
    call.track = onHangupRequested(call.track);
    this.book.commit(call, []);
    if (call.state === 'originating' && !call.accepted && !hasEvidence(call.track)) {
      // Nothing to delete yet; the originate reply sends the DELETE (see Dialer.accepted).
      return { call_id: callId, outcome: 'hanging_up' };
    }
    let result: 'hung_up' | 'gone';
    try {
      result = await this.o.ari.hangup(callId);
    } catch (error) {
      // Never sent (breaker open) or refused: whatever ends the call now, it is not us.
      if (
        isAriError(error) &&
        (error.kind === 'breaker_open' || (error.status !== null && error.status < 500))
      ) {
        this.withdrawIntent(call);
      }
      throw error;
    }
    // 404: the channel was already gone, so our DELETE ended nothing.
    if (result === 'gone') this.withdrawIntent(call);
    this.o.log.info('hangup requested', { call_id: callId, ari: result });
    return { call_id: callId, outcome: 'hanging_up' };
  }

  private withdrawIntent(call: CallRow): void {
    if (!this.book.isCurrent(call) || isTerminal(call.track.status)) return;
    call.track = { ...call.track, hangupRequested: false };
    this.book.commit(call, []);
  }

  // ───────────────────────── ARI events ─────────────────────────

  /**
   * A flow sees its call's events too: a hang-up before the channel's own end is written (so the
   * flow's end comes first in the call's log), StasisStart after the call is answered.
   */
  handleAriEvent(event: AriEvent, receivedAt: number): void {
    this.o.metrics.ariEvents.inc({ type: event.type });
    const flowEvent = this.flows.read(event);
    const flowCall = flowEvent ? this.book.active.get(flowEvent.channelId) : undefined;
    const startsFlow = flowEvent?.event.type === 'StasisStart';
    if (flowEvent && flowCall && !startsFlow) this.flows.deliver(flowCall, flowEvent.event);
    this.applyChannelEvent(event, receivedAt);
    if (flowEvent && flowCall && startsFlow) this.flows.deliver(flowCall, flowEvent.event);
  }

  /** Flows running in this process. */
  flowCount(): number {
    return this.flows.count();
  }

  private applyChannelEvent(event: AriEvent, receivedAt: number): void {
    if (!isKnownAriEvent(event)) return;
    if (event.type === 'ApplicationReplaced') {
      this.o.log.error('another client registered our ARI app; this socket gets no more events', {
        app: this.o.config.ariApp,
      });
      return;
    }
    const channel = eventChannel(event);
    if (!channel) return;
    const callId = callIdOfChannel(channel.id);
    const call = this.book.active.get(callId);
    if (!call || call.state === 'queued') return;
    const step = onAriEvent(call.track, event, callId, new Date(receivedAt).toISOString());
    if (step.events.length === 0 && sameTrack(call.track, step.track)) return;
    this.book.apply(call, step.track, step.events, receivedAt);
  }

  // ───────────────────────── reconciliation and pacing ─────────────────────────

  /** See Reconciler. */
  reconcile(reason: string): Promise<void> {
    return this.reconciler.reconcile(reason);
  }

  /** See Reconciler.resync: retried until it succeeds or `signal` aborts. */
  resync(reason: string, signal: AbortSignal): Promise<void> {
    return this.reconciler.resync(reason, signal);
  }

  /** Starts queued calls while there is capacity, ARI is usable and the events socket is open. */
  pump(): void {
    this.queue.pump();
  }

  // ───────────────────────── lifecycle ─────────────────────────

  /**
   * Stops starting calls; waits (bounded) for originates already in flight to get their answer;
   * parks the flows (they are interrupted by the next start's reconciliation).
   */
  async stop(timeoutMs: number): Promise<void> {
    this.book.stopped = true;
    const inFlight = [...this.book.dialing.values()];
    if (inFlight.length > 0) {
      await Promise.race([Promise.allSettled(inFlight), sleep(timeoutMs)]);
    }
    await Promise.race([this.reconciler.running() ?? Promise.resolve(), sleep(Math.min(timeoutMs, 1000))]);
    this.flows.park();
  }
}

function sameTrack(a: CallTrack, b: CallTrack): boolean {
  return (
    a.status === b.status &&
    a.answered === b.answered &&
    a.progressed === b.progressed &&
    a.dialStatus === b.dialStatus &&
    a.finalDial === b.finalDial &&
    a.shutdown === b.shutdown &&
    a.hangupRequested === b.hangupRequested &&
    a.stasisFailed === b.stasisFailed &&
    a.channel === b.channel
  );
}
