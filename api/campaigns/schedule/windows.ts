import { type CallingWindow, WEEKDAYS } from '../../shared/contract/index.ts';
import { localParts, zonedTime } from './zone.ts';

/**
 * Calling windows: days of the week and a local start and end (end excluded; 24:00 is the end of the
 * day). A window whose end is not after its start (which the API refuses, but a stored row may hold)
 * runs past midnight into the next day.
 */

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function dayIncluded(window: CallingWindow, weekday: number): boolean {
  return window.days.includes(WEEKDAYS[weekday]!);
}

/** Whether `at` falls inside one of the windows, read on the wall clock in `zone`. */
export function inWindow(at: Date, windows: readonly CallingWindow[], zone: string): boolean {
  const p = localParts(at, zone);
  return windows.some((w) => {
    const start = minutesOf(w.start);
    const end = minutesOf(w.end);
    if (start < end) return dayIncluded(w, p.weekday) && p.minute >= start && p.minute < end;
    return (
      (dayIncluded(w, p.weekday) && p.minute >= start) ||
      (dayIncluded(w, (p.weekday + 6) % 7) && p.minute < end)
    );
  });
}

/** Days looked ahead for an opening: a week and one day covers every weekly pattern. */
const HORIZON_DAYS = 8;

/**
 * The first instant at or after `at` inside one of the windows in `zone` (`at` itself when it is
 * inside), or null when there is none (no windows). Openings are computed on the local calendar,
 * so a DST change moves them with the wall clock.
 */
export function nextOpening(at: Date, windows: readonly CallingWindow[], zone: string): Date | null {
  if (windows.length === 0) return null;
  if (inWindow(at, windows, zone)) return at;
  const today = localParts(at, zone);
  let best: Date | null = null;
  for (let offset = 0; offset <= HORIZON_DAYS; offset++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    const weekday = (today.weekday + offset) % 7;
    for (const w of windows) {
      if (!dayIncluded(w, weekday)) continue;
      const opening = zonedTime(
        date.getUTCFullYear(),
        date.getUTCMonth() + 1,
        date.getUTCDate(),
        minutesOf(w.start),
        zone,
      );
      if (opening.getTime() <= at.getTime()) continue;
      if (!inWindow(opening, windows, zone)) continue;
      if (!best || opening.getTime() < best.getTime()) best = opening;
    }
    if (best) return best;
  }
  return best;
}
