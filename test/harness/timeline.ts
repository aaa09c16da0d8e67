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
