/**
 * Local time in an IANA zone, from Intl alone (no zone database of our own): the parts of an instant
 * as a wall clock there shows them, and the instant a wall-clock time there names, DST included.
 */

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  /** 0 = Monday … 6 = Sunday (the order of WEEKDAYS). */
  weekday: number;
  /** Minutes since local midnight. */
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAY_INDEX: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall clock in `zone` at `at`. */
export function localParts(at: Date, zone: string): LocalParts & { second: number; hour: number } {
  const parts: Record<string, string> = {};
  for (const p of formatter(zone).formatToParts(at)) parts[p.type] = p.value;
  const hour = Number(parts.hour) % 24;
  const minuteOfHour = Number(parts.minute);
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: WEEKDAY_INDEX[parts.weekday!]!,
    hour,
    minute: hour * 60 + minuteOfHour,
    second: Number(parts.second),
  };
}

/** The local calendar day of `at` in `zone`, as YYYY-MM-DD. */
export function localDay(at: Date, zone: string): string {
  const p = localParts(at, zone);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** Milliseconds the zone's wall clock is ahead of UTC at `t`. */
function offsetAt(t: number, zone: string): number {
  const p = localParts(new Date(t), zone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute % 60, p.second);
  return wall - Math.floor(t / 1000) * 1000;
}

/**
 * The first instant at which the wall clock in `zone` shows `minute` (minutes since midnight) on the
 * given local date or later: a time skipped by a DST change answers the end of the gap; a time shown
 * twice answers its first showing.
 */
export function zonedTime(year: number, month: number, day: number, minute: number, zone: string): Date {
  const wall = Date.UTC(year, month - 1, day, 0, minute);
  // The earlier offset first, so a repeated hour gives its first showing.
  const candidates = [wall - offsetAt(wall - 86_400_000, zone), wall - offsetAt(wall + 86_400_000, zone)]
    .filter((t) => t + offsetAt(t, zone) === wall)
    .sort((a, b) => a - b);
  if (candidates.length > 0) return new Date(candidates[0]!);
  // Skipped: the moment the clock jumped over it lies between the two readings.
  let lo = wall - offsetAt(wall - 86_400_000, zone) - 86_400_000;
  let hi = wall - offsetAt(wall + 86_400_000, zone) + 86_400_000;
  if (lo > hi) [lo, hi] = [hi, lo];
  // Find the first instant whose wall time is past `wall` (a minute's precision is enough).
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (mid + offsetAt(mid, zone) >= wall) hi = mid;
    else lo = mid;
  }
  return new Date(hi);
}

/** The date after a local YYYY-MM-DD date. */
export function nextDate(day: string): { year: number; month: number; day: number } {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const next = new Date(Date.UTC(y, m - 1, d + 1));
  return { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() };
}
