import { ExponentialBackoff, handleAll, type RetryPolicy, retry } from 'cockatiel';
import { isTerminal } from '../../api/shared/contract/index.ts';
import { describeError } from '../errors.ts';
import type { Flows } from '../flow/flows.ts';
import { onLost, onSnapshot } from '../mapping.ts';
import type { CallRow } from '../store.ts';
import type { CallBook } from './book.ts';
import { type EngineOptions, sleep } from './options.ts';

/**
 * Compares the calls we follow with ARI's channels. A call whose channel is gone and whose
 * ChannelDestroyed never came ends `failed`/`lost`, after a second look (the destroy event
 * may be a few milliseconds behind the channel list). Calls whose originate reply has not
 * come yet are left alone; ones left `originating` by a previous process are settled here.
 */
export class Reconciler {
  private reconciling: Promise<void> | null = null;
  /** One run queued behind the current one, shared by everyone who asked meanwhile. */
  private nextReconcile: Promise<void> | null = null;
  private readonly resyncPolicy: RetryPolicy;

  constructor(
    private readonly o: EngineOptions,
    private readonly book: CallBook,
    private readonly flows: Flows,
  ) {
    this.resyncPolicy = retry(handleAll, {
      backoff: new ExponentialBackoff({
        initialDelay: o.tuning.resyncInitialDelayMs,
        maxDelay: o.tuning.resyncMaxDelayMs,
      }),
    });
    this.resyncPolicy.onRetry((reason) => {
      o.log.warn('resync failed; trying again', {
        error: 'error' in reason ? describeError(reason.error) : 'result',
        attempt: reason.attempt,
        delay_ms: Math.round(reason.delay),
      });
    });
  }

  /** The run in progress, if any. */
  running(): Promise<void> | null {
    return this.reconciling;
  }

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
        if (aborted.aborted || this.book.stopped) throw new ResyncAbandoned();
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
    const { book } = this;
    const subjects = [...book.active.values()].filter(
      (call) => (call.state === 'live' || call.state === 'originating') && !book.dialing.has(call.callId),
    );
    if (subjects.length === 0) return;
    const channels = await this.o.ari.listChannels();
    const present = new Map(channels.map((channel) => [channel.id, channel]));
    const missing: CallRow[] = [];
    const unstarted: CallRow[] = [];
    for (const call of subjects) {
      if (!book.isCurrent(call)) continue;
      const channel = present.get(call.callId);
      if (!channel) {
        missing.push(call);
        continue;
      }
      if (!call.accepted) {
        book.adopt(call, channel);
      } else {
        // Events missed while the socket was down: the snapshot can only move the status forward.
        const step = onSnapshot(call.track, channel, new Date().toISOString());
        if (step.events.length > 0) book.apply(call, step.track, step.events);
      }
      // A flow no process runs any more (this one restarted): never leave the callee in silence.
      if (this.flows.interruptIfOrphaned(call, true, false)) continue;
      if (call.command.flow && call.flow === null && channel.state === 'Up') unstarted.push(call);
    }
    if (unstarted.length > 0) await this.settleUnstarted(unstarted);
    if (missing.length === 0) return;
    await sleep(this.o.tuning.reconcileGraceMs);
    const lost = await this.settleMissing(missing);
    this.o.log.info('reconciled', { reason, followed: subjects.length, lost });
  }

  /**
   * Calls with a flow whose channel is up but whose flow never started: their StasisStart came
   * while no socket listened. A second look (it may be on its way), then the flow ends `interrupted`
   * and the call is hung up.
   */
  private async settleUnstarted(calls: CallRow[]): Promise<void> {
    await sleep(this.o.tuning.reconcileGraceMs);
    for (const call of calls) {
      if (!this.book.isCurrent(call) || call.flow !== null) continue;
      if (this.flows.interruptIfOrphaned(call, true, true)) {
        this.o.log.warn('flow never started (StasisStart missed); hung up', { call_id: call.callId });
      }
    }
  }

  /** The second look at calls whose channel was not listed: each one still gone ends lost. */
  private async settleMissing(missing: CallRow[]): Promise<number> {
    const { book } = this;
    let lost = 0;
    for (const call of missing) {
      if (!book.isCurrent(call) || book.dialing.has(call.callId) || isTerminal(call.track.status)) {
        continue;
      }
      const channel = await this.o.ari.getChannel(call.callId);
      if (!book.isCurrent(call)) continue;
      if (channel) {
        if (!call.accepted) book.adopt(call, channel);
        continue;
      }
      const lastStatus = call.track.status;
      this.flows.interruptIfOrphaned(call, false, false);
      const step = onLost(call.track, new Date().toISOString());
      book.apply(call, step.track, step.events);
      lost += 1;
      this.o.log.warn('call lost: its channel is gone and no destroy event came', {
        call_id: call.callId,
        last_status: lastStatus,
      });
    }
    return lost;
  }
}

/** Ends a resync whose socket went down again or whose sidecar is stopping. */
class ResyncAbandoned extends Error {
  override name = 'ResyncAbandoned';
}
