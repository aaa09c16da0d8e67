/**
 * The sounds the simulator knows: how long each takes to play and when it is speech, because
 * AMD(), silence detection and Answer() react to the audio frames a channel receives. Lengths
 * from the recordings (Started → Finished, or the dialplan's next priority); where speech sits
 * inside a sound is set so that the recorded AMD and silence decisions come out (see each one).
 */

/** A sound: its length and the spans (ms from its start) that are speech; the rest is quiet. */
export interface Sound {
  readonly ms: number;
  readonly speech: ReadonlyArray<readonly [from: number, to: number]>;
}

/** `words` speech spans of `word` ms, `gap` ms apart, from `from`, within `ms`. */
const words = (ms: number, word: number, gap: number, from = 0): Array<[number, number]> => {
  const out: Array<[number, number]> = [];
  for (let t = from; t + word <= ms; t += word + gap) out.push([t, t + word]);
  return out;
};

const silence = (seconds: number): Sound => ({ ms: seconds * 1000, speech: [] });

/**
 * The sound files. hello-world 1.42 s (34, 43), goodbye 0.94 s (43, 57), beep 0.44 s (44, 45),
 * vm-enter-num-to-call 2.04 s (48), hello 0.8 s (58-human-short), vm-intro 5.7 s and
 * demo-congrats about 30 s (never heard to the end in a recording).
 */
const FILES: Record<string, Sound> = {
  // 58-ivr-amd-human: AMD hears 800 ms of silence 2.62 s after answer, the greeting having begun
  // at 0.5 s: the last 100 ms of the file are quiet. 49-ivr-record-limits-stop-cancel agrees
  // (maxSilenceSeconds=2 ends 1.92 s into the silent audio that follows).
  'hello-world': { ms: 1420, speech: [[0, 1320]] },
  // 58-ivr-amd-human-short: HUMAN 1.94 s after answer, the word having begun at 0.5 s.
  hello: { ms: 800, speech: [[0, 640]] },
  // 58-ivr-amd-machine: the fourth word begins 1.06 s in, so AMD counts its third word (after
  // the first, which it never counts) 1.66 s after answer: MAXWORDS-3-2.
  'vm-intro': {
    ms: 5700,
    speech: [[0, 300], [380, 620], [700, 980], ...words(5600, 320, 80, 1060)],
  },
  goodbye: { ms: 940, speech: [[0, 840]] },
  beep: { ms: 440, speech: [[0, 440]] },
  'vm-enter-num-to-call': { ms: 2040, speech: words(2040, 400, 100) },
  'demo-congrats': { ms: 30000, speech: words(30000, 400, 100) },
};
for (let n = 1; n <= 10; n++) FILES[`silence/${n}`] = silence(n);

/** Simulator-only speech of `n` seconds (words of 400 ms, 100 ms apart): `sim-speech/<n>`. */
const simSpeech = (name: string): Sound | undefined => {
  const m = /^sim-speech\/(\d{1,3})$/.exec(name);
  if (!m) return undefined;
  const ms = Number(m[1]) * 1000;
  return { ms, speech: words(ms, 400, 100) };
};

export const soundFile = (name: string): Sound | undefined => FILES[name] ?? simSpeech(name);

/** The sound names GET /sounds lists. */
export const soundNames = (): string[] => Object.keys(FILES).sort();

/** One spoken word of `ms`, its last 100 ms quiet. */
const word = (ms: number): Sound => ({ ms, speech: [[0, ms - 100]] });

/** Sounds played one after the other. */
export const sequence = (parts: Sound[]): Sound => {
  let at = 0;
  const speech: Array<[number, number]> = [];
  for (const p of parts) {
    for (const [from, to] of p.speech) speech.push([at + from, at + to]);
    at += p.ms;
  }
  return { ms: at, speech };
};

/**
 * Say digits, numbers and characters, one file per spoken item (45): a digit 0.841 s
 * (digits:12 1.68 s, digits:1234 3.35 s), a number word 0.842 s but a tens word ("forty")
 * 0.882 s (number:7 0.84 s, number:42 1.72 s), a letter 0.692 s (characters:ab 1.38 s).
 */
const DIGIT = word(841);
const UNIT = word(842);
const TENS = word(882);
const LETTER = word(692);

/** The words Asterisk's English say_number speaks for n (e.g. 1234: 1 thousand 2 hundred 30 4). */
const numberWords = (n: number): Sound[] => {
  if (n < 0) return [UNIT, ...numberWords(-n)];
  if (n < 20) return [UNIT];
  if (n < 100) return n % 10 === 0 ? [TENS] : [TENS, UNIT];
  for (const [size, name] of [
    [1_000_000_000, UNIT],
    [1_000_000, UNIT],
    [1000, UNIT],
    [100, UNIT],
  ] as const) {
    if (n >= size) {
      const rest = n % size;
      return [...numberWords(Math.floor(n / size)), name, ...(rest ? numberWords(rest) : [])];
    }
  }
  return [UNIT];
};

/** What a media URI plays, as ARI sees it (see playback.ts for what each kind does). */
export type Media =
  | { kind: 'sound'; sound: Sound }
  /** A scheme ARI knows whose file does not exist: PlaybackFinished `failed` (44). */
  | { kind: 'missing' }
  /** tone: plays until stopped (not recorded; Asterisk's tones loop). */
  | { kind: 'endless' }
  /** A scheme ARI does not know, or recording: of a missing recording (59): never finishes. */
  | { kind: 'unsupported' };

export const resolveMedia = (uri: string, recording: (name: string) => Sound | undefined): Media => {
  const colon = uri.indexOf(':');
  if (colon < 0) return { kind: 'unsupported' };
  const scheme = uri.slice(0, colon);
  const rest = uri.slice(colon + 1);
  const found = (s: Sound | undefined): Media => (s ? { kind: 'sound', sound: s } : { kind: 'missing' });
  switch (scheme) {
    case 'sound':
      return found(soundFile(rest));
    case 'recording': {
      const r = recording(rest);
      return r ? { kind: 'sound', sound: r } : { kind: 'unsupported' };
    }
    case 'digits': {
      const digits = [...rest].filter((c) => /[0-9*#]/.test(c));
      return found(digits.length > 0 ? sequence(digits.map(() => DIGIT)) : undefined);
    }
    case 'number':
      return found(/^-?\d+$/.test(rest) ? sequence(numberWords(Number(rest))) : undefined);
    case 'characters':
      return found(rest.length > 0 ? sequence([...rest].map(() => LETTER)) : undefined);
    case 'tone':
      return { kind: 'endless' };
    default:
      return { kind: 'unsupported' };
  }
};

/** Endless audio (a tone): speech until stopped. */
export const ENDLESS: Sound = { ms: Number.POSITIVE_INFINITY, speech: [[0, Number.POSITIVE_INFINITY]] };

/** Is the 20 ms frame that starts `at` ms into the sound speech? */
export const isSpeech = (sound: Sound, at: number): boolean =>
  sound.speech.some(([from, to]) => at + 10 >= from && at + 10 < to);
