// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} here is Asterisk dialplan syntax, not JS.
/**
 * The dialplan the recordings were made with (traces/recorded-with-extensions.conf, and for the
 * IVR recordings traces/recorded-ivr-extensions.conf), as data, plus the little of Asterisk's
 * extension matching and ${} substitution it needs. Keeping it as a table lets every
 * Local/<x>@<context> endpoint behave the way that file makes Asterisk behave, including odd
 * ones (Local/5@sim-outcome, Local/s@outbound-ivr). The callees by number of `sim-callee`
 * (README.md) are the simulator's own, for the flow tests.
 */

export type DialplanApp = readonly [app: string, data: string];

interface Extension {
  readonly exten: string;
  readonly priorities: readonly DialplanApp[];
}

export type Dialplan = Readonly<Record<string, readonly Extension[]>>;

const outcome = (digit: string, label: string, ...apps: DialplanApp[]): Extension => ({
  exten: digit,
  priorities: [['NoOp', `sim-callee \${SIM_DIALED}: ${label}`], ...apps],
});

const enterOutcome = (target: string): Extension[] => [
  {
    exten: '_X.',
    priorities: [
      ['Set', '__SIM_DIALED=${EXTEN}'],
      ['Goto', `${target},\${EXTEN:-1},1`],
    ],
  },
  {
    exten: '_+X.',
    priorities: [
      ['Set', '__SIM_DIALED=${EXTEN}'],
      ['Goto', `${target},\${EXTEN:-1},1`],
    ],
  },
];

/** An extension whose priorities are numbered 1, 2, … */
const ext = (exten: string, ...priorities: DialplanApp[]): Extension => ({ exten, priorities });

/** `ivr-outcome`: the callee behaviours of recorded-ivr-extensions.conf, by last digit. */
const IVR_OUTCOME: Extension[] = [
  ext(
    '0',
    ['NoOp', 'ivr-callee ${SIM_DIALED}: answer, send DTMF 12#'],
    ['Ringing', ''],
    ['Wait', '1'],
    ['Answer', ''],
    ['Wait', '1'],
    ['SendDTMF', '12#'],
    ['Wait', '60'],
    ['Hangup', '16'],
  ),
  ext(
    '1',
    ['NoOp', 'ivr-callee ${SIM_DIALED}: answer, send DTMF 5 after 2 s'],
    ['Ringing', ''],
    ['Wait', '1'],
    ['Answer', ''],
    ['Wait', '2'],
    ['SendDTMF', '5'],
    ['Wait', '60'],
    ['Hangup', '16'],
  ),
  ext(
    '2',
    ['NoOp', 'ivr-callee ${SIM_DIALED}: answer, speak, press #, then silence'],
    ['Ringing', ''],
    ['Wait', '1'],
    ['Answer', ''],
    ['Wait', '1'],
    ['Playback', 'hello-world'],
    ['SendDTMF', '#'],
    ['Playback', 'silence/10'],
    ['Playback', 'silence/10'],
    ['Wait', '60'],
    ['Hangup', '16'],
  ),
  ext(
    '3',
    ['NoOp', 'ivr-callee ${SIM_DIALED}: AMD human, hello-world then silence'],
    ['Answer', ''],
    ['Playback', 'hello-world'],
    ['Playback', 'silence/10'],
    ['Wait', '60'],
    ['Hangup', '16'],
  ),
  ext(
    '4',
    ['NoOp', 'ivr-callee ${SIM_DIALED}: AMD machine, long greeting'],
    ['Answer', ''],
    ['Playback', 'vm-intro'],
    ['Playback', 'beep'],
    ['Playback', 'silence/10'],
    ['Wait', '60'],
    ['Hangup', '16'],
  ),
  ext(
    '5',
    ['NoOp', 'ivr-callee ${SIM_DIALED}: AMD silence, no audio at all'],
    ['Answer', ''],
    ['Wait', '60'],
    ['Hangup', '16'],
  ),
  ext(
    '6',
    ['NoOp', 'ivr-callee ${SIM_DIALED}: AMD human, one short word then silence'],
    ['Answer', ''],
    ['Playback', 'hello'],
    ['Playback', 'silence/10'],
    ['Wait', '60'],
    ['Hangup', '16'],
  ),
];

/**
 * The simulator's callees by number (README.md), ahead of the last-digit outcomes of
 * `sim-callee`: Asterisk tries the more specific pattern first. `prefix` is `+1555` or `1555`;
 * `${EXTEN:n}` is what follows the seven or eight characters of `+1555777`.
 */
const byNumber = (prefix: string): Extension[] => {
  const rest = `\${EXTEN:${prefix.length + 3}}`;
  const dialed: DialplanApp = ['Set', '__SIM_DIALED=${EXTEN}'];
  return [
    ext(
      `_${prefix}775.`,
      dialed,
      ['NoOp', 'sim-callee ${SIM_DIALED}: answer, hang up after 3 s'],
      ['Answer', ''],
      ['Wait', '3'],
      ['Hangup', '16'],
    ),
    ext(
      `_${prefix}776.`,
      dialed,
      ['NoOp', 'sim-callee ${SIM_DIALED}: answer, no audio at all'],
      ['Answer', ''],
      ['Wait', '60'],
      ['Hangup', '16'],
    ),
    ext(
      `_${prefix}777.`,
      dialed,
      ['NoOp', `sim-callee \${SIM_DIALED}: answer, press ${rest}# after 2 s`],
      ['Answer', ''],
      ['Wait', '2'],
      ['SendDTMF', `${rest}#`],
      ['Wait', '60'],
      ['Hangup', '16'],
    ),
    ext(
      `_${prefix}778.`,
      dialed,
      ['NoOp', `sim-callee \${SIM_DIALED}: answer, speak ${rest} s, then silent audio`],
      ['Answer', ''],
      ['Playback', `sim-speech/${rest}`],
      ...Array.from({ length: 6 }, (): DialplanApp => ['Playback', 'silence/10']),
      ['Hangup', '16'],
    ),
  ];
};

export const SIM_DIALPLAN: Dialplan = {
  'outbound-ivr': [
    {
      exten: 's',
      priorities: [
        ['NoOp', 'outbound-ivr: ${CHANNEL} answered, callerid=${CALLERID(all)}'],
        ['Answer', ''],
        ['Wait', '2'],
        ['Hangup', ''],
      ],
    },
    {
      exten: 'play',
      priorities: [
        ['NoOp', 'outbound-ivr play: ${CHANNEL}'],
        ['Answer', ''],
        ['Playback', 'hello-world'],
        ['Hangup', ''],
      ],
    },
  ],
  'sim-callee': [...byNumber('+1555'), ...byNumber('1555'), ...enterOutcome('sim-outcome')],
  'ivr-callee': [ext('_X.', ['Set', '__SIM_DIALED=${EXTEN}'], ['Goto', 'ivr-outcome,${EXTEN:-1},1'])],
  'ivr-outcome': IVR_OUTCOME,
  'ivr-amd': [
    ext(
      's',
      ['NoOp', 'ivr-amd: ${CHANNEL} answered, running AMD'],
      ['AMD', ''],
      ['NoOp', 'AMD result: ${AMDSTATUS} ${AMDCAUSE}'],
      ['Stasis', 'contactcenter,amd,${AMDSTATUS},${AMDCAUSE}'],
      ['Hangup', ''],
    ),
  ],
  // The product's own AMD context (asterisk/extensions.conf), as a flow's amd step uses it.
  'outdial-amd': [
    ext(
      's',
      ['NoOp', 'outdial-amd: ${CHANNEL} answered, running AMD'],
      [
        'AMD',
        '${OUTDIAL_AMD_INITIAL_SILENCE},${OUTDIAL_AMD_GREETING},${OUTDIAL_AMD_AFTER_GREETING_SILENCE},' +
          '${OUTDIAL_AMD_TOTAL_ANALYSIS_TIME},${OUTDIAL_AMD_MIN_WORD_LENGTH},' +
          '${OUTDIAL_AMD_BETWEEN_WORDS_SILENCE},${OUTDIAL_AMD_MAX_WORDS},${OUTDIAL_AMD_SILENCE_THRESHOLD}',
      ],
      ['NoOp', 'AMD result: ${AMDSTATUS} ${AMDCAUSE}'],
      ['Stasis', '${OUTDIAL_ARI_APP},amd,${AMDSTATUS},${AMDCAUSE}'],
      ['Hangup', ''],
    ),
  ],
  'ivr-after': [
    ext('s', ['NoOp', 'ivr-after: ${CHANNEL} left Stasis'], ['Playback', 'goodbye'], ['Hangup', '16']),
  ],
  'sim-trunk': enterOutcome('sim-trunk-outcome'),
  'sim-trunk-outcome': [
    {
      exten: '1',
      priorities: [
        ['NoOp', 'sim-trunk ${SIM_DIALED}: busy like SIP 486 -> cause 17'],
        ['Hangup', '17'],
      ],
    },
    {
      exten: '3',
      priorities: [
        ['NoOp', 'sim-trunk ${SIM_DIALED}: congestion like SIP 503 -> cause 34'],
        ['Hangup', '34'],
      ],
    },
    { exten: '_[024-9]', priorities: [['Goto', 'sim-outcome,${EXTEN},1']] },
  ],
  'sim-outcome': [
    outcome(
      '0',
      'answer, talk 4s, callee hangs up',
      ['Ringing', ''],
      ['Wait', '1'],
      ['Answer', ''],
      ['Wait', '4'],
      ['Hangup', '16'],
    ),
    outcome('1', 'busy', ['Busy', '20'], ['Hangup', '17']),
    outcome('2', 'ringing, never answers', ['Ringing', ''], ['Wait', '300'], ['Hangup', '19']),
    outcome('3', 'congestion', ['Congestion', '20'], ['Hangup', '34']),
    outcome('4', 'answer then hang up at once', ['Answer', ''], ['Hangup', '16']),
    outcome(
      '5',
      'answer and stay on the line',
      ['Ringing', ''],
      ['Wait', '1'],
      ['Answer', ''],
      ['Wait', '60'],
      ['Hangup', '16'],
    ),
    outcome(
      '6',
      'early media then answer',
      ['Progress', ''],
      ['Wait', '2'],
      ['Answer', ''],
      ['Wait', '2'],
      ['Hangup', '16'],
    ),
    outcome('7', 'unallocated number', ['Hangup', '1']),
    outcome('8', 'rings then rejected', ['Ringing', ''], ['Wait', '2'], ['Hangup', '21']),
    outcome('9', 'rings then network no-answer', ['Ringing', ''], ['Wait', '2'], ['Hangup', '19']),
  ],
  default: [
    {
      exten: '_X.',
      priorities: [
        ['NoOp', 'default context reached: ${EXTEN}'],
        ['Hangup', ''],
      ],
    },
  ],
};

const patternCache = new Map<string, RegExp>();

/** Asterisk extension pattern (`_X.`, `_[024-9]`, `_+X.`) to a regular expression. */
const patternToRegExp = (pattern: string): RegExp => {
  const cached = patternCache.get(pattern);
  if (cached) return cached;
  let source = '';
  for (let i = 1; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === 'X') source += '[0-9]';
    else if (c === 'Z') source += '[1-9]';
    else if (c === 'N') source += '[2-9]';
    else if (c === '.') source += '.+';
    else if (c === '!') source += '.*';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      source += `[${pattern.slice(i + 1, end).replace(/[\\^]/g, '\\$&')}]`;
      i = end;
    } else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const re = new RegExp(`^${source}$`, 's');
  patternCache.set(pattern, re);
  return re;
};

/** Literal extensions win over patterns, as in Asterisk. */
export const findExtension = (
  plan: Dialplan,
  context: string,
  exten: string,
): readonly DialplanApp[] | undefined => {
  const extensions = plan[context];
  if (!extensions) return undefined;
  const literal = extensions.find((e) => !e.exten.startsWith('_') && e.exten === exten);
  if (literal) return literal.priorities;
  return extensions.find((e) => e.exten.startsWith('_') && patternToRegExp(e.exten).test(exten))?.priorities;
};

/** What ${...} can read: channel variables plus the few built-ins the dialplan uses. */
export type VariableLookup = (name: string) => string | undefined;

const substring = (value: string, offset: number, length: number | undefined): string => {
  const start = offset < 0 ? Math.max(0, value.length + offset) : Math.min(offset, value.length);
  if (length === undefined) return value.slice(start);
  const end = length < 0 ? value.length + length : start + length;
  return value.slice(start, Math.max(start, end));
};

/** Expands ${NAME} and ${NAME:offset[:length]} (innermost first, like pbx_substitute_variables). */
export const substitute = (text: string, lookup: VariableLookup): string => {
  let out = text;
  for (;;) {
    const start = out.lastIndexOf('${');
    if (start < 0) return out;
    let depth = 0;
    let end = -1;
    for (let i = start + 2; i < out.length; i++) {
      const c = out[i];
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (c === '}' && depth <= 0) {
        end = i;
        break;
      }
    }
    if (end < 0) return out;
    const expr = out.slice(start + 2, end);
    const m = /^([^:]+?)(?::(-?\d+)(?::(-?\d+))?)?$/.exec(expr);
    let value = '';
    if (m) {
      const raw = lookup(m[1] as string) ?? '';
      value =
        m[2] === undefined
          ? raw
          : substring(raw, Number(m[2]), m[3] === undefined ? undefined : Number(m[3]));
    }
    out = out.slice(0, start) + value + out.slice(end + 1);
  }
};
