/**
 * AMD(): answering machine detection on the frames a channel receives, as app_amd judges them,
 * with the amd.conf the recordings were made with (recorded-ivr-extensions.conf) and AMD()'s
 * optional arguments. The analyser is a pure step function; the dialplan app (pbx.ts) feeds it.
 *
 * The four recorded cases (58-ivr-amd-*) and what decides them:
 * - hello-world, then silent audio: 800 ms of quiet frames after the greeting → HUMAN-800-800;
 * - hello, then silent audio: the same, sooner;
 * - vm-intro: the third counted word (the first word is never counted: AMD starts "in a word")
 *   exceeds maximum_number_of_words = 2 → MACHINE MAXWORDS-3-2;
 * - no frames at all: every wait for a frame times out (100 ms each, which count towards the
 *   total but not as silence) until 5 s of real time have passed → NOTSURE TOOLONG-4900.
 */
import type { FrameAnalyser } from './audio.ts';

export interface AmdParams {
  initialSilence: number;
  greeting: number;
  afterGreetingSilence: number;
  totalAnalysisTime: number;
  minimumWordLength: number;
  betweenWordsSilence: number;
  maximumNumberOfWords: number;
  silenceThreshold: number;
  maximumWordLength: number;
}

/** amd.conf.sample, as used for the recordings. */
export const AMD_DEFAULTS: AmdParams = {
  initialSilence: 2500,
  greeting: 1500,
  afterGreetingSilence: 800,
  totalAnalysisTime: 5000,
  minimumWordLength: 100,
  betweenWordsSilence: 50,
  maximumNumberOfWords: 2,
  silenceThreshold: 256,
  maximumWordLength: 5000,
};

/** AMD(initialSilence,greeting,afterGreetingSilence,totalAnalysisTime,minimumWordLength,...). */
export const parseAmdArgs = (data: string, defaults: AmdParams = AMD_DEFAULTS): AmdParams => {
  const order: Array<keyof AmdParams> = [
    'initialSilence',
    'greeting',
    'afterGreetingSilence',
    'totalAnalysisTime',
    'minimumWordLength',
    'betweenWordsSilence',
    'maximumNumberOfWords',
    'silenceThreshold',
    'maximumWordLength',
  ];
  const params = { ...defaults };
  data.split(',').forEach((raw, i) => {
    const key = order[i];
    const v = raw.trim();
    if (key && v !== '') params[key] = Number.parseInt(v, 10) || 0;
  });
  return params;
};

export interface AmdResult {
  status: 'HUMAN' | 'MACHINE' | 'NOTSURE';
  cause: string;
}

/**
 * Frame energies of the model: speech frames are loud (1000), quiet frames silent (0), so
 * silenceThreshold only matters above 1000 (then everything is silence).
 */
const SPEECH_ENERGY = 1000;

/**
 * A wait for a frame that times out takes a little more than its 100 ms: in 58-ivr-amd-silence
 * the 50th wait ended 5.03 s after AMD() began, after 4.9 s had been counted.
 */
const WAIT_OVERHEAD_MS = 0.5;

interface State {
  iTotalTime: number;
  dspSilence: number;
  silenceDuration: number;
  voiceDuration: number;
  consecutiveVoice: number;
  words: number;
  inWord: boolean;
  inInitialSilence: boolean;
  inGreeting: boolean;
}

export class AmdAnalyser implements FrameAnalyser<AmdResult> {
  readonly idleMs: number;
  private readonly waitMs: number;

  constructor(
    private readonly p: AmdParams,
    private readonly startedAt: number,
    private readonly s: State = {
      iTotalTime: 0,
      dspSilence: 0,
      silenceDuration: 0,
      voiceDuration: 0,
      consecutiveVoice: 0,
      words: 0,
      inWord: true,
      inInitialSilence: true,
      inGreeting: false,
    },
  ) {
    // app_amd waits twice the smallest of its timings, and no more than 100 ms.
    const smallest = Math.min(
      50,
      p.initialSilence,
      p.greeting,
      p.afterGreetingSilence,
      p.totalAnalysisTime,
      p.minimumWordLength,
      p.betweenWordsSilence,
    );
    this.waitMs = 2 * Math.max(1, smallest);
    this.idleMs = this.waitMs + WAIT_OVERHEAD_MS;
  }

  clone(): AmdAnalyser {
    return new AmdAnalyser(this.p, this.startedAt, { ...this.s });
  }

  /** The real-time limit is checked at every wakeup, before what woke it up is counted. */
  private tooLong(at: number): AmdResult | null {
    if (at - this.startedAt <= this.p.totalAnalysisTime) return null;
    return { status: 'NOTSURE', cause: `TOOLONG-${this.s.iTotalTime}` };
  }

  idle(at: number): AmdResult | null {
    const late = this.tooLong(at);
    if (late) return late;
    this.s.iTotalTime += this.waitMs;
    if (this.s.iTotalTime >= this.p.totalAnalysisTime) {
      return { status: 'NOTSURE', cause: `TOOLONG-${this.s.iTotalTime}` };
    }
    return null;
  }

  frame(speech: boolean, at: number): AmdResult | null {
    const late = this.tooLong(at);
    if (late) return late;
    const { s, p } = this;
    s.iTotalTime += 20;
    if (s.iTotalTime >= p.totalAnalysisTime) return { status: 'NOTSURE', cause: `TOOLONG-${s.iTotalTime}` };
    const loud = speech && SPEECH_ENERGY >= p.silenceThreshold;
    s.dspSilence = loud ? 0 : s.dspSilence + 20;
    return loud ? this.voice() : this.silence();
  }

  private silence(): AmdResult | null {
    const { s, p } = this;
    s.silenceDuration = s.dspSilence;
    if (s.silenceDuration >= p.betweenWordsSilence) {
      s.inWord = false;
      s.consecutiveVoice = 0;
    }
    if (s.inInitialSilence && s.silenceDuration >= p.initialSilence) {
      return { status: 'MACHINE', cause: `INITIALSILENCE-${s.silenceDuration}-${p.initialSilence}` };
    }
    if (s.inGreeting && s.silenceDuration >= p.afterGreetingSilence) {
      return { status: 'HUMAN', cause: `HUMAN-${s.silenceDuration}-${p.afterGreetingSilence}` };
    }
    return null;
  }

  private voice(): AmdResult | null {
    const { s, p } = this;
    s.consecutiveVoice += 20;
    s.voiceDuration += 20;
    if (s.consecutiveVoice >= p.minimumWordLength && !s.inWord) {
      s.words++;
      s.inWord = true;
    }
    if (s.consecutiveVoice >= p.maximumWordLength) {
      return { status: 'MACHINE', cause: `MAXWORDLENGTH-${s.consecutiveVoice}` };
    }
    // Asterisk 22 decides once the count is over the maximum (recorded: MAXWORDS-3-2).
    if (s.words > p.maximumNumberOfWords) {
      return { status: 'MACHINE', cause: `MAXWORDS-${s.words}-${p.maximumNumberOfWords}` };
    }
    if (s.inGreeting && s.voiceDuration >= p.greeting) {
      return { status: 'MACHINE', cause: `LONGGREETING-${s.voiceDuration}-${p.greeting}` };
    }
    if (s.voiceDuration >= p.minimumWordLength) s.silenceDuration = 0;
    if (s.consecutiveVoice >= p.minimumWordLength && !s.inGreeting) {
      s.inInitialSilence = false;
      s.inGreeting = true;
    }
    return null;
  }
}
