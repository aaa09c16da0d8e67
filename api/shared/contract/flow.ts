import { z } from 'zod';
import { CONTEXT_PATTERN, EXTENSION_PATTERN } from './ids.ts';

/**
 * A call's flow: the steps (verbs) the sidecar runs over ARI once the call is answered. The shapes
 * here are what a client sends (`flow` in POST /api/v2/calls, or a saved flow) and what travels in
 * the signed originate command; checks across steps (jumps, reachability, loops) are in
 * flow-check.ts. Times are in milliseconds unless a name says otherwise.
 */

/** A step id or an answer name: a letter, then letters, digits, _ or -, at most 64. */
export const FLOW_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const Name = z.string().regex(FLOW_NAME, 'must start with a letter and hold letters, digits, _ or -');

/** The media a flow may play, as ARI media URIs; other schemes (recording:, http:) are refused. */
export const FLOW_MEDIA_SCHEMES = ['sound', 'digits', 'number', 'tone'] as const;
export const FLOW_MEDIA = /^(sound|digits|number|tone):[A-Za-z0-9_/.,;|=:+-]{1,200}$/;
const Media = z
  .string()
  .regex(FLOW_MEDIA, `must be an ARI media URI with scheme ${FLOW_MEDIA_SCHEMES.join(', ')}`)
  .refine((uri) => !uri.includes('..'), 'must not climb out of the sounds folder');
const MediaList = z.array(Media).min(1).max(20);

/** A DTMF key. */
const Key = z.enum(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#']);

const base = { id: Name.optional() };

export const PlayStep = z.strictObject({ ...base, verb: z.literal('play'), media: MediaList });

export const GatherStep = z.strictObject({
  ...base,
  verb: z.literal('gather'),
  /** The answer's name: the digits land in `answers[name]`. */
  name: Name,
  /** Played while waiting; a key pressed during it stops it and counts (barge-in). */
  prompt: MediaList.optional(),
  max_digits: z.number().int().min(1).max(32).default(1),
  finish_on_key: Key.optional(),
  /** From the end of the prompt to the first key. */
  timeout_ms: z.number().int().min(500).max(60_000).default(5000),
  /** Between keys, once the first one came. */
  inter_digit_timeout_ms: z.number().int().min(500).max(30_000).default(3000),
  /** How many times the prompt is played when nothing (or nothing matching) comes. */
  attempts: z.number().int().min(1).max(5).default(1),
  /** The digits must match this, keys only (e.g. `[12]` or `[0-9]{4}`): anchored at both ends. */
  pattern: z
    .string()
    .max(64)
    .regex(/^[0-9*#[\]{}(),|?+\\-]+$/, 'may hold only keys and [ ] { } ( ) , | ? + - \\')
    .optional(),
});

export const RecordStep = z.strictObject({
  ...base,
  verb: z.literal('record'),
  name: Name,
  max_seconds: z.number().int().min(1).max(600).default(60),
  max_silence_seconds: z.number().int().min(1).max(60).optional(),
  finish_on_key: Key.optional(),
  beep: z.boolean().default(true),
});

export const BranchStep = z.strictObject({
  ...base,
  verb: z.literal('branch'),
  /** An answer's name, or `answered_by` (human, machine, unknown: see the amd step). */
  on: Name,
  cases: z.record(z.string().min(1).max(64), Name),
  default: Name.optional(),
});

export const GotoStep = z.strictObject({ ...base, verb: z.literal('goto'), to: Name });

export const SetStep = z.strictObject({
  ...base,
  verb: z.literal('set'),
  name: Name,
  value: z.string().max(256),
});

export const ContinueStep = z.strictObject({
  ...base,
  verb: z.literal('continue'),
  /** Must be one of the contexts the API allows (FLOW_CONTINUE_CONTEXTS). Ends the flow. */
  context: z.string().regex(CONTEXT_PATTERN),
  extension: z.string().regex(EXTENSION_PATTERN).default('s'),
  priority: z.number().int().min(1).max(99).default(1),
});

export const HangupStep = z.strictObject({
  ...base,
  verb: z.literal('hangup'),
  /** A Q.850 cause; 16 is a normal clearing. */
  cause: z.number().int().min(1).max(127).default(16),
});

/** Asterisk's AMD() parameters (amd.conf's names); unset ones take amd.conf's values. */
export const AmdStep = z.strictObject({
  ...base,
  verb: z.literal('amd'),
  initial_silence_ms: z.number().int().min(100).max(30_000).optional(),
  greeting_ms: z.number().int().min(100).max(30_000).optional(),
  after_greeting_silence_ms: z.number().int().min(100).max(30_000).optional(),
  total_analysis_time_ms: z.number().int().min(500).max(30_000).optional(),
  min_word_length_ms: z.number().int().min(10).max(5000).optional(),
  between_words_silence_ms: z.number().int().min(10).max(5000).optional(),
  max_words: z.number().int().min(1).max(100).optional(),
  silence_threshold: z.number().int().min(1).max(32_767).optional(),
});

/**
 * An http(s) URL as written, whole: the URL parser would quietly drop surrounding spaces, which the
 * URL's own grammar (and the OpenAPI document's `uri` format) refuse.
 */
export const RequestUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .regex(/^[^\s]+$/, 'must not contain spaces');

export const RequestStep = z.strictObject({
  ...base,
  verb: z.literal('request'),
  /** Receives the answers so far (signed like webhooks) and returns the steps to run next. */
  url: RequestUrl,
  timeout_ms: z.number().int().min(500).max(15_000).default(5000),
  /** Where to go when the request fails or returns no valid steps; without it the flow fails. */
  on_error: Name.optional(),
});

/**
 * Puts the callee's number on the do-not-call list (source `flow`) once the API records the step's
 * end; the flow goes on with the next step.
 */
export const OptoutStep = z.strictObject({ ...base, verb: z.literal('optout') });

export const FlowStep = z.discriminatedUnion('verb', [
  PlayStep,
  GatherStep,
  RecordStep,
  BranchStep,
  GotoStep,
  SetStep,
  ContinueStep,
  HangupStep,
  AmdStep,
  RequestStep,
  OptoutStep,
]);
export type FlowStep = z.infer<typeof FlowStep>;
export type FlowStepInput = z.input<typeof FlowStep>;
export type FlowVerb = FlowStep['verb'];
export const FLOW_VERBS = FlowStep.options.map((o) => o.shape.verb.value) as FlowVerb[];

/** The example flow of the guide and the reference: play, ask for a key, record a message or hang up. */
export const FLOW_EXAMPLE = [
  { verb: 'play', media: ['sound:hello-world'] },
  {
    id: 'ask',
    verb: 'gather',
    name: 'choice',
    prompt: ['sound:please-press-1'],
    max_digits: 1,
    finish_on_key: '#',
    timeout_ms: 5000,
    attempts: 2,
  },
  { verb: 'branch', on: 'choice', cases: { '1': 'msg' }, default: 'bye' },
  { id: 'msg', verb: 'record', name: 'message', max_seconds: 30, finish_on_key: '#', beep: true },
  { id: 'bye', verb: 'hangup' },
] satisfies FlowStepInput[];

export const FLOW_MAX_STEPS = 100;
export const Flow = z.array(FlowStep).min(1).max(FLOW_MAX_STEPS);
export type Flow = z.infer<typeof Flow>;

/** What a flow may run for, whatever its steps say: beyond either, it ends `flow_limit`. */
export const FLOW_LIMITS = { maxStepsRun: 1000, maxSeconds: 3600 } as const;

/** `answered_by` after an amd step (AMDSTATUS HUMAN, MACHINE, NOTSURE or a hang-up during it). */
export const ANSWERED_BY = ['human', 'machine', 'unknown'] as const;
export type AnsweredBy = (typeof ANSWERED_BY)[number];

/** An answer: the digits of a gather, a value set, or a recording. */
export const FlowAnswer = z.union([
  z.string().max(256),
  z.strictObject({ recording: z.string().min(1).max(200), duration_ms: z.number().int().min(0) }),
]);
export type FlowAnswer = z.infer<typeof FlowAnswer>;

/**
 * How a flow ended. finished: it ran out of steps or reached a hangup step; continued: a continue
 * step handed the call to the dialplan; callee_hangup: the callee hung up during a step; failed: a
 * step could not run (`detail` says why); interrupted: the sidecar restarted and could not resume it
 * (reason `flow_interrupted`); limit: it ran past FLOW_LIMITS.
 */
export const FLOW_OUTCOMES = [
  'finished',
  'continued',
  'callee_hangup',
  'failed',
  'interrupted',
  'limit',
] as const;
export type FlowOutcome = (typeof FLOW_OUTCOMES)[number];

/**
 * The kinds of flow event a sidecar reports, beside the call's milestones; none moves the call's
 * status. step_started and step_finished each happen at most once per step run (a step run again by
 * a goto is a new run, with a new `run`); flow_ended once per call.
 */
export const FLOW_EVENT_TYPES = ['step_started', 'step_finished', 'flow_ended'] as const;
export type FlowEventType = (typeof FLOW_EVENT_TYPES)[number];

/** What a flow event carries, in `flow` of a call event. */
export const FlowEventDetail = z.strictObject({
  /** The 1-based count of steps run so far in this call: the n-th step run. */
  run: z
    .number()
    .int()
    .min(1)
    .max(FLOW_LIMITS.maxStepsRun + 1),
  /**
   * Which list of steps the step is in: 0 is the call's flow, n the steps the n-th `request` step
   * returned (they replace what was left of the flow).
   */
  segment: z.number().int().min(0).max(FLOW_LIMITS.maxStepsRun).default(0),
  /** The step's index in its segment, and its id when it has one. */
  step: z
    .number()
    .int()
    .min(0)
    .max(FLOW_MAX_STEPS - 1),
  step_id: z.string().regex(FLOW_NAME).nullable(),
  verb: z.enum(FLOW_VERBS as [FlowVerb, ...FlowVerb[]]),
  /** step_finished of a gather, record or set: the answer it gave (a gather with no input gives none). */
  answer: z.strictObject({ name: z.string().regex(FLOW_NAME), value: FlowAnswer }).optional(),
  /** step_finished of an amd step. */
  answered_by: z.enum(ANSWERED_BY).optional(),
  /** flow_ended only. */
  outcome: z.enum(FLOW_OUTCOMES).optional(),
  /** In words: why a step failed or the flow ended as it did. */
  detail: z.string().max(500).optional(),
});
export type FlowEventDetail = z.infer<typeof FlowEventDetail>;
