import { ANSWERED_BY, type Flow, type FlowStep } from './flow.ts';

/**
 * Checks across the steps of a flow that its schema (flow.ts) cannot make: ids, jumps, reachability,
 * loops that run without the callee, `continue` contexts and the answers a branch reads. Both the API
 * (when a call or a saved flow is submitted) and the sidecar (for the steps a `request` returns) run
 * it on a flow the schema already accepted. Each problem names its place as a JSON Pointer (RFC 6901)
 * under `base` (`/flow/3/cases/1`) and says in plain words what is wrong.
 */

export const FLOW_PROBLEM_CODES = [
  'duplicate_id',
  'missing_step',
  'unreachable',
  'runaway_loop',
  'context_not_allowed',
  'unknown_answer',
  'unknown_answered_by',
] as const;
export type FlowProblemCode = (typeof FLOW_PROBLEM_CODES)[number];

export interface FlowProblem {
  pointer: string;
  message: string;
  code: FlowProblemCode;
}

export interface FlowCheckOptions {
  /** The dialplan contexts a `continue` step may name (the API's FLOW_CONTINUE_CONTEXTS). */
  continueContexts: readonly string[];
  /** Where the flow sits in the document the pointers point into, e.g. `/flow`; default the root. */
  base?: string;
}

/** The steps that wait for the callee (or for the caller's service): a loop through one is bounded. */
const WAITING_VERBS: ReadonlySet<FlowStep['verb']> = new Set(['gather', 'record', 'request', 'amd']);

/** An edge from a step: where it may go next, and the member of the step that says so. */
interface Jump {
  to: number;
  /** Segments after the step's index, e.g. ['cases', '1']; empty for falling through. */
  at: string[];
}

function pointerOf(base: string, segments: ReadonlyArray<string | number>): string {
  return base + segments.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** Every id a step may jump to, with where the step names it. */
function namedTargets(step: FlowStep): Array<{ id: string; at: string[] }> {
  switch (step.verb) {
    case 'branch':
      return [
        ...Object.entries(step.cases).map(([key, id]) => ({ id, at: ['cases', key] })),
        ...(step.default !== undefined ? [{ id: step.default, at: ['default'] }] : []),
      ];
    case 'goto':
      return [{ id: step.to, at: ['to'] }];
    case 'request':
      return step.on_error !== undefined ? [{ id: step.on_error, at: ['on_error'] }] : [];
    default:
      return [];
  }
}

/** Whether the step goes on to the next one (when it does not jump, or has nowhere to jump). */
function fallsThrough(step: FlowStep): boolean {
  switch (step.verb) {
    case 'goto':
    case 'hangup':
    case 'continue':
      return false;
    case 'branch':
      return step.default === undefined;
    default:
      return true;
  }
}

/** The problems of `flow`, in the order of its steps; none when it is fit to run. */
export function checkFlow(flow: Flow, options: FlowCheckOptions): FlowProblem[] {
  const base = options.base ?? '';
  const at = (...segments: Array<string | number>) => pointerOf(base, segments);
  const problems: FlowProblem[] = [];

  // Ids: each at most once.
  const index = new Map<string, number>();
  flow.forEach((step, i) => {
    if (step.id === undefined) return;
    const first = index.get(step.id);
    if (first === undefined) index.set(step.id, i);
    else
      problems.push({
        pointer: at(i, 'id'),
        message: `step id "${step.id}" is already the id of step ${first}`,
        code: 'duplicate_id',
      });
  });

  // Jumps: to ids that exist.
  const jumps: Jump[][] = flow.map((step, i) => {
    const out: Jump[] = [];
    for (const target of namedTargets(step)) {
      const to = index.get(target.id);
      if (to === undefined)
        problems.push({
          pointer: at(i, ...target.at),
          message: `no step has the id "${target.id}"`,
          code: 'missing_step',
        });
      else out.push({ to, at: target.at });
    }
    if (fallsThrough(step) && i + 1 < flow.length) out.push({ to: i + 1, at: [] });
    return out;
  });

  // Reachability from the first step.
  const reached = new Array<boolean>(flow.length).fill(false);
  const stack = [0];
  reached[0] = true;
  while (stack.length > 0) {
    const i = stack.pop()!;
    for (const { to } of jumps[i]!)
      if (!reached[to]) {
        reached[to] = true;
        stack.push(to);
      }
  }
  reached.forEach((r, i) => {
    if (!r)
      problems.push({
        pointer: at(i),
        message: 'no path from the first step leads to this step: it would never run',
        code: 'unreachable',
      });
  });

  // Loops that never wait for the callee: a cycle through steps that do not wait.
  for (const loop of runawayLoops(flow, jumps, reached)) {
    problems.push({
      pointer: at(loop.from, ...loop.at),
      message: `this jump makes a loop (steps ${loop.steps.join(', ')}) that runs without waiting for the callee: put a gather, record, amd or request step in it`,
      code: 'runaway_loop',
    });
  }

  flow.forEach((step, i) => {
    if (step.verb === 'continue' && !options.continueContexts.includes(step.context))
      problems.push({
        pointer: at(i, 'context'),
        message: `"${step.context}" is not a context a flow may continue to (allowed: ${options.continueContexts.join(', ') || 'none'})`,
        code: 'context_not_allowed',
      });
  });

  // Branches: on an answer some step gives, or on answered_by with its values as cases.
  const answers = new Set<string>();
  for (const step of flow)
    if (step.verb === 'gather' || step.verb === 'record' || step.verb === 'set') answers.add(step.name);
  flow.forEach((step, i) => {
    if (step.verb !== 'branch') return;
    if (step.on === 'answered_by') {
      for (const key of Object.keys(step.cases))
        if (!(ANSWERED_BY as readonly string[]).includes(key))
          problems.push({
            pointer: at(i, 'cases', key),
            message: `answered_by is never "${key}": it is one of ${ANSWERED_BY.join(', ')}`,
            code: 'unknown_answered_by',
          });
    } else if (!answers.has(step.on)) {
      problems.push({
        pointer: at(i, 'on'),
        message: `no gather, record or set step gives the answer "${step.on}"`,
        code: 'unknown_answer',
      });
    }
  });

  return problems;
}

/**
 * The cycles among reachable steps that do not wait, one per strongly connected component (Tarjan),
 * each reported at a jump that closes it: one going back to a step at or before its own.
 */
function runawayLoops(
  flow: Flow,
  jumps: Jump[][],
  reached: boolean[],
): Array<{ from: number; at: string[]; steps: number[] }> {
  const free = (i: number) => reached[i]! && !WAITING_VERBS.has(flow[i]!.verb);
  const order = new Array<number>(flow.length).fill(-1);
  const low = new Array<number>(flow.length).fill(0);
  const onStack = new Array<boolean>(flow.length).fill(false);
  const stack: number[] = [];
  const components: number[][] = [];
  let counter = 0;

  // Iterative Tarjan: a flow is small, but recursion depth should not depend on input.
  for (let root = 0; root < flow.length; root++) {
    if (!free(root) || order[root] !== -1) continue;
    const work: Array<{ node: number; next: number }> = [{ node: root, next: 0 }];
    order[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = true;
    while (work.length > 0) {
      const frame = work.at(-1)!;
      const edges = jumps[frame.node]!;
      if (frame.next < edges.length) {
        const to = edges[frame.next++]!.to;
        if (!free(to)) continue;
        if (order[to] === -1) {
          order[to] = low[to] = counter++;
          stack.push(to);
          onStack[to] = true;
          work.push({ node: to, next: 0 });
        } else if (onStack[to]) {
          low[frame.node] = Math.min(low[frame.node]!, order[to]!);
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) low[parent.node] = Math.min(low[parent.node]!, low[frame.node]!);
      if (low[frame.node] === order[frame.node]) {
        const component: number[] = [];
        let n: number;
        do {
          n = stack.pop()!;
          onStack[n] = false;
          component.push(n);
        } while (n !== frame.node);
        components.push(component.sort((a, b) => a - b));
      }
    }
  }

  const loops: Array<{ from: number; at: string[]; steps: number[] }> = [];
  for (const component of components) {
    const members = new Set(component);
    // Falling through only goes forward: every cycle has a jump back to a step at or before its own.
    let closing: { from: number; at: string[] } | null = null;
    for (const from of component)
      for (const jump of jumps[from]!)
        if (members.has(jump.to) && jump.to <= from && !closing) closing = { from, at: jump.at };
    if (closing) loops.push({ ...closing, steps: component });
  }
  return loops;
}
