import type { FlowStep } from '../../api/shared/contract/index.ts';
import { recordingName } from '../../api/shared/contract/index.ts';
import { type FlowAriEvent, isPlayback, isRecording, type PlaybackEvent } from './ari-events.ts';
import { WaitEnded } from './inbox.ts';
import { addKey, type Collected, matchesPattern } from './state.ts';
import type { StepContext, StepResult } from './step.ts';

type Gather = Extract<FlowStep, { verb: 'gather' }>;
type Record = Extract<FlowStep, { verb: 'record' }>;

/** How a playback ended: done, failed (missing file, IVR.md 44), no end in time (tone:, 59), or a key (barge-in). */
export type PlayEnd = 'done' | 'failed' | 'timeout' | 'key';

/** `p`, with its rejection handled (it is awaited later, or lost a race). */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * Plays `media` and waits for its PlaybackFinished (the playback's own id, chosen here, so an event
 * before ARI's reply is not missed), at most the playback timeout. With `keys`, a key pressed while
 * it plays stops it (DELETE /playbacks/{id}: ARI does not stop a prompt on DTMF, 47).
 */
export async function playMedia(
  ctx: StepContext,
  media: readonly string[],
  keys?: { pressed: () => boolean; next: (ms: number) => Promise<unknown> },
): Promise<PlayEnd> {
  const id = crypto.randomUUID();
  const finished = quiet(
    ctx.inbox.next(
      (e): e is PlaybackEvent => e.type === 'PlaybackFinished' && isPlayback(e) && e.playback.id === id,
      ctx.limits.playbackTimeoutMs,
    ),
  );
  await ctx.ari.play(ctx.callId, id, media);
  const key = keys
    ? quiet(keys.pressed() ? Promise.resolve() : keys.next(ctx.limits.playbackTimeoutMs))
    : null;
  try {
    const first = await Promise.race([
      finished.then((e) => ({ e })),
      ...(key ? [key.then(() => 'key' as const)] : []),
    ]);
    if (first === 'key') {
      await ctx.ari.stopPlayback(id);
      await finished.catch(() => undefined);
      return 'key';
    }
    return first.e.playback.state === 'failed' ? 'failed' : 'done';
  } catch (error) {
    if (error instanceof WaitEnded && error.why === 'timeout') {
      await ctx.ari.stopPlayback(id);
      return 'timeout';
    }
    throw error;
  }
}

export async function runPlay(ctx: StepContext, media: readonly string[]): Promise<StepResult> {
  const end = await playMedia(ctx, media);
  if (end === 'done') return {};
  return {
    detail:
      end === 'failed'
        ? 'the playback failed (a missing sound?)'
        : `the playback did not finish within ${ctx.limits.playbackTimeoutMs} ms and was stopped`,
  };
}

/**
 * A gather: per attempt, the prompt (stopped by the first key, which counts), then keys until
 * max_digits or the finish key, timeout_ms for the first key after the prompt and
 * inter_digit_timeout_ms between keys. Digits that do not match the pattern count as none. No
 * input after every attempt: no answer, and the flow goes on (a branch's default takes it).
 */
export async function runGather(ctx: StepContext, step: Gather): Promise<StepResult> {
  const keys: string[] = [];
  const unlisten = ctx.inbox.listen((e) => {
    if (e.type === 'ChannelDtmfReceived') keys.push(e.digit);
  });
  const nextKey = (ms: number) =>
    keys.length > 0 ? Promise.resolve() : ctx.inbox.next((e) => e.type === 'ChannelDtmfReceived', ms);
  let last = '';
  let barged = false;
  try {
    for (let attempt = 1; attempt <= step.attempts; attempt++) {
      keys.length = 0;
      if (step.prompt) {
        const end = await playMedia(ctx, step.prompt, { pressed: () => keys.length > 0, next: nextKey });
        barged = end === 'key';
      }
      let collected: Collected = { digits: '', done: false };
      let pressed = false;
      while (!collected.done) {
        while (keys.length > 0 && !collected.done) {
          pressed = true;
          collected = addKey(collected, keys.shift()!, step);
        }
        if (collected.done) break;
        try {
          await nextKey(pressed ? step.inter_digit_timeout_ms : step.timeout_ms);
        } catch (error) {
          if (error instanceof WaitEnded && error.why === 'timeout') break;
          throw error;
        }
      }
      last = collected.digits;
      if (collected.digits !== '' && matchesPattern(step.pattern, collected.digits)) {
        const how = barged ? ', the prompt stopped by the first key' : '';
        return { answer: { name: step.name, value: collected.digits }, detail: `attempt ${attempt}${how}` };
      }
    }
  } finally {
    unlisten();
  }
  return {
    detail:
      last === ''
        ? `no input after ${step.attempts} attempt(s)`
        : `no valid input after ${step.attempts} attempt(s)`,
  };
}

/** A record: ARI records to `<call id>-<name>-<run>` (wav) until a limit, the finish key or silence. */
export async function runRecord(ctx: StepContext, step: Record): Promise<StepResult> {
  const name = recordingName(ctx.callId, step.name, ctx.run);
  const ended = (e: FlowAriEvent) =>
    (e.type === 'RecordingFinished' || e.type === 'RecordingFailed') &&
    isRecording(e) &&
    e.recording.name === name;
  const finished = quiet(ctx.inbox.next(ended, step.max_seconds * 1000 + ctx.limits.recordMarginMs));
  await ctx.ari.record(ctx.callId, {
    name,
    maxSeconds: step.max_seconds,
    maxSilenceSeconds: step.max_silence_seconds,
    finishOnKey: step.finish_on_key,
    beep: step.beep,
  });
  let event: FlowAriEvent;
  try {
    event = await finished;
  } catch (error) {
    if (!(error instanceof WaitEnded && error.why === 'timeout')) throw error;
    // Past its own limit: stop it, and keep what it holds.
    const stopped = quiet(ctx.inbox.next(ended, ctx.limits.recordMarginMs));
    await ctx.ari.stopRecording(name);
    event = await stopped;
  }
  if (!isRecording(event) || event.type === 'RecordingFailed') {
    const cause = isRecording(event) ? event.recording.cause : undefined;
    return { detail: `the recording failed${cause ? `: ${cause}` : ''}` };
  }
  const seconds = event.recording.duration ?? 0;
  return { answer: { name: step.name, value: { recording: name, duration_ms: seconds * 1000 } } };
}
