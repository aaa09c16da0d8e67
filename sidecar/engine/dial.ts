import type { Logger } from '../../api/shared/base/log.ts';
import {
  channelVariableName,
  isTerminal,
  type OriginateCommand,
  type OriginateReply,
} from '../../api/shared/contract/index.ts';
import { isAllocationFailedError, type OriginateRequest } from '../ari/http.ts';
import type { AriChannel } from '../ari/schemas.ts';
import { AriError, describeError, isAriError } from '../errors.ts';
import { onAccepted, onNeverDialed } from '../mapping.ts';
import type { CallRow } from '../store.ts';
import { type CallBook, dialingReply, hasEvidence, unavailable } from './book.ts';
import type { EngineOptions } from './options.ts';

type Origin = 'command' | 'queue';
/** After a failed originate: follow the call on this channel after all, or answer with `reply`. */
type Recovery = { follow: string | null } | { reply: OriginateReply };

/**
 * Originates a call at ARI: with the ARI client's retries (each taking a pacing slot), 409 and
 * lost-reply handling, and the outcome written down (followed, queued again, or ended).
 */
export class Dialer {
  constructor(
    private readonly o: EngineOptions,
    private readonly book: CallBook,
    /** A dial ended (its place or slot may be free). */
    private readonly onDialed: () => void,
  ) {}

  startDial(call: CallRow, origin: Origin): Promise<OriginateReply> {
    const running = this.dial(call, origin).finally(() => {
      this.book.dialing.delete(call.callId);
      this.onDialed();
    });
    this.book.dialing.set(call.callId, running);
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
      // A call with a flow enters our app on answer, whatever the configured style: the flow runs there.
      target:
        config.ariOriginateStyle === 'stasis' || command.flow
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

  private async dial(call: CallRow, origin: Origin): Promise<OriginateReply> {
    const traceId = call.command.traceparent?.split('-')[1];
    const log = this.o.log.child({ call_id: call.callId, ...(traceId ? { trace_id: traceId } : {}) });
    // `at`: when the attempt ARI accepted left here. ARI creates the channel after that, so
    // `dialing` stamped with it is never later than the ARI-stamped events that follow it in the log.
    const sent = { attempts: 0, at: Date.now() };
    let channelName: string | null;
    try {
      channelName = await this.send(call, sent);
    } catch (error) {
      const recovery = await this.recover(call, origin, error, log);
      if ('reply' in recovery) return recovery.reply;
      channelName = recovery.follow;
    }
    this.accepted(call, channelName, sent.at);
    this.o.metrics.originates.inc({ outcome: 'dialing' });
    log.info('originate accepted', { channel: channelName, attempts: sent.attempts });
    return dialingReply(call, channelName, sent.at);
  }

  /** Sends the originate (the ARI client retries it); the name of the channel ARI created. */
  private async send(call: CallRow, sent: { attempts: number; at: number }): Promise<string | null> {
    const seen = () => hasEvidence(call.track) || !this.book.isCurrent(call);
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
      sent.attempts += 1;
      if (sent.attempts > 1) {
        release(); // the previous attempt was answered (or timed out)
        if (seen()) throw new AlreadyCreated();
        await this.o.limiter.acquire();
        held += 1;
        if (seen()) throw new AlreadyCreated();
      }
      sent.at = Date.now();
    };
    try {
      return (await this.o.ari.originate(this.originateRequest(call.command), beforeAttempt)).name;
    } finally {
      while (held > 0) release();
    }
  }

  private async recover(call: CallRow, origin: Origin, error: unknown, log: Logger): Promise<Recovery> {
    if (error instanceof AlreadyCreated) {
      log.info('originate reply lost, but ARI events show the channel; not retrying');
      return { follow: call.track.channel };
    }
    if (isAriError(error) && error.outcomeUnknown) {
      // ARI may have created the channel, and sending the originate again could ring the
      // callee twice. Follow the call instead: its events settle it, or the reconciliation
      // finds no channel and ends it `lost`.
      log.warn('originate got no answer; following the call without sending it again', {
        error: describeError(error),
      });
      return { follow: call.track.channel };
    }
    if (isAriError(error) && error.status === 409) return this.followExisting(call, origin, log);
    return { reply: this.originateFailed(call, origin, error, log) };
  }

  /** The id is live at ARI: an earlier attempt of ours (or an earlier command) created it. */
  private async followExisting(call: CallRow, origin: Origin, log: Logger): Promise<Recovery> {
    log.info('originate answered 409; reading the existing channel');
    let channel: AriChannel | null;
    try {
      channel = await this.o.ari.getChannel(call.callId);
    } catch (readError) {
      return { reply: this.originateFailed(call, origin, readError, log) };
    }
    if (!channel) {
      const gone = new AriError('the channel existed and is already gone', {
        kind: 'status',
        status: 409,
        ariMessage: 'Channel with given unique ID already exists',
        retryable: false,
        countsForBreaker: false,
      });
      return { reply: this.originateFailed(call, origin, gone, log) };
    }
    this.o.metrics.originates.inc({ outcome: 'existing' });
    if (this.book.isCurrent(call) && !hasEvidence(call.track)) {
      // No events for it: catch the status up from the snapshot.
      this.book.adopt(call, channel);
    }
    return { follow: channel.name };
  }

  /** ARI has the channel: follow it; send a DELETE asked for while the originate was in flight. */
  private accepted(call: CallRow, channelName: string | null, sentAt: number): void {
    if (!this.book.isCurrent(call)) return;
    call.accepted = true;
    if (call.state === 'originating') call.state = 'live';
    const step = onAccepted(call.track, channelName, new Date(sentAt).toISOString());
    this.book.apply(call, step.track, step.events);
    if (call.track.hangupRequested && !isTerminal(call.track.status)) {
      this.o.ari.hangup(call.callId).catch((error) => {
        this.o.log.warn('hangup after originate failed', {
          call_id: call.callId,
          error: describeError(error),
        });
      });
    }
  }

  private originateFailed(call: CallRow, origin: Origin, error: unknown, log: Logger): OriginateReply {
    const callId = call.callId;
    if (!this.book.isCurrent(call)) {
      // Ended meanwhile (events said so): ARI did create the channel after all.
      return this.book.replyForKnown(call);
    }
    if (hasEvidence(call.track)) {
      // Events for this channel arrived: ARI created it although the reply failed.
      log.warn('originate reply failed but the channel exists; following it', {
        error: describeError(error),
      });
      call.accepted = true;
      call.state = 'live';
      this.book.commit(call, []);
      return dialingReply(call, call.track.channel);
    }
    const ari = isAriError(error) ? error : null;
    log.warn('originate failed', { error: describeError(error), origin, ari_status: ari?.status ?? null });

    if (ari?.kind === 'breaker_open' && origin === 'queue') {
      // It never reached ARI: back to the head of the queue until the breaker closes.
      call.state = 'queued';
      call.queueSeq = (this.book.queue[0]?.queueSeq ?? this.o.store.nextQueueSeq()) - 1;
      this.book.queue.unshift(call);
      this.book.commit(call, []);
      return { outcome: 'queued', call_id: callId, position: 1 };
    }

    const { reply, endReason } = this.refusal(callId, error);
    this.o.metrics.originates.inc({ outcome: reply.outcome });

    if (origin === 'command') {
      // The API learns the outcome from this reply; the call must not produce events later.
      this.book.forget(callId);
      return reply;
    }
    // Queued earlier: the API was told `queued`, so the outcome has to reach it as an event.
    const step = onNeverDialed(call.track, { status: 'failed', reason: endReason }, new Date().toISOString());
    this.book.apply(call, step.track, step.events);
    return reply;
  }

  /** What a failed originate answers, and the reason its call ends with if it was queued. */
  private refusal(callId: string, error: unknown): { reply: OriginateReply; endReason: string } {
    const ari = isAriError(error) ? error : null;
    if (ari && ari.kind === 'status' && ari.status !== null && ari.status >= 400 && ari.status < 500) {
      return {
        reply: {
          outcome: 'rejected',
          call_id: callId,
          reason: 'invalid_request',
          detail: ari.ariMessage ?? `ARI answered ${ari.status}`,
          ari_status: ari.status,
        },
        endReason: 'invalid_request',
      };
    }
    if (isAllocationFailedError(error)) {
      return {
        reply: {
          outcome: 'rejected',
          call_id: callId,
          reason: 'pbx_routing',
          detail: 'Allocation failed',
          ari_status: 500,
        },
        endReason: 'pbx_routing',
      };
    }
    if (ari?.kind === 'breaker_open') {
      return {
        reply: unavailable(callId, 'breaker_open', ari.retryAfterS ?? 1),
        endReason: 'pbx_unreachable',
      };
    }
    return {
      reply: unavailable(callId, 'ari_unreachable', this.o.ari.retryAfterS() ?? 5),
      endReason: 'pbx_unreachable',
    };
  }
}

/** Stops an originate retry: ARI's events show the first attempt created the channel. */
class AlreadyCreated extends Error {
  override name = 'AlreadyCreated';
}
