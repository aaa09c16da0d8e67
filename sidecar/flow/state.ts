import type { AnsweredBy, Flow, FlowAnswer, FlowOutcome, FlowStep } from '../../api/shared/contract/index.ts';

/**
 * A call's flow as it runs, persisted with the call (store.ts) after every step: where it is, what
 * it gathered, and whether it ended. Pure data and pure functions; the runner (runner.ts) does the
 * waiting and the I/O.
 */
export interface FlowState {
  /** running: a step is under way (or about to start); ended: flow_ended was written. */
  phase: 'running' | 'ended';
  /** 0: the call's flow; n: the steps the n-th request step returned. */
  segment: number;
  /** The steps of the current segment (null: the call's own flow, in its command). */
  steps: Flow | null;
  /** Index of the current step in its segment. */
  step: number;
  /** Steps started so far: the current step is the run-th. */
  run: number;
  /** The run-th step started and has not finished (its step_finished is not written yet). */
  open: boolean;
  answers: Record<string, FlowAnswer>;
  answeredBy: AnsweredBy | null;
  /** When the flow started (ms), for FLOW_LIMITS.maxSeconds. */
  startedAt: number;
  outcome: FlowOutcome | null;
}

export function newFlowState(now: number): FlowState {
  return {
    phase: 'running',
    segment: 0,
    steps: null,
    step: 0,
    run: 0,
    open: false,
    answers: {},
    answeredBy: null,
    startedAt: now,
    outcome: null,
  };
}

/** The steps the flow is in. */
export function currentSteps(state: FlowState, flow: Flow): Flow {
  return state.steps ?? flow;
}

/** Where a step leads once it finished: the index of the next step, or null when none is left. */
export type Next = { to: number } | { end: true } | { missing: string };

export function nextAfter(steps: Flow, index: number, state: FlowState): Next {
  const step = steps[index]!;
  const jump = (id: string): Next => {
    const to = steps.findIndex((s) => s.id === id);
    return to === -1 ? { missing: id } : { to };
  };
  const onward = (): Next => (index + 1 < steps.length ? { to: index + 1 } : { end: true });
  switch (step.verb) {
    case 'goto':
      return jump(step.to);
    case 'branch': {
      const value = branchValue(step.on, state);
      const target =
        value !== null && Object.hasOwn(step.cases, value) ? step.cases[value] : (step.default ?? null);
      return target ? jump(target) : onward();
    }
    default:
      return onward();
  }
}

/** What a branch compares: `answered_by`, or the answer of that name (a recording compares as none). */
export function branchValue(on: string, state: FlowState): string | null {
  if (on === 'answered_by') return state.answeredBy;
  const answer = state.answers[on];
  return typeof answer === 'string' ? answer : null;
}

/** AMDSTATUS → answered_by: HUMAN human, MACHINE machine, anything else (NOTSURE, HANGUP, none) unknown. */
export function answeredByOf(amdStatus: string | undefined): AnsweredBy {
  if (amdStatus === 'HUMAN') return 'human';
  if (amdStatus === 'MACHINE') return 'machine';
  return 'unknown';
}

/** A gather's pattern, anchored at both ends. An invalid one (the API checks them) never matches. */
export function matchesPattern(pattern: string | undefined, digits: string): boolean {
  if (pattern === undefined) return true;
  try {
    return new RegExp(`^(?:${pattern})$`).test(digits);
  } catch {
    return false;
  }
}

/**
 * The collection of one gather attempt: keys in, a verdict out. `done` once max_digits came or the
 * finish key was pressed (which is not part of the digits).
 */
export interface Collected {
  digits: string;
  done: boolean;
}

export function addKey(
  collected: Collected,
  key: string,
  step: Extract<FlowStep, { verb: 'gather' }>,
): Collected {
  if (collected.done) return collected;
  if (step.finish_on_key !== undefined && key === step.finish_on_key) return { ...collected, done: true };
  const digits = collected.digits + key;
  return { digits, done: digits.length >= step.max_digits };
}
