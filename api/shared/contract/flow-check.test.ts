import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { type Flow, Flow as FlowSchema, type FlowStepInput } from './flow.ts';
import { checkFlow, type FlowProblem } from './flow-check.ts';

const OPTIONS = { continueContexts: ['outbound-ivr'], base: '/flow' };
const parse = (steps: FlowStepInput[]): Flow => FlowSchema.parse(steps);
const problems = (steps: FlowStepInput[], options = OPTIONS) => checkFlow(parse(steps), options);
const brief = (list: FlowProblem[]) => list.map((p) => `${p.code} ${p.pointer}`);

/** The issue's own example: it must pass as it is. */
const EXAMPLE: FlowStepInput[] = [
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
];

describe('checkFlow', () => {
  test('the issue’s example flow has no problem', () => {
    expect(problems(EXAMPLE)).toEqual([]);
  });

  test.each<[string, FlowStepInput[], string[]]>([
    [
      'a duplicate id, at the second one',
      [
        { id: 'a', verb: 'play', media: ['sound:x'] },
        { id: 'a', verb: 'hangup' },
      ],
      ['duplicate_id /flow/1/id'],
    ],
    [
      'a branch case and default to missing ids',
      [
        { id: 'ask', verb: 'gather', name: 'choice' },
        { verb: 'branch', on: 'choice', cases: { '1': 'ask', '2': 'nowhere' }, default: 'gone' },
      ],
      ['missing_step /flow/1/cases/2', 'missing_step /flow/1/default'],
    ],
    [
      'a goto and a request’s on_error to missing ids',
      [
        { verb: 'request', url: 'https://example.com/next', on_error: 'oops' },
        { verb: 'goto', to: 'start' },
      ],
      ['missing_step /flow/0/on_error', 'missing_step /flow/1/to'],
    ],
    [
      'a step after a hangup that nothing jumps to',
      [{ verb: 'hangup' }, { verb: 'play', media: ['sound:never'] }],
      ['unreachable /flow/1'],
    ],
    [
      'a step after a continue or a goto',
      [
        { verb: 'goto', to: 'end' },
        { verb: 'play', media: ['sound:skipped'] },
        { id: 'end', verb: 'continue', context: 'outbound-ivr' },
        { verb: 'hangup' },
      ],
      ['unreachable /flow/1', 'unreachable /flow/3'],
    ],
    [
      'a step after a branch with a default, reached by nothing',
      [
        { verb: 'set', name: 'x', value: '1' },
        { verb: 'branch', on: 'x', cases: { '1': 'end' }, default: 'end' },
        { verb: 'play', media: ['sound:lost'] },
        { id: 'end', verb: 'hangup' },
      ],
      ['unreachable /flow/2'],
    ],
    ['a goto to itself', [{ id: 'spin', verb: 'goto', to: 'spin' }], ['runaway_loop /flow/0/to']],
    [
      'a loop of plays, sets and branches',
      [
        { id: 'top', verb: 'play', media: ['sound:again'] },
        { verb: 'set', name: 'x', value: '1' },
        { verb: 'branch', on: 'x', cases: { '1': 'top' } },
        { verb: 'hangup' },
      ],
      ['runaway_loop /flow/2/cases/1'],
    ],
    [
      'an unreachable loop is reported as unreachable only',
      [{ verb: 'hangup' }, { id: 'a', verb: 'goto', to: 'b' }, { id: 'b', verb: 'goto', to: 'a' }],
      ['unreachable /flow/1', 'unreachable /flow/2'],
    ],
    [
      'a continue outside the allow-list',
      [{ verb: 'continue', context: 'default' }],
      ['context_not_allowed /flow/0/context'],
    ],
    [
      'a branch on an answer no step gives',
      [
        { verb: 'gather', name: 'choice' },
        { verb: 'branch', on: 'chioce', cases: { '1': 'end' } },
        { id: 'end', verb: 'hangup' },
      ],
      ['unknown_answer /flow/1/on'],
    ],
    [
      'a branch on answered_by with a value it never has',
      [
        { verb: 'amd' },
        { verb: 'branch', on: 'answered_by', cases: { machine: 'end', robot: 'end' } },
        { id: 'end', verb: 'hangup' },
      ],
      ['unknown_answered_by /flow/1/cases/robot'],
    ],
    [
      'a case key with / and ~ is escaped in the pointer',
      [
        { verb: 'gather', name: 'k' },
        { verb: 'branch', on: 'k', cases: { 'a/b~c': 'none' } },
      ],
      ['missing_step /flow/1/cases/a~1b~0c'],
    ],
  ])('%s', (_name, steps, expected) => {
    expect(brief(problems(steps))).toEqual(expected);
  });

  test('loops that wait for the callee are allowed: gather, record, amd and request', () => {
    for (const waiting of [
      { verb: 'gather', name: 'x' },
      { verb: 'record', name: 'x' },
      { verb: 'amd' },
      { verb: 'request', url: 'https://example.com/next' },
    ] as FlowStepInput[]) {
      const steps: FlowStepInput[] = [
        { id: 'top', verb: 'play', media: ['sound:again'] },
        waiting,
        { verb: 'set', name: 'y', value: '1' },
        { verb: 'goto', to: 'top' },
      ];
      expect(problems(steps)).toEqual([]);
    }
  });

  test('a branch without a default falls through to the next step', () => {
    expect(
      problems([
        { verb: 'gather', name: 'x' },
        { verb: 'branch', on: 'x', cases: { '1': 'end' } },
        { verb: 'play', media: ['sound:not-one'] },
        { id: 'end', verb: 'hangup' },
      ]),
    ).toEqual([]);
  });

  test('an empty allow-list refuses every continue, and says so', () => {
    const [p] = problems([{ verb: 'continue', context: 'outbound-ivr' }], { continueContexts: [], base: '' });
    expect(p).toMatchObject({ code: 'context_not_allowed', pointer: '/0/context' });
    expect(p!.message).toContain('none');
  });

  test('the longest flow, one long chain of gotos back, is checked without deep recursion', () => {
    const steps: FlowStepInput[] = Array.from({ length: 100 }, (_, i) =>
      i === 99
        ? { id: `s${i}`, verb: 'goto', to: 's0' }
        : { id: `s${i}`, verb: 'set', name: 'v', value: `${i}` },
    );
    expect(brief(problems(steps))).toEqual(['runaway_loop /flow/99/to']);
  });
});

// Random flows built from a few ids: every problem's pointer names a place that exists in the flow,
// and a flow reported clean runs from its first step without a loop that never waits.
const ids = ['a', 'b', 'c', 'd'];
const arbStep: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ id: fc.constantFrom(...ids), verb: fc.constant('play'), media: fc.constant(['sound:x']) }),
  fc.record({ verb: fc.constant('play'), media: fc.constant(['sound:x']) }),
  fc.record({ id: fc.constantFrom(...ids), verb: fc.constant('gather'), name: fc.constantFrom('n', 'm') }),
  fc.record({ verb: fc.constant('set'), name: fc.constantFrom('n', 'm'), value: fc.constant('1') }),
  fc.record({
    verb: fc.constant('branch'),
    on: fc.constantFrom('n', 'm', 'z', 'answered_by'),
    cases: fc.dictionary(fc.constantFrom('1', '2', 'human', 'x/y'), fc.constantFrom(...ids, 'q')),
    default: fc.option(fc.constantFrom(...ids), { nil: undefined }),
  }),
  fc.record({ id: fc.constantFrom(...ids), verb: fc.constant('goto'), to: fc.constantFrom(...ids, 'q') }),
  fc.record({ verb: fc.constant('hangup') }),
  fc.record({ verb: fc.constant('continue'), context: fc.constantFrom('outbound-ivr', 'other') }),
  fc.record({ verb: fc.constant('amd') }),
);

function resolve(doc: unknown, pointer: string): unknown {
  let value: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

test('every problem points at a member that exists in the flow', () => {
  fc.assert(
    fc.property(fc.array(arbStep, { minLength: 1, maxLength: 12 }), (steps) => {
      const flow = FlowSchema.parse(JSON.parse(JSON.stringify(steps)));
      const doc = { flow };
      for (const p of checkFlow(flow, OPTIONS)) {
        expect(resolve(doc, p.pointer)).not.toBeUndefined();
        expect(p.message.length).toBeGreaterThan(0);
      }
    }),
    { numRuns: 500 },
  );
});

test('a clean flow has no loop of steps that never wait, and reaches every step', () => {
  fc.assert(
    fc.property(fc.array(arbStep, { minLength: 1, maxLength: 12 }), (steps) => {
      const flow = FlowSchema.parse(JSON.parse(JSON.stringify(steps)));
      if (checkFlow(flow, OPTIONS).length > 0) return;
      // Run the flow with no input at all, always taking the first jump a step has: it must end
      // (by a hangup, a continue or the last step) or meet a waiting step within a few hundred steps.
      const index = new Map(flow.map((s, i) => [s.id, i]));
      const seen = new Set<number>();
      let i = 0;
      while (i < flow.length) {
        const step = flow[i]!;
        if (['gather', 'record', 'amd', 'request'].includes(step.verb)) return;
        if (step.verb === 'hangup' || step.verb === 'continue') return;
        expect(seen.has(i)).toBe(false);
        seen.add(i);
        if (step.verb === 'goto') i = index.get(step.to)!;
        else if (step.verb === 'branch') {
          const first = Object.values(step.cases)[0] ?? step.default;
          i = first !== undefined ? index.get(first)! : i + 1;
        } else i += 1;
      }
    }),
    { numRuns: 500 },
  );
});
