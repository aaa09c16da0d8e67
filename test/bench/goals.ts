/**
 * The speed goals, defined once: the bench's goals table is printed from here, and the
 * table in test/bench/README.md is this module's `goalsMarkdown()` (a unit test keeps them the same).
 * Each goal is judged against a baseline measured in the same run, never against a fixed machine.
 */

export type GoalId = 'read' | 'originate' | 'event' | 'logins' | 'sidecar-memory' | 'scale';

export interface Goal {
  id: GoalId;
  /** The path measured, as the issue names it. */
  path: string;
  /** The goal in words. */
  goal: string;
  /** The `npm run bench -- --only` key that measures it. */
  bench: string;
}

export const GOALS: readonly Goal[] = [
  {
    id: 'read',
    path: 'GET a call with a token, c=50, real PostgreSQL',
    goal: '≥ 0.35× bare Bun.serve; p99 < 10 ms',
    bench: 'api',
  },
  {
    id: 'originate',
    path: 'originate through API + sidecar',
    goal: '≤ 3 ms added at p50 over a direct ARI POST',
    bench: 'sidecar',
  },
  {
    id: 'event',
    path: "ARI event → status on the API's stream",
    goal: 'p99 < 50 ms at 500 calls/s offered, nothing dropped',
    bench: 'sidecar',
  },
  {
    id: 'logins',
    path: 'logins at 10/s beside reads',
    goal: "reads' p99 moves < 20%",
    bench: 'api',
  },
  {
    id: 'sidecar-memory',
    path: 'sidecar memory',
    goal: '≤ 60 MB idle + ≤ 10 KB per live call (1,000 calls)',
    bench: 'sidecar',
  },
  {
    id: 'scale',
    path: 'two API processes on one PostgreSQL',
    goal: 'reads scale ≥ 1.7× (per core where the machine lacks the cores)',
    bench: 'scale',
  },
];

/** The thresholds, beside the words above. */
export const LIMITS = {
  readRatio: 0.35,
  readP99Ms: 10,
  originateAddedMs: 3,
  eventP99Ms: 50,
  loginsP99Shift: 1.2,
  /** The idle process's resident memory (a bare Bun started in the same run is shown beside it). */
  sidecarIdleBytes: 60e6,
  /** Resident growth per live call over the same process warmed by a burst of ended calls. */
  sidecarPerCallBytes: 10e3,
  scale: 1.7,
} as const;

/** One goal's outcome in a run. `meets` is null when the run could not judge it (say why in `figure`). */
export interface GoalResult {
  id: GoalId;
  baseline: string;
  figure: string;
  ratio: string;
  meets: boolean | null;
}

export interface GoalRow extends Goal, Omit<GoalResult, 'id'> {}

/** Every goal in order, with this run's result or "not run". */
export function goalRows(results: GoalResult[]): GoalRow[] {
  return GOALS.map((goal) => {
    const result = results.find((r) => r.id === goal.id);
    return result
      ? { ...goal, ...result }
      : { ...goal, baseline: '', figure: `not run (--only ${goal.bench})`, ratio: '', meets: null };
  });
}

const meetsText = (meets: boolean | null) => (meets === null ? '—' : meets ? 'yes' : 'no');

export function goalsTable(rows: GoalRow[]): string {
  const head = ['path', 'baseline (same run)', 'figure', 'ratio', 'goal', 'meets'];
  const cells = rows.map((r) => [r.path, r.baseline, r.figure, r.ratio, r.goal, meetsText(r.meets)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** The goals as the README lists them: path, goal, and the bench that measures it. */
export function goalsMarkdown(): string {
  return [
    '| path | goal | bench |',
    '|---|---|---|',
    ...GOALS.map((g) => `| ${g.path} | ${g.goal} | \`${g.bench}\` |`),
  ].join('\n');
}

if (import.meta.main) console.log(goalsMarkdown());
