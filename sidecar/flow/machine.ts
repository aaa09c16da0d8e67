import type { Logger } from '../../api/shared/base/log.ts';
import type {
  FlowEventDetail,
  FlowEventType,
  FlowOutcome,
  FlowStep,
} from '../../api/shared/contract/index.ts';
import { describeError } from '../errors.ts';
import type { CallRow, FlowEventToWrite } from '../store.ts';
import type { FlowAri } from './ari.ts';
import { type FlowAriEvent, isHangup, leftAt } from './ari-events.ts';
import { runAmd, runContinue } from './dialplan.ts';
import { runRequest } from './flow-request.ts';
import { FlowInbox, WaitEnded } from './inbox.ts';
import { runGather, runPlay, runRecord } from './media.ts';
import type { FlowRequester } from './request.ts';
import { currentSteps, type FlowState, newFlowState, nextAfter } from './state.ts';
import type { FlowLimits, StepContext, StepResult } from './step.ts';

export interface MachineOptions {
  ari: FlowAri;
  requester: FlowRequester;
  limits: FlowLimits;
  amdContext: string;
  /** Our ARI application (ARI_APP), which the AMD context hands the call back to. */
  ariApp: string;
  /** Writes the call (with its flow state) and the events in one transaction (CallBook.commit). */
  commit(call: CallRow, events: FlowEventToWrite[]): void;
  log: Logger;
}

/**
 * One call's flow: a state machine that runs the steps over ARI, one at a time, and writes
 * step_started / step_finished for each and one flow_ended, each together with the flow's state.
 * A hang-up ends it at once, synchronously, before the channel's own end is written; so do the
 * limits. A flow that ends other than `continued` or by the callee hangs the call up.
 */
export class FlowMachine {
  readonly inbox = new FlowInbox();
  private leaving = false;
  /** The sidecar stopped: nothing more is run or written; the next start interrupts the flow. */
  private parked = false;
  private current: { run: number; step: number; stepId: string | null; verb: FlowStep['verb'] } | null = null;
  private limitTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly o: MachineOptions,
    private readonly call: CallRow,
  ) {}

  get state(): FlowState {
    return this.call.flow!;
  }

  ended(): boolean {
    return this.call.flow?.phase === 'ended';
  }

  /**
   * Stops the flow where it is without writing anything (the sidecar is stopping and its store is
   * about to close): its waits and timers end, and the flow stays `running` in the store, so the
   * next start's reconciliation ends it `interrupted` and hangs the call up.
   */
  park(): void {
    this.parked = true;
    if (this.limitTimer) clearTimeout(this.limitTimer);
    this.inbox.stop();
  }

  /** Starts the flow (StasisStart of the call's channel). */
  start(): Promise<void> {
    this.call.flow = newFlowState(Date.now());
    const left = this.o.limits.maxMs;
    this.limitTimer = setTimeout(
      () => this.endNow('limit', `the flow ran past ${Math.round(left / 1000)} s`, true),
      left,
    );
    return this.loop().catch((error) => {
      if (this.parked) return;
      this.o.log.error('flow runner failed', { call_id: this.call.callId, error: describeError(error) });
      this.endNow('failed', describeError(error).slice(0, 500), true);
    });
  }

  /**
   * Ends a flow this process did not run (it was running when the sidecar died, or its StasisStart
   * was missed): the step it was in finishes, flow_ended `interrupted` follows (their ids are the
   * call's, run's and type's, so one written before the restart is not written again), and the call
   * is hung up when its channel is still there.
   */
  interrupt(detail: string, hangUp: boolean): void {
    this.call.flow ??= { ...newFlowState(Date.now()), phase: 'running' };
    const state = this.state;
    if (state.phase === 'ended') return;
    if (state.open) {
      const steps = currentSteps(state, this.call.command.flow!);
      const step = steps[state.step]!;
      this.current = { run: state.run, step: state.step, stepId: step.id ?? null, verb: step.verb };
    }
    this.endNow('interrupted', detail, hangUp);
  }

  /** An ARI event about the call's channel. */
  deliver(event: FlowAriEvent): void {
    if (this.ended() || this.parked) return;
    const gone = isHangup(event) || (event.type === 'StasisEnd' && !this.leaving);
    if (gone) {
      // Stamped when the channel left, as the call's `ended` that follows in the log is (the store
      // keeps a call's times in order, should ARI's report come after a later event was written).
      const at = leftAt(event);
      if (this.call.track.hangupRequested) this.endNow('failed', 'hung up through the API', false, at);
      else {
        const what = this.current ? `during ${this.current.verb} (step ${this.current.step})` : '';
        this.endNow('callee_hangup', `the callee hung up ${what}`.trim(), false, at);
      }
      return;
    }
    this.inbox.deliver(event);
  }

  private async loop(): Promise<void> {
    const flow = this.call.command.flow!;
    for (;;) {
      if (this.ended() || this.parked) return;
      const state = this.state;
      const steps = currentSteps(state, flow);
      if (state.run >= this.o.limits.maxStepsRun) {
        this.endNow('limit', `the flow ran ${state.run} steps`, true);
        return;
      }
      const step = steps[state.step]!;
      state.run += 1;
      state.open = true;
      this.current = { run: state.run, step: state.step, stepId: step.id ?? null, verb: step.verb };
      this.write([this.event('step_started', {})]);
      let result: StepResult;
      try {
        result = await this.runStep(step);
      } catch (error) {
        if (this.ended() || this.parked) return;
        if (error instanceof WaitEnded) return;
        this.endNow('failed', `${step.verb} failed: ${describeError(error)}`.slice(0, 500), true);
        return;
      }
      if (this.ended() || this.parked) return;
      if (result.answer) state.answers[result.answer.name] = result.answer.value;
      if (result.answeredBy) state.answeredBy = result.answeredBy;
      const finished = this.event('step_finished', {
        ...(result.answer ? { answer: result.answer } : {}),
        ...(result.answeredBy ? { answered_by: result.answeredBy } : {}),
        ...(result.detail ? { detail: result.detail.slice(0, 500) } : {}),
      });
      state.open = false;
      if (result.end) {
        this.finish(result.end.outcome, result.end.detail, [finished], result.end.hangupCause ?? 16);
        return;
      }
      if (result.segment) {
        state.segment += 1;
        state.steps = result.segment;
        state.step = 0;
        this.current = null;
        this.write([finished]);
        continue;
      }
      const next = result.jump
        ? ((to) => (to === -1 ? { missing: result.jump! } : { to }))(
            steps.findIndex((s) => s.id === result.jump),
          )
        : nextAfter(steps, state.step, state);
      if ('to' in next) {
        state.step = next.to;
        this.current = null;
        this.write([finished]);
      } else if ('missing' in next) {
        this.finish('failed', `no step with id ${next.missing}`, [finished], 16);
        return;
      } else {
        this.finish('finished', 'no step left', [finished], 16);
        return;
      }
    }
  }

  private runStep(step: FlowStep): Promise<StepResult> {
    const ctx: StepContext = {
      callId: this.call.callId,
      run: this.state.run,
      inbox: this.inbox,
      ari: this.o.ari,
      limits: this.o.limits,
      amdContext: this.o.amdContext,
      ariApp: this.o.ariApp,
      leavingStasis: (leaving) => {
        this.leaving = leaving;
      },
    };
    switch (step.verb) {
      case 'play':
        return runPlay(ctx, step.media);
      case 'gather':
        return runGather(ctx, step);
      case 'record':
        return runRecord(ctx, step);
      case 'amd':
        return runAmd(ctx, step);
      case 'continue':
        return runContinue(ctx, step);
      case 'request':
        return runRequest(this.o.requester, this.call.callId, this.state, step.id ?? null, step);
      case 'set':
        return Promise.resolve({ answer: { name: step.name, value: step.value } });
      case 'hangup':
        return Promise.resolve({
          end: { outcome: 'finished', detail: `hangup step, cause ${step.cause}`, hangupCause: step.cause },
        });
      case 'branch':
      case 'goto':
      // The API lists the number when it records this step's end: nothing to do over ARI.
      case 'optout':
        return Promise.resolve({});
    }
  }

  /**
   * Ends the flow now: the step under way (if any) finishes with the reason, flow_ended follows, in
   * one write; every wait ends. `hangUp`: the call is hung up (never left in silence).
   */
  endNow(outcome: FlowOutcome, detail: string, hangUp: boolean, at = new Date().toISOString()): void {
    if (this.ended() || this.parked) return;
    const events: FlowEventToWrite[] = [];
    if (this.current) {
      const amd = this.current.verb === 'amd';
      if (amd) this.state.answeredBy = 'unknown';
      events.push(
        this.event(
          'step_finished',
          { detail, ...(amd ? { answered_by: 'unknown' as const } : {}) },
          null,
          at,
        ),
      );
      this.state.open = false;
    }
    this.finish(outcome, detail, events, hangUp ? 16 : null, at);
  }

  private finish(
    outcome: FlowOutcome,
    detail: string | undefined,
    events: FlowEventToWrite[],
    hangupCause: number | null,
    at = new Date().toISOString(),
  ): void {
    if (this.ended()) return;
    const state = this.state;
    state.phase = 'ended';
    state.outcome = outcome;
    if (this.limitTimer) clearTimeout(this.limitTimer);
    events.push(
      this.event(
        'flow_ended',
        { outcome, ...(detail ? { detail: detail.slice(0, 500) } : {}) },
        outcome === 'interrupted' ? 'flow_interrupted' : null,
        at,
      ),
    );
    this.write(events);
    this.inbox.stop();
    this.o.log.info('flow ended', { call_id: this.call.callId, outcome, detail: detail ?? null });
    const hangUp = hangupCause !== null && outcome !== 'continued' && outcome !== 'callee_hangup';
    if (hangUp) {
      this.o.ari.hangup(this.call.callId, hangupCause).catch((error) => {
        this.o.log.warn('hang-up after the flow failed', {
          call_id: this.call.callId,
          error: describeError(error),
        });
      });
    }
  }

  private event(
    type: FlowEventType,
    extra: Partial<FlowEventDetail>,
    reason: string | null = null,
    at = new Date().toISOString(),
  ): FlowEventToWrite {
    return flowEvent(this.call, this.current, type, extra, reason, at);
  }

  private write(events: FlowEventToWrite[]): void {
    this.o.commit(this.call, events);
  }
}

/** A flow event of `call` at `at` (the step under way, or the flow's current place). */
export function flowEvent(
  call: CallRow,
  at: { run: number; step: number; stepId: string | null; verb: FlowStep['verb'] } | null,
  type: FlowEventType,
  extra: Partial<FlowEventDetail>,
  reason: string | null,
  occurredAt: string = new Date().toISOString(),
): FlowEventToWrite {
  const state = call.flow!;
  const steps = currentSteps(state, call.command.flow!);
  const index = at?.step ?? Math.min(state.step, steps.length - 1);
  const step = steps[index]!;
  const run = at?.run ?? Math.max(1, state.run);
  return {
    type,
    status: call.track.status,
    occurred_at: occurredAt,
    reason,
    key: type === 'flow_ended' ? 'end' : `${run}:${type}`,
    flow: {
      run,
      segment: state.segment,
      step: index,
      step_id: at?.stepId ?? step.id ?? null,
      verb: at?.verb ?? step.verb,
      ...extra,
    },
  };
}
