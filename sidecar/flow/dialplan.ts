import type { FlowStep } from '../../api/shared/contract/index.ts';
import type { FlowAriEvent } from './ari-events.ts';
import { WaitEnded } from './inbox.ts';
import { answeredByOf } from './state.ts';
import type { StepContext, StepResult } from './step.ts';

type Amd = Extract<FlowStep, { verb: 'amd' }>;
type Continue = Extract<FlowStep, { verb: 'continue' }>;

/** The dialplan context that runs AMD() and hands the call back to Stasis (asterisk/extensions.conf). */
export const AMD_CONTEXT = 'outdial-amd';

/**
 * The channel variable naming the ARI application the AMD context returns the call to: ours, which
 * ARI_APP sets, so the dialplan does not name one.
 */
export const AMD_APP_VARIABLE = 'OUTDIAL_ARI_APP';

/**
 * AMD()'s arguments, in its order, as the channel variables the `outdial-amd` context passes to it
 * (asterisk/extensions.conf); an empty one takes amd.conf's value.
 */
export const AMD_VARIABLES: ReadonlyArray<readonly [string, keyof Amd]> = [
  ['OUTDIAL_AMD_INITIAL_SILENCE', 'initial_silence_ms'],
  ['OUTDIAL_AMD_GREETING', 'greeting_ms'],
  ['OUTDIAL_AMD_AFTER_GREETING_SILENCE', 'after_greeting_silence_ms'],
  ['OUTDIAL_AMD_TOTAL_ANALYSIS_TIME', 'total_analysis_time_ms'],
  ['OUTDIAL_AMD_MIN_WORD_LENGTH', 'min_word_length_ms'],
  ['OUTDIAL_AMD_BETWEEN_WORDS_SILENCE', 'between_words_silence_ms'],
  ['OUTDIAL_AMD_MAX_WORDS', 'max_words'],
  ['OUTDIAL_AMD_SILENCE_THRESHOLD', 'silence_threshold'],
];

/** amd.conf's total_analysis_time, when the step sets none. */
const DEFAULT_TOTAL_ANALYSIS_MS = 5000;

/**
 * Machine detection: AMD() runs in the dialplan, so the channel leaves Stasis for the AMD context
 * and comes back with `StasisStart args [amd, AMDSTATUS, AMDCAUSE]` (58). HUMAN → human,
 * MACHINE → machine, anything else → unknown.
 */
export async function runAmd(ctx: StepContext, step: Amd): Promise<StepResult> {
  const variables: Record<string, string> = { [AMD_APP_VARIABLE]: ctx.ariApp };
  for (const [variable, field] of AMD_VARIABLES) {
    const value = step[field];
    variables[variable] = typeof value === 'number' ? String(value) : '';
  }
  await ctx.ari.setVariables(ctx.callId, variables);
  const back = ctx.inbox.next(
    (e): e is Extract<FlowAriEvent, { type: 'StasisStart' }> =>
      e.type === 'StasisStart' && e.args?.[0] === 'amd',
    (step.total_analysis_time_ms ?? DEFAULT_TOTAL_ANALYSIS_MS) + ctx.limits.amdMarginMs,
  );
  back.catch(() => undefined);
  ctx.leavingStasis(true);
  try {
    await ctx.ari.continueTo(ctx.callId, ctx.amdContext, 's', 1);
    const event = await back;
    const [, status, cause] = event.args ?? [];
    return {
      answeredBy: answeredByOf(status),
      detail: `AMDSTATUS ${status || 'none'}${cause ? ` (${cause})` : ''}`,
    };
  } catch (error) {
    if (error instanceof WaitEnded && error.why === 'timeout') {
      return { end: { outcome: 'failed', detail: 'AMD() did not hand the call back in time' } };
    }
    throw error;
  } finally {
    ctx.leavingStasis(false);
  }
}

/** Hands the call to the dialplan; the flow ends `continued` and the dialplan decides the rest. */
export async function runContinue(ctx: StepContext, step: Continue): Promise<StepResult> {
  ctx.leavingStasis(true);
  await ctx.ari.continueTo(ctx.callId, step.context, step.extension, step.priority);
  return {
    end: { outcome: 'continued', detail: `to ${step.context},${step.extension},${step.priority}` },
  };
}
