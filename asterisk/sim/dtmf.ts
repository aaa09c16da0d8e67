/**
 * DTMF between the halves of a Local pair. The receiving channel reports each digit with
 * ChannelDtmfReceived when the digit ends, and only there (46: nothing for the sending `;2`,
 * nothing when a digit begins). A recording with terminateOn on the receiving channel ends on it.
 */
import type { Channel } from './channel.ts';
import type { Engine } from './engine.ts';
import { fail, type Reply } from './reply.ts';

const DIGITS = /^[0-9*#A-Da-d]$/;

interface DtmfTiming {
  /** When the first digit ends, from the start. */
  first: number;
  /** From the end of one digit to the end of the next. */
  step: number;
  /** Each digit's length. */
  duration: number;
}

/**
 * Sends `digits` from `from` to its peer, one after the other as Asterisk plays them: each digit is
 * timed from the end of the one before, so a timer that fires late never shortens the next gap.
 * `w` pauses half a second and `W` a second, as in Asterisk; other characters are dropped without
 * taking time (59: `dtmf=Z` answers 204 and nothing comes). `done` runs `after` ms past the last
 * digit (or the start, with none). Returns what cancels the rest.
 */
const sendDigits = (
  engine: Engine,
  from: Channel,
  digits: string,
  t: DtmfTiming,
  done?: { after: number; then: () => void },
): (() => void) => {
  const steps: Array<{ wait: number; digit: string }> = [];
  let wait = t.first;
  for (const c of digits) {
    if (c === 'w' || c === 'W') {
      wait += c === 'w' ? 500 : 1000;
      continue;
    }
    if (!DIGITS.test(c)) continue;
    steps.push({ wait, digit: c.toUpperCase() });
    wait = t.step;
  }
  let cancel: () => void = () => {};
  const next = (i: number): void => {
    const step = steps[i];
    if (!step) {
      if (done) cancel = engine.timers.after(done.after, done.then);
      return;
    }
    cancel = engine.timers.after(step.wait, () => {
      deliver(engine, from.peer, step.digit, t.duration);
      next(i + 1);
    });
  };
  next(0);
  return () => cancel();
};

const deliver = (engine: Engine, to: Channel | null, digit: string, duration: number): void => {
  if (!to?.alive) return;
  engine.bus.emitChannel(to, 'ChannelDtmfReceived', { digit, duration_ms: duration });
  const current = to.media.current as { dtmf?: (digit: string) => void } | null;
  current?.dtmf?.(digit);
};

/**
 * SendDTMF(digits[,timeout_ms[,duration_ms]]) in the dialplan (46, 47, 49): a 100 ms pause, then
 * each digit (100 ms) followed by the pause between digits (250 ms); one more millisecond a
 * digit was measured (200 ms to the first digit, then 351 ms; the app returns 251 ms after the
 * last). `then` runs when the app returns; the answer cancels what is left (a hang-up).
 */
export const sendDtmfApp = (engine: Engine, from: Channel, data: string, then: () => void): (() => void) => {
  const [digits = '', between = '', duration = ''] = data.split(',');
  const pause = Number.parseInt(between, 10) > 0 ? Number.parseInt(between, 10) : 250;
  const length = Number.parseInt(duration, 10) > 0 ? Number.parseInt(duration, 10) : 100;
  return sendDigits(
    engine,
    from,
    digits,
    { first: 100 + length, step: length + pause + 1, duration: length },
    { after: pause + 1, then },
  );
};

/**
 * POST /channels/{id}/dtmf: 204, and the peer reports the digit 300 ms later (59, one digit
 * recorded); further digits follow `duration + between` apart (ARI's defaults 100 and 100 ms).
 */
export const postDtmf = (engine: Engine, channelId: string, q: URLSearchParams): Reply => {
  const dtmf = q.get('dtmf');
  const ch = engine.stasisControl(channelId);
  if (!ch.ok) return ch.reply;
  if (!dtmf) return fail(400, 'DTMF is required');
  const num = (name: string, dflt: number) => {
    const v = Number.parseInt(q.get(name) ?? '', 10);
    return Number.isFinite(v) && v > 0 ? v : dflt;
  };
  const before = num('before', 0);
  const between = num('between', 100);
  const duration = num('duration', 100);
  sendDigits(engine, ch.channel, dtmf, {
    first: before + 200 + duration,
    step: duration + between,
    duration,
  });
  return { status: 204 };
};
