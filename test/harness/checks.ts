/**
 * Checks over calls as the API reports them (GET /api/v2/calls/{id} and its events), shared by the
 * e2e, fault and integration suites. Each returns what is wrong, or null.
 */

export const FINAL_STATUSES = new Set(['completed', 'busy', 'no_answer', 'failed', 'canceled']);

const RANK: Record<string, number> = {
  pending: 0,
  dialing: 1,
  ringing: 2,
  answered: 3,
};

/**
 * What is wrong with a call's event log, or null: sequences run 1..n, it opens with `created`,
 * statuses never move back, exactly one `ended` and nothing after it, and the events that came
 * from the sidecar are in the order they happened.
 */
export function eventLogProblem(
  events: Array<{ sequence: number; type: string; status: string; source: string; time: string }>,
): string | null {
  for (const [i, event] of events.entries()) {
    if (event.sequence !== i + 1) return `sequence ${event.sequence} at position ${i + 1}`;
  }
  if (events[0]?.type !== 'created') return `the log opens with ${events[0]?.type}`;
  let rank = 0;
  for (const event of events) {
    const r = FINAL_STATUSES.has(event.status) ? 9 : (RANK[event.status] ?? 0);
    if (r < rank) return `status went back to ${event.status} at ${event.sequence}`;
    rank = r;
  }
  const ended = events.filter((e) => e.type === 'ended');
  if (ended.length !== 1) return `${ended.length} ended events`;
  if (events.at(-1)?.type !== 'ended') return `${events.at(-1)?.type} after ended`;
  const fromSidecar = events.filter((e) => e.source.startsWith('sidecar:'));
  for (let i = 1; i < fromSidecar.length; i++) {
    if (Date.parse(fromSidecar[i]!.time) < Date.parse(fromSidecar[i - 1]!.time)) {
      return `sidecar event ${fromSidecar[i]!.sequence} (${fromSidecar[i]!.type}) is older than the one before it`;
    }
  }
  return null;
}

/** Largest number of instants (ms) inside any window of `windowMs` starting at one of them. */
export function busiestWindow(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let worst = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! - sorted[i]! < windowMs) j++;
    worst = Math.max(worst, j - i);
  }
  return worst;
}

/**
 * A call's times in order: created ≤ dialed ≤ ringing ≤ answered ≤ ended, skipping the ones the
 * call never reached. Ringing has no column: it is the time of the first ringing event of the log
 * (`ringing` or `progress`). Returns what is out of order, or null.
 */
export function timelineProblem(
  call: {
    created_at: string;
    dialed_at: string | null;
    answered_at: string | null;
    ended_at: string | null;
  },
  events: Array<{ status: string; time: string }>,
): string | null {
  const ringing = events.find((e) => e.status === 'ringing')?.time ?? null;
  const marks: Array<[string, string | null]> = [
    ['created_at', call.created_at],
    ['dialed_at', call.dialed_at],
    ['ringing', ringing],
    ['answered_at', call.answered_at],
    ['ended_at', call.ended_at],
  ];
  let last: [string, number] | null = null;
  for (const [name, value] of marks) {
    if (value === null) continue;
    const at = Date.parse(value);
    if (Number.isNaN(at)) return `${name} is not a time: ${value}`;
    if (last && at < last[1])
      return `${name} (${value}) is before ${last[0]} (${new Date(last[1]).toISOString()})`;
    last = [name, at];
  }
  return null;
}
