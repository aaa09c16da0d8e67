import { describe, expect, test } from 'bun:test';
import { AMD_DEFAULTS, AmdAnalyser, type AmdParams, type AmdResult, parseAmdArgs } from './amd.ts';
import { isSpeech, type Sound, soundFile } from './sounds.ts';

/**
 * Feeds an analyser the way the simulator does (audio.ts): empty waits every 100.5 ms until the
 * callee starts sending at `startMs`, then one 20 ms frame at the end of each, sound after sound.
 * Returns the decision and when, in ms after AMD() began.
 */
const judge = (sounds: Sound[], startMs: number, params: AmdParams = AMD_DEFAULTS) => {
  const amd = new AmdAnalyser(params, 0);
  let t = 0;
  let result: AmdResult | null = null;
  while (result === null && t + amd.idleMs <= startMs) {
    t += amd.idleMs;
    result = amd.idle(t);
  }
  let at = startMs;
  for (const sound of sounds) {
    for (let k = 0; result === null && 20 * (k + 1) <= sound.ms; k++) {
      t = at + 20 * (k + 1);
      result = amd.frame(isSpeech(sound, 20 * k), t);
    }
    at += sound.ms;
  }
  while (result === null && t < 60_000) {
    t += amd.idleMs;
    result = amd.idle(t);
  }
  return { ...(result as AmdResult), at: Math.round(t) };
};

const file = (name: string) => soundFile(name) as Sound;
const silent = file('silence/10');

describe('AMD() on the four recorded callees (58-ivr-amd-*), greeting 0.5 s after answer', () => {
  test('hello-world then silent audio: HUMAN-800-800 at 2.62 s', () => {
    expect(judge([file('hello-world'), silent], 500)).toEqual({
      status: 'HUMAN',
      cause: 'HUMAN-800-800',
      at: 2620,
    });
  });

  test('hello (one short word) then silent audio: HUMAN-800-800 at 1.94 s', () => {
    expect(judge([file('hello'), silent], 500)).toEqual({
      status: 'HUMAN',
      cause: 'HUMAN-800-800',
      at: 1940,
    });
  });

  test('vm-intro: MACHINE MAXWORDS-3-2 at 1.66 s', () => {
    expect(judge([file('vm-intro'), file('beep'), silent], 500)).toEqual({
      status: 'MACHINE',
      cause: 'MAXWORDS-3-2',
      at: 1660,
    });
  });

  test('no frames at all: NOTSURE TOOLONG-4900 at 5.03 s, never INITIALSILENCE', () => {
    const r = judge([], 60_000);
    expect(r).toEqual({ status: 'NOTSURE', cause: 'TOOLONG-4900', at: 5025 });
  });
});

describe('AMD() arguments', () => {
  test('parsed in app_amd order; empty ones keep amd.conf', () => {
    expect(parseAmdArgs('')).toEqual(AMD_DEFAULTS);
    expect(parseAmdArgs('3000,,900,,,,4')).toEqual({
      ...AMD_DEFAULTS,
      initialSilence: 3000,
      afterGreetingSilence: 900,
      maximumNumberOfWords: 4,
    });
  });

  test('silent frames (not no frames) before any speech: MACHINE INITIALSILENCE', () => {
    expect(judge([silent], 500)).toEqual({
      status: 'MACHINE',
      cause: 'INITIALSILENCE-2500-2500',
      at: 3000,
    });
  });

  test('more words allowed: the long greeting decides instead', () => {
    const params = parseAmdArgs(',,,,,,10');
    expect(judge([file('vm-intro')], 500, params)).toMatchObject({
      status: 'MACHINE',
      cause: 'LONGGREETING-1500-1500',
    });
  });

  test('afterGreetingSilence and totalAnalysisTime', () => {
    expect(judge([file('hello'), silent], 500, parseAmdArgs(',,400'))).toEqual({
      status: 'HUMAN',
      cause: 'HUMAN-400-400',
      at: 1540,
    });
    // 2 s of real time without frames: the 20th wait of 100.5 ms is past it.
    expect(judge([], 60_000, parseAmdArgs(',,,2000'))).toEqual({
      status: 'NOTSURE',
      cause: 'TOOLONG-1900',
      at: 2010,
    });
  });

  test('one endless word: MAXWORDLENGTH; a threshold above speech hears only silence', () => {
    const tone: Sound = { ms: 10_000, speech: [[0, 10_000]] };
    expect(judge([tone], 500, parseAmdArgs(',100000,,100000,,,,,3000'))).toMatchObject({
      status: 'MACHINE',
      cause: 'MAXWORDLENGTH-3000',
    });
    expect(judge([file('vm-intro')], 500, parseAmdArgs(',,,,,,,2000'))).toMatchObject({
      status: 'MACHINE',
      cause: 'INITIALSILENCE-2500-2500',
    });
  });
});
