import { ExponentialBackoff, handleAll, type RetryPolicy, retry } from 'cockatiel';
import {
  channelVariableName,
  type HangupReply,
  isTerminal,
  type OriginateCommand,
  type OriginateReply,
  type UnavailableReason,
} from '../api/shared/contract/index.ts';
import type { AriClient, OriginateRequest } from './ari/http.ts';
import { isAllocationFailedError } from './ari/http.ts';
import { type AriChannel, type AriEvent, eventChannel, isKnownAriEvent } from './ari/schemas.ts';
import type { SidecarConfig, Tuning } from './config.ts';
import { AriError, describeError, isAriError } from './errors.ts';
import type { Logger } from './log.ts';
import {
  type CallTrack,
  callIdOfChannel,
  type MappedEvent,
  newTrack,
  onAccepted,
  onAriEvent,
  onHangupRequested,
  onLost,
  onNeverDialed,
  onSnapshot,
} from './mapping.ts';
import type { Metrics } from './metrics.ts';
import type { RateLimiter } from './pacing.ts';
import type { CallRow, Store } from './store.ts';

/** What the engine needs of ARI (an AriClient; a fake in unit tests). */
export type AriPort = Pick<
  AriClient,
  'originate' | 'getChannel' | 'listChannels' | 'hangup' | 'breakerState' | 'retryAfterS'
>;

export interface EngineOptions {
  config: SidecarConfig;
  tuning: Tuning;
  store: Store;
  ari: AriPort;
  limiter: RateLimiter;
  metrics: Metrics;
  log: Logger;
  /** Whether the events socket is open: without it, a call's events would be lost. */
  eventsConnected: () => boolean;
  /** New rows are in the outbox. */
  onEvents: () => void;
}

/**
 * Calls from command to end: pacing queue, originate with retries and 409 handling, ARI events
 * through the mapper, hang-up intents and reconciliation. Every change of a call is committed
 * to the store together with the call events it produces, before anything is sent.
 */
/** How long a hang-up for a call not seen yet keeps its originate from ringing. */
const HANGUP_BEFORE_ORIGINATE_MS = 10 * 60_000;

export class CallEngine {
  private readonly o: EngineOptions;
  /** Calls not finished: queued, originating, live. The store holds the same rows. */
  private readonly active = new Map<string, CallRow>();
  /** The pacing queue, in order. */
  private readonly queue: CallRow[] = [];
  /** Originates this process has in flight (their calls must not be reconciled yet). */
  private readonly dialing = new Map<string, Promise<OriginateReply>>();
  private pumpRunning = false;
  private pumpAgain = false;
  private reconciling: Promise<void> | null = null;
  /** One run queued behind the current one, shared by everyone who asked meanwhile. */
  private nextReconcile: Promise<void> | null = null;
  private readonly resyncPolicy: RetryPolicy;
  private stopped = false;

  constructor(options: EngineOptions) {
    this.o = options;
    this.resyncPolicy = retry(handleAll, {
      backoff: new ExponentialBackoff({
        initialDelay: options.tuning.resyncInitialDelayMs,
        maxDelay: options.tuning.resyncMaxDelayMs,
      }),
    });
    this.resyncPolicy.onRetry((reason) => {
      options.log.warn('resync failed; trying again', {
        error: 'error' in reason ? describeError(reason.error) : 'result',
        attempt: reason.attempt,
        delay_ms: Math.round(reason.delay),
      });
    });
    for (const row of options.store.activeCalls()) {
      this.active.set(row.callId, row);
      if (row.state === 'queued') this.queue.push(row);
    }
    this.queue.sort((a, b) => (a.queueSeq ?? 0) - (b.queueSeq ?? 0));
    const recovered = this.active.size;
    if (recovered > 0) {
      options.log.info('recovered calls from the outbox database', {
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

  queuedCount(): number {
    return this.queue.length;
  }

  // ───────────────────────── commands ─────────────────────────

  async originate(command: OriginateCommand): Promise<OriginateReply> {
    const callId = command.call_id;
    const known = this.active.get(callId) ?? this.o.store.getCall(callId);
    if (known) return this.replyForKnown(known);
    if (this.o.store.wasHungUpBeforeOriginate(callId, Date.now())) {
      this.o.log.info('originate refused: the call was hung up before it arrived', { call_id: callId });
      return { outcome: 'finished', call_id: callId, status: 'canceled' };
    }
    if (this.stopped) return this.unavailable(callId, 'shutting_down', 5);

    if (this.o.ari.breakerState() === 'open') {
      this.o.metrics.originates.inc({ outcome: 'unavailable' });
      return this.unavailable(callId, 'breaker_open', this.o.ari.retryAfterS() ?? 1);
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
      createdAt: now,
      updatedAt: now,
    };
    const canDialNow =
      this.queue.length === 0 &&
      this.o.eventsConnected() &&
      this.liveCount() < this.o.config.maxConcurrentCalls &&
      this.o.limiter.tryAcquire();
    if (canDialNow) {
      call.state = 'originating';
      this.commit(call, []);
      return this.startDial(call, 'command');
    }
    if (this.queue.length >= this.o.config.queueMax) {
      this.o.metrics.originates.inc({ outcome: 'queue_full' });
      return this.unavailable(
        callId,
        'queue_full',
        Math.max(1, Math.ceil(this.queue.length / this.o.config.originateCps)),
      );
    }
    call.queueSeq = this.o.store.nextQueueSeq();
    this.commit(call, []);
    this.queue.push(call);
    this.o.metrics.originates.inc({ outcome: 'queued' });
    this.o.log.info('call queued', { call_id: callId, position: this.queue.length });
    this.pump();
    return { outcome: 'queued', call_id: callId, position: this.queue.length };
  }

  async hangup(callId: string): Promise<HangupReply> {
    const call = this.active.get(callId);
    if (!call) {
      if (!this.o.store.getCall(callId)) {
        this.o.store.rememberHangupBeforeOriginate(callId, Date.now() + HANGUP_BEFORE_ORIGINATE_MS);
      }
      return { call_id: callId, outcome: 'not_found' };
    }
    if (call.state === 'queued') {
      this.removeFromQueue(call);
      const step = onNeverDialed(
        onHangupRequested(call.track),
        { status: 'canceled', reason: 'hangup_requested' },
        new Date().toISOString(),
      );
      this.apply(call, step.track, step.events);
      this.o.log.info('queued call canceled', { call_id: callId });
      return { call_id: callId, outcome: 'canceled' };
    }
    // The intent is durable before ARI is asked (its events may come before the DELETE's
    // reply): an end before answer is then ours.
    call.track = onHangupRequested(call.track);
    this.commit(call, []);
    if (call.state === 'originating' && !call.accepted && !this.hasEvidence(call.track)) {
      // Nothing to delete yet; the originate reply sends the DELETE (see accepted()).
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
    if (this.active.get(call.callId) !== call || isTerminal(call.track.status)) return;
    call.track = { ...call.track, hangupRequested: false };
    this.commit(call, []);
  }

  // ───────────────────────── ARI events ─────────────────────────

  handleAriEvent(event: AriEvent, receivedAt: number): void {
    this.o.metrics.ariEvents.inc({ type: event.type });
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
    const call = this.active.get(callId);
    if (!call || call.state === 'queued') return;
    const step = onAriEvent(call.track, event, callId, new Date(receivedAt).toISOString());
    if (step.events.length === 0 && sameTrack(call.track, step.track)) return;
    this.apply(call, step.track, step.events, receivedAt);
  }

  // ───────────────────────── reconciliation ─────────────────────────

  /**
   * Compares the calls we follow with ARI's channels. A call whose channel is gone and whose
   * ChannelDestroyed never came ends `failed`/`lost`, after a second look (the destroy event
   * may be a few milliseconds behind the channel list). Calls whose originate reply has not
   * come yet are left alone; ones left `originating` by a previous process are settled here.
   */
  reconcile(reason: string): Promise<void> {
    return this.reconcileFresh(reason).catch((error) =>
      this.o.log.warn('reconciliation failed', { reason, error: describeError(error) }),
    );
  }

  /**
   * Reconciles after the events socket (re)opened: the events missed while it was down are gone
   * for good, so this is retried with backoff until it succeeds, or until `signal` aborts (the
   * socket went down again, whose next open starts a new one, or the sidecar stops). A breaker
   * left open by the outage only holds it back until its test request, which the reconnect sends
   * at once (AriClient.noteReachable).
   */
  resync(reason: string, signal: AbortSignal): Promise<void> {
    return this.resyncPolicy
      .execute(({ signal: aborted }) => {
        if (aborted.aborted || this.stopped) throw new ResyncAbandoned();
        return this.reconcileFresh(reason);
      }, signal)
      .catch((error) => {
        if (!(error instanceof ResyncAbandoned) && !signal.aborted) throw error;
      });
  }

  /**
   * A reconciliation that starts after this call (one already running may have listed the
   * channels before something changed). Calls that come while one runs share the next run.
   * Rejects when it fails.
   */
  private reconcileFresh(reason: string): Promise<void> {
    if (!this.reconciling) return this.startReconcile(reason);
    this.nextReconcile ??= this.reconciling
      .catch(() => undefined)
      .then(() => {
        this.nextReconcile = null;
        // Started by someone else in the meantime: that run began after our call too.
        return this.reconciling ?? this.startReconcile('coalesced');
      });
    return this.nextReconcile;
  }

  private startReconcile(reason: string): Promise<void> {
    const run = this.reconcileOnce(reason).finally(() => {
      if (this.reconciling === run) this.reconciling = null;
    });
    this.reconciling = run;
    return run;
  }

  private async reconcileOnce(reason: string): Promise<void> {
    const subjects = [...this.active.values()].filter(
      (call) => (call.state === 'live' || call.state === 'originating') && !this.dialing.has(call.callId),
    );
    if (subjects.length === 0) return;
    const channels = await this.o.ari.listChannels();
    const present = new Map(channels.map((channel) => [channel.id, channel]));
    const missing: CallRow[] = [];
    for (const call of subjects) {
      if (this.active.get(call.callId) !== call) continue;
      const channel = present.get(call.callId);
      if (!channel) {
        missing.push(call);
      } else if (!call.accepted) {
        this.adopt(call, channel);
      } else {
        // Events missed while the socket was down: the snapshot can only move the status forward.
        const step = onSnapshot(call.track, channel, new Date().toISOString());
        if (step.events.length > 0) this.apply(call, step.track, step.events);
      }
    }
    if (missing.length === 0) return;
    await sleep(this.o.tuning.reconcileGraceMs);
    let lost = 0;
    for (const call of missing) {
      if (
        this.active.get(call.callId) !== call ||
        this.dialing.has(call.callId) ||
        isTerminal(call.track.status)
      ) {
        continue;
      }
      const channel = await this.o.ari.getChannel(call.callId);
      if (this.active.get(call.callId) !== call) continue;
      if (channel) {
        if (!call.accepted) this.adopt(call, channel);
        continue;
      }
      const lastStatus = call.track.status;
      const step = onLost(call.track, new Date().toISOString());
      this.apply(call, step.track, step.events);
      lost += 1;
      this.o.log.warn('call lost: its channel is gone and no destroy event came', {
        call_id: call.callId,
        last_status: lastStatus,
      });
    }
    this.o.log.info('reconciled', { reason, followed: subjects.length, lost });
  }

  // ───────────────────────── pacing ─────────────────────────

  /** Starts queued calls while there is capacity, ARI is usable and the events socket is open. */
  pump(): void {
    if (this.pumpRunning) {
      this.pumpAgain = true;
      return;
    }
    this.pumpRunning = true;
    void this.pumpLoop()
      .catch((error) => this.o.log.error('pacing queue failed', { error: describeError(error) }))
      .finally(() => {
        this.pumpRunning = false;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  private canPump(): boolean {
    return (
      !this.stopped &&
      this.queue.length > 0 &&
      this.o.eventsConnected() &&
      this.o.ari.breakerState() !== 'open' &&
      this.liveCount() < this.o.config.maxConcurrentCalls
    );
  }

  private async pumpLoop(): Promise<void> {
    while (this.canPump()) {
      try {
        await this.o.limiter.acquire();
      } catch {
        return; // closed: stopping
      }
      // Things may have changed while waiting for the slot; the slot is then simply unused.
      if (!this.canPump()) {
        this.o.limiter.done();
        return;
      }
      const call = this.queue.shift()!;
      call.state = 'originating';
      call.queueSeq = null;
      this.commit(call, []);
      this.startDial(call, 'queue').catch((error) =>
        this.o.log.error('originate from the queue failed', {
          call_id: call.callId,
          error: describeError(error),
        }),
      );
    }
  }

  private removeFromQueue(call: CallRow): void {
    const index = this.queue.indexOf(call);
    if (index !== -1) this.queue.splice(index, 1);
    call.queueSeq = null;
  }

  // ───────────────────────── originate ─────────────────────────

  private startDial(call: CallRow, origin: 'command' | 'queue'): Promise<OriginateReply> {
    const running = this.dial(call, origin).finally(() => {
      this.dialing.delete(call.callId);
      this.pump();
    });
    this.dialing.set(call.callId, running);
    return running;
  }

  private originateRequest(command: OriginateCommand): OriginateRequest {
    const { config } = this.o;
    const variables: Record<string, string> = {};
    for (const [name, value] of Object.entries(command.variables))
      variables[channelVariableName(name)] = value;
    if (command.traceparent) variables.TRACEPARENT = command.traceparent;
    return {
      channelId: command.call_id,
      endpoint: `Local/${command.phone_number}@${config.ariDialContext}`,
      timeoutS: Math.max(1, Math.ceil(command.timeout_ms / 1000)),
      callerId: command.caller_id,
      target:
        config.ariOriginateStyle === 'stasis'
          ? { style: 'stasis', app: config.ariApp, appArgs: command.call_id }
          : {
              style: 'dialplan',
              context: command.context,
              extension: command.extension,
              priority: command.priority,
            },
      variables,
    };
  }

  private async dial(call: CallRow, origin: 'command' | 'queue'): Promise<OriginateReply> {
    const traceId = call.command.traceparent?.split('-')[1];
    const log = this.o.log.child({ call_id: call.callId, ...(traceId ? { trace_id: traceId } : {}) });
    let attempts = 0;
    // When the attempt ARI accepted left here. ARI creates the channel after that, so `dialing`
    // stamped with it is never later than the ARI-stamped events that follow it in the log.
    let sentAt = Date.now();
    const seen = () => this.hasEvidence(call.track) || this.active.get(call.callId) !== call;
    // The first attempt's pacing slot was taken by whoever started the dial; every retry is
    // another originate at ARI and takes its own. A retry is pointless, and could ring the
    // callee a second time once the first channel is gone, if ARI's events already show that
    // the first attempt created the channel: then we stop and follow it. Each slot this dial
    // holds is given back (done) once its attempt was answered, and counts from then.
    let held = 1;
    const release = () => {
      if (held === 0) return;
      held -= 1;
      this.o.limiter.done();
    };
    const beforeAttempt = async () => {
      attempts += 1;
      if (attempts > 1) {
        release(); // the previous attempt was answered (or timed out)
        if (seen()) throw new AlreadyCreated();
        await this.o.limiter.acquire();
        held += 1;
        if (seen()) throw new AlreadyCreated();
      }
      sentAt = Date.now();
    };
    let channelName: string | null;
    try {
      try {
        channelName = (await this.o.ari.originate(this.originateRequest(call.command), beforeAttempt)).name;
      } finally {
        while (held > 0) release();
      }
    } catch (error) {
      if (error instanceof AlreadyCreated) {
        log.info('originate reply lost, but ARI events show the channel; not retrying');
        channelName = call.track.channel;
      } else if (isAriError(error) && error.outcomeUnknown) {
        // ARI may have created the channel, and sending the originate again could ring the
        // callee twice. Follow the call instead: its events settle it, or the reconciliation
        // finds no channel and ends it `lost`.
        log.warn('originate got no answer; following the call without sending it again', {
          error: describeError(error),
        });
        channelName = call.track.channel;
      } else if (isAriError(error) && error.status === 409) {
        // The id is live at ARI: an earlier attempt of ours (or an earlier command) created it.
        log.info('originate answered 409; reading the existing channel');
        let channel: AriChannel | null;
        try {
          channel = await this.o.ari.getChannel(call.callId);
        } catch (readError) {
          return this.originateFailed(call, origin, readError, log);
        }
        if (!channel) {
          return this.originateFailed(
            call,
            origin,
            new AriError('the channel existed and is already gone', {
              kind: 'status',
              status: 409,
              ariMessage: 'Channel with given unique ID already exists',
              retryable: false,
              countsForBreaker: false,
            }),
            log,
          );
        }
        this.o.metrics.originates.inc({ outcome: 'existing' });
        if (this.active.get(call.callId) === call && !this.hasEvidence(call.track)) {
          // No events for it: catch the status up from the snapshot.
          this.adopt(call, channel);
        }
        channelName = channel.name;
      } else {
        return this.originateFailed(call, origin, error, log);
      }
    }
    this.accepted(call, channelName, sentAt);
    this.o.metrics.originates.inc({ outcome: 'dialing' });
    log.info('originate accepted', { channel: channelName, attempts });
    return dialingReply(call, channelName, sentAt);
  }

  /** ARI has the channel: follow it; send a DELETE asked for while the originate was in flight. */
  private accepted(call: CallRow, channelName: string | null, sentAt: number): void {
    if (this.active.get(call.callId) !== call) return;
    call.accepted = true;
    if (call.state === 'originating') call.state = 'live';
    const step = onAccepted(call.track, channelName, new Date(sentAt).toISOString());
    this.apply(call, step.track, step.events);
    if (call.track.hangupRequested && !isTerminal(call.track.status)) {
      this.o.ari.hangup(call.callId).catch((error) => {
        this.o.log.warn('hangup after originate failed', {
          call_id: call.callId,
          error: describeError(error),
        });
      });
    }
  }

  /** A channel found at ARI for a call we had not confirmed (restart, 409): follow it from its snapshot. */
  private adopt(call: CallRow, channel: AriChannel): void {
    call.accepted = true;
    if (call.state === 'originating') call.state = 'live';
    const step = onSnapshot(call.track, channel, new Date().toISOString());
    this.apply(call, step.track, step.events);
    this.o.log.info('adopted a live channel', { call_id: call.callId, state: channel.state });
  }

  private originateFailed(
    call: CallRow,
    origin: 'command' | 'queue',
    error: unknown,
    log: Logger,
  ): OriginateReply {
    const callId = call.callId;
    if (this.active.get(callId) !== call) {
      // Ended meanwhile (events said so): ARI did create the channel after all.
      return this.replyForKnown(call);
    }
    if (this.hasEvidence(call.track)) {
      // Events for this channel arrived: ARI created it although the reply failed.
      log.warn('originate reply failed but the channel exists; following it', {
        error: describeError(error),
      });
      call.accepted = true;
      call.state = 'live';
      this.commit(call, []);
      return dialingReply(call, call.track.channel);
    }
    const ari = isAriError(error) ? error : null;
    log.warn('originate failed', { error: describeError(error), origin, ari_status: ari?.status ?? null });

    if (ari?.kind === 'breaker_open' && origin === 'queue') {
      // It never reached ARI: back to the head of the queue until the breaker closes.
      call.state = 'queued';
      call.queueSeq = (this.queue[0]?.queueSeq ?? this.o.store.nextQueueSeq()) - 1;
      this.queue.unshift(call);
      this.commit(call, []);
      return { outcome: 'queued', call_id: callId, position: 1 };
    }

    let reply: OriginateReply;
    let endReason: string;
    if (ari && ari.kind === 'status' && ari.status !== null && ari.status >= 400 && ari.status < 500) {
      reply = {
        outcome: 'rejected',
        call_id: callId,
        reason: 'invalid_request',
        detail: ari.ariMessage ?? `ARI answered ${ari.status}`,
        ari_status: ari.status,
      };
      endReason = 'invalid_request';
    } else if (isAllocationFailedError(error)) {
      reply = {
        outcome: 'rejected',
        call_id: callId,
        reason: 'pbx_routing',
        detail: 'Allocation failed',
        ari_status: 500,
      };
      endReason = 'pbx_routing';
    } else if (ari?.kind === 'breaker_open') {
      reply = this.unavailable(callId, 'breaker_open', ari.retryAfterS ?? 1);
      endReason = 'pbx_unreachable';
    } else {
      reply = this.unavailable(callId, 'ari_unreachable', this.o.ari.retryAfterS() ?? 5);
      endReason = 'pbx_unreachable';
    }
    this.o.metrics.originates.inc({ outcome: reply.outcome });

    if (origin === 'command') {
      // The API learns the outcome from this reply; the call must not produce events later.
      this.active.delete(callId);
      this.o.store.forget(callId);
      return reply;
    }
    // Queued earlier: the API was told `queued`, so the outcome has to reach it as an event.
    const step = onNeverDialed(call.track, { status: 'failed', reason: endReason }, new Date().toISOString());
    this.apply(call, step.track, step.events);
    return reply;
  }

  // ───────────────────────── state ─────────────────────────

  private replyForKnown(call: CallRow): OriginateReply {
    if (call.state === 'queued') {
      const position = this.queue.indexOf(this.active.get(call.callId) ?? call) + 1;
      return { outcome: 'queued', call_id: call.callId, position: Math.max(1, position) };
    }
    if (call.state === 'finished' || isTerminal(call.track.status)) {
      return { outcome: 'finished', call_id: call.callId, status: call.track.status };
    }
    return dialingReply(call, call.track.channel);
  }

  private unavailable(callId: string, reason: UnavailableReason, retryAfterS: number): OriginateReply {
    return {
      outcome: 'unavailable',
      call_id: callId,
      reason,
      retry_after_s: Math.max(1, Math.ceil(retryAfterS)),
    };
  }

  /** The mapper has seen at least one ARI event for the call. */
  private hasEvidence(track: CallTrack): boolean {
    return track.status !== 'pending';
  }

  /** Applies a new track and its events: one transaction, then bookkeeping. */
  private apply(call: CallRow, track: CallTrack, events: MappedEvent[], observedAt = Date.now()): void {
    call.track = track;
    const finished = isTerminal(track.status);
    if (finished) {
      call.state = 'finished';
      this.removeFromQueue(call);
    }
    this.commit(call, events, observedAt);
    if (finished && this.active.get(call.callId) === call) {
      this.active.delete(call.callId);
      const end = events.find((e) => e.type === 'ended');
      this.o.log.info('call ended', {
        call_id: call.callId,
        status: track.status,
        reason: end?.reason ?? null,
        hangup_cause: end?.hangup_cause ?? null,
        dial_status: end?.dial_status ?? null,
      });
      this.pump();
    }
  }

  private commit(call: CallRow, events: MappedEvent[], observedAt = Date.now()): void {
    if (call.state !== 'finished') this.active.set(call.callId, call);
    this.o.store.commit(call, events, observedAt);
    if (events.length > 0) this.o.onEvents();
  }

  // ───────────────────────── lifecycle ─────────────────────────

  /** Stops starting calls; waits (bounded) for originates already in flight to get their answer. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    const inFlight = [...this.dialing.values()];
    if (inFlight.length > 0) {
      await Promise.race([Promise.allSettled(inFlight), sleep(timeoutMs)]);
    }
    await Promise.race([this.reconciling ?? Promise.resolve(), sleep(Math.min(timeoutMs, 1000))]);
  }
}

/** Ends a resync whose socket went down again or whose sidecar is stopping. */
class ResyncAbandoned extends Error {
  override name = 'ResyncAbandoned';
}

/** Stops an originate retry: ARI's events show the first attempt created the channel. */
class AlreadyCreated extends Error {
  override name = 'AlreadyCreated';
}

/**
 * A `dialing` reply, with the time of the call's `dialing` event (the one its events carry to the
 * API too); `fallbackAt` when the track has none (stored before it was kept).
 */
function dialingReply(call: CallRow, channel: string | null, fallbackAt?: number): OriginateReply {
  const dialedAt =
    call.track.dialedAt ?? (fallbackAt === undefined ? null : new Date(fallbackAt).toISOString());
  return { outcome: 'dialing', call_id: call.callId, channel, ...(dialedAt ? { dialed_at: dialedAt } : {}) };
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export type { AriError };
