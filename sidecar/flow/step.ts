import type { AnsweredBy, Flow, FlowAnswer, FlowOutcome } from '../../api/shared/contract/index.ts';
import type { FlowAri } from './ari.ts';
import type { FlowInbox } from './inbox.ts';

/** Timings of a flow's waits (Tuning: tests shorten them). */
export interface FlowLimits {
  /** Steps a flow may run and how long it may last (FLOW_LIMITS). */
  maxStepsRun: number;
  maxMs: number;
  /** A playback with no PlaybackFinished by then is stopped (tone: plays forever, bad schemes never end). */
  playbackTimeoutMs: number;
  /** Beyond a recording's max_seconds, how long its end may take to come. */
  recordMarginMs: number;
  /** Beyond total_analysis_time, how long AMD() may take to hand the call back. */
  amdMarginMs: number;
}

/** What a step runs with. */
export interface StepContext {
  callId: string;
  run: number;
  inbox: FlowInbox;
  ari: FlowAri;
  limits: FlowLimits;
  /** The dialplan context that runs AMD() and returns to Stasis. */
  amdContext: string;
  /** Our ARI application, which the AMD context hands the call back to (OUTDIAL_ARI_APP). */
  ariApp: string;
  /** The channel is about to leave Stasis on purpose (continue, amd): its StasisEnd is no hang-up. */
  leavingStasis(leaving: boolean): void;
}

/** What a step gave: an answer, answered_by, words for the log; or the end of the flow, or new steps. */
export interface StepResult {
  answer?: { name: string; value: FlowAnswer };
  answeredBy?: AnsweredBy;
  detail?: string;
  end?: { outcome: FlowOutcome; detail?: string; hangupCause?: number };
  /** A request's steps: they replace what is left of the flow. */
  segment?: Flow;
  /** Go to this step id of the current segment (a request's on_error). */
  jump?: string;
}
