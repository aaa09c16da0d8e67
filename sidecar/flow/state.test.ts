import { describe, expect, test } from 'bun:test';
import { Flow, GatherStep } from '../../api/shared/contract/index.ts';
import { addKey, answeredByOf, branchValue, matchesPattern, newFlowState, nextAfter } from './state.ts';

describe('flow state', () => {
  const steps = Flow.parse([
    { verb: 'branch', on: 'choice', cases: { '1': 'one' }, default: 'other' },
    { id: 'one', verb: 'goto', to: 'gone' },
    { id: 'other', verb: 'set', name: 'x', value: 'y' },
  ]);

  test('a branch takes its case, its default, or goes on; a goto to a missing id says so', () => {
    const state = newFlowState(0);
    expect(nextAfter(steps, 0, state)).toEqual({ to: 2 });
    state.answers.choice = '1';
    expect(nextAfter(steps, 0, state)).toEqual({ to: 1 });
    expect(nextAfter(steps, 1, state)).toEqual({ missing: 'gone' });
    expect(nextAfter(steps, 2, state)).toEqual({ end: true });
    // A recording compares as no answer; answered_by is its own value.
    state.answers.choice = { recording: 'r', duration_ms: 0 };
    expect(branchValue('choice', state)).toBeNull();
    state.answeredBy = 'machine';
    expect(branchValue('answered_by', state)).toBe('machine');
  });

  test('AMDSTATUS maps to answered_by', () => {
    expect([
      answeredByOf('HUMAN'),
      answeredByOf('MACHINE'),
      answeredByOf('NOTSURE'),
      answeredByOf(''),
    ]).toEqual(['human', 'machine', 'unknown', 'unknown']);
  });

  test('keys collect to max_digits or the finish key, which is not kept; patterns are anchored', () => {
    const step = GatherStep.parse({ verb: 'gather', name: 'pin', max_digits: 3, finish_on_key: '#' });
    let c = { digits: '', done: false };
    for (const key of ['1', '2', '#', '3']) c = addKey(c, key, step);
    expect(c).toEqual({ digits: '12', done: true });
    c = { digits: '', done: false };
    for (const key of ['1', '2', '3', '4']) c = addKey(c, key, step);
    expect(c).toEqual({ digits: '123', done: true });
    expect(matchesPattern('[12]', '1')).toBe(true);
    expect(matchesPattern('[12]', '12')).toBe(false);
    expect(matchesPattern('1|2', '21')).toBe(false);
    expect(matchesPattern(undefined, '9')).toBe(true);
    expect(matchesPattern('[', '1')).toBe(false);
  });
});
