import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import type { CallingWindow } from '../../shared/contract/index.ts';
import { afterOutcome, type CampaignForRetry, dayCapped } from './retry.ts';
import { inWindow, nextOpening } from './windows.ts';
import { localDay, localParts, zonedTime } from './zone.ts';

const weekdays: CallingWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' };
const everyDay = (start: string, end: string): CallingWindow => ({
  days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
  start,
  end,
});
const ZONES = ['America/Chicago', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Lord_Howe', 'UTC'];

describe('local time', () => {
  test('the parts of an instant on the wall clock of a zone', () => {
    // 2024-03-10 is a Sunday; 07:59:59Z is 01:59:59 CST, one second before the clocks jump to 03:00.
    expect(localParts(new Date('2024-03-10T07:59:59Z'), 'America/Chicago')).toMatchObject({
      year: 2024,
      month: 3,
      day: 10,
      weekday: 6,
      minute: 119,
    });
    expect(localParts(new Date('2024-03-10T08:00:00Z'), 'America/Chicago').minute).toBe(180);
    expect(localDay(new Date('2024-06-30T23:30:00Z'), 'Europe/Berlin')).toBe('2024-07-01');
    expect(localDay(new Date('2024-06-30T23:30:00Z'), 'America/Chicago')).toBe('2024-06-30');
  });

  test('a wall-clock time names the instant showing it, across DST changes', () => {
    // Spring forward: 02:30 does not exist in Chicago on 2024-03-10: the end of the gap (03:00 CDT).
    expect(zonedTime(2024, 3, 10, 150, 'America/Chicago').toISOString()).toBe('2024-03-10T08:00:00.000Z');
    expect(zonedTime(2024, 3, 10, 9 * 60, 'America/Chicago').toISOString()).toBe('2024-03-10T14:00:00.000Z');
    expect(zonedTime(2024, 3, 9, 9 * 60, 'America/Chicago').toISOString()).toBe('2024-03-09T15:00:00.000Z');
    // Fall back: 02:30 is shown twice in Berlin on 2024-10-27: its first showing (CEST).
    expect(zonedTime(2024, 10, 27, 150, 'Europe/Berlin').toISOString()).toBe('2024-10-27T00:30:00.000Z');
    expect(zonedTime(2024, 10, 27, 9 * 60, 'Europe/Berlin').toISOString()).toBe('2024-10-27T08:00:00.000Z');
  });

  test('any local time that exists round-trips through zonedTime', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('2020-01-01T00:00:00Z'),
          max: new Date('2030-01-01T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.constantFrom(...ZONES),
        (at, zone) => {
          const minuteStart = new Date(Math.floor(at.getTime() / 60_000) * 60_000);
          const p = localParts(minuteStart, zone);
          const back = zonedTime(p.year, p.month, p.day, p.minute, zone);
          // Same wall time; at a repeated hour the first showing, never a later one.
          expect(localParts(back, zone).minute).toBe(p.minute);
          expect(back.getTime()).toBeLessThanOrEqual(minuteStart.getTime());
        },
      ),
    );
  });
});

describe('windows', () => {
  test('inside a window: its days, from its start, its end excluded', () => {
    const zone = 'America/Chicago';
    // 2024-06-03 is a Monday; Chicago is UTC-5 in June.
    expect(inWindow(new Date('2024-06-03T14:00:00Z'), [weekdays], zone)).toBe(true);
    expect(inWindow(new Date('2024-06-03T13:59:59Z'), [weekdays], zone)).toBe(false);
    expect(inWindow(new Date('2024-06-03T22:00:00Z'), [weekdays], zone)).toBe(false);
    expect(inWindow(new Date('2024-06-03T21:59:59Z'), [weekdays], zone)).toBe(true);
    // Saturday.
    expect(inWindow(new Date('2024-06-08T16:00:00Z'), [weekdays], zone)).toBe(false);
    // A window past midnight: Friday 22:00 to Saturday 02:00.
    const night: CallingWindow = { days: ['fri'], start: '22:00', end: '02:00' };
    expect(inWindow(new Date('2024-06-08T06:30:00Z'), [night], zone)).toBe(true);
    expect(inWindow(new Date('2024-06-08T07:30:00Z'), [night], zone)).toBe(false);
  });

  test('a window to 24:00 holds the day’s last minute; 00:00 to 24:00 every day holds every minute', () => {
    const zone = 'America/Chicago';
    const evening: CallingWindow = { days: ['mon'], start: '20:00', end: '24:00' };
    // Monday 23:59:59 local (Tuesday 04:59:59 UTC) is inside; Tuesday 00:00 is not.
    expect(inWindow(new Date('2024-06-04T04:59:59Z'), [evening], zone)).toBe(true);
    expect(inWindow(new Date('2024-06-04T05:00:00Z'), [evening], zone)).toBe(false);
    expect(nextOpening(new Date('2024-06-04T04:59:30Z'), [evening], zone)?.toISOString()).toBe(
      '2024-06-04T04:59:30.000Z',
    );
    const always = everyDay('00:00', '24:00');
    for (let minute = 0; minute < 7 * 24 * 60; minute += 7)
      expect(inWindow(new Date(Date.UTC(2024, 5, 3) + minute * 60_000 + 59_000), [always], zone)).toBe(true);
  });

  test('the next opening: now when inside, else the next start on the local calendar', () => {
    const zone = 'America/Chicago';
    const inside = new Date('2024-06-03T15:00:00Z');
    expect(nextOpening(inside, [weekdays], zone)).toEqual(inside);
    // Friday 18:00 local → Monday 09:00 local.
    expect(nextOpening(new Date('2024-06-07T23:00:00Z'), [weekdays], zone)?.toISOString()).toBe(
      '2024-06-10T14:00:00.000Z',
    );
    expect(nextOpening(new Date('2024-06-07T23:00:00Z'), [], zone)).toBeNull();
  });

  test('openings follow the wall clock over a DST change (Chicago and Berlin)', () => {
    // Saturday evening before Chicago springs forward: Sunday 09:00 CDT is 14:00Z, not 15:00Z.
    expect(
      nextOpening(
        new Date('2024-03-09T23:00:00Z'),
        [everyDay('09:00', '17:00')],
        'America/Chicago',
      )?.toISOString(),
    ).toBe('2024-03-10T14:00:00.000Z');
    // A window opening inside the skipped hour opens when the clock lands after it.
    expect(
      nextOpening(
        new Date('2024-03-10T06:00:00Z'),
        [everyDay('02:30', '05:00')],
        'America/Chicago',
      )?.toISOString(),
    ).toBe('2024-03-10T08:00:00.000Z');
    // Berlin falls back on 2024-10-27: Sunday 09:00 CET is 08:00Z (Saturday's was 07:00Z).
    expect(
      nextOpening(
        new Date('2024-10-26T20:00:00Z'),
        [everyDay('09:00', '17:00')],
        'Europe/Berlin',
      )?.toISOString(),
    ).toBe('2024-10-27T08:00:00.000Z');
    expect(
      nextOpening(
        new Date('2024-10-25T20:00:00Z'),
        [everyDay('09:00', '17:00')],
        'Europe/Berlin',
      )?.toISOString(),
    ).toBe('2024-10-26T07:00:00.000Z');
  });

  const windowArb = fc
    .record({
      days: fc.uniqueArray(fc.constantFrom('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun' as const), {
        minLength: 1,
        maxLength: 7,
      }),
      start: fc.integer({ min: 0, max: 23 * 60 }),
      length: fc.integer({ min: 15, max: 12 * 60 }),
    })
    .map(
      ({ days, start, length }): CallingWindow => ({
        days,
        start: hhmm(start),
        end: hhmm(Math.min(start + length, 23 * 60 + 59)),
      }),
    );

  test('the next opening is inside a window, not before the moment asked, and nothing earlier is inside', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('2023-01-01T00:00:00Z'),
          max: new Date('2027-01-01T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.array(windowArb, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...ZONES),
        (at, windows, zone) => {
          const opening = nextOpening(at, windows, zone);
          expect(opening).not.toBeNull();
          expect(opening!.getTime()).toBeGreaterThanOrEqual(at.getTime());
          expect(inWindow(opening!, windows, zone)).toBe(true);
          // A minute before the opening (and after `at`) is outside every window.
          const before = new Date(opening!.getTime() - 60_000);
          if (before.getTime() > at.getTime()) expect(inWindow(before, windows, zone)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

describe('after an outcome', () => {
  const campaign: CampaignForRetry = {
    timezone: 'America/Chicago',
    windows: [everyDay('09:00', '17:00')],
    retry: {
      busy: { after_seconds: 600, max_attempts: 3 },
      no_answer: { after_seconds: 3600, max_attempts: 2 },
    },
    maxAttemptsPerDay: 5,
    endsAt: null,
  };
  const now = new Date('2024-06-03T15:00:00Z');
  const contact = { attempts: 1, attemptsToday: 1, attemptsDay: '2024-06-03', timezone: null };

  test('answered and canceled end the contact; outcomes without a rule too', () => {
    expect(afterOutcome(contact, 'answered', campaign, now)).toEqual({
      state: 'done',
      final_outcome: 'answered',
    });
    expect(afterOutcome(contact, 'canceled', campaign, now)).toEqual({
      state: 'done',
      final_outcome: 'canceled',
    });
    expect(afterOutcome(contact, 'failed', campaign, now)).toEqual({
      state: 'done',
      final_outcome: 'failed',
    });
  });

  test('a rule retries after its delay while attempts are left, and no more', () => {
    expect(afterOutcome(contact, 'busy', campaign, now)).toEqual({
      state: 'pending',
      next_attempt_at: new Date('2024-06-03T15:10:00Z'),
    });
    expect(afterOutcome({ ...contact, attempts: 2, attemptsToday: 2 }, 'busy', campaign, now).state).toBe(
      'pending',
    );
    expect(afterOutcome({ ...contact, attempts: 3, attemptsToday: 3 }, 'busy', campaign, now)).toEqual({
      state: 'done',
      final_outcome: 'busy',
    });
    expect(afterOutcome({ ...contact, attempts: 2 }, 'no_answer', campaign, now).state).toBe('done');
  });

  test('the per-day cap moves the retry to the next local day’s first window', () => {
    const capped = { ...campaign, maxAttemptsPerDay: 1 };
    // 15:00Z is 10:00 in Chicago on Monday 3 June: the next try is Tuesday 09:00 CDT.
    expect(afterOutcome(contact, 'busy', capped, now)).toEqual({
      state: 'pending',
      next_attempt_at: new Date('2024-06-04T14:00:00Z'),
    });
    // The contact's own zone decides its day: in Berlin it is already evening; tomorrow 09:00 CEST.
    const berlin = { ...contact, timezone: 'Europe/Berlin' };
    expect(afterOutcome(berlin, 'busy', capped, now)).toEqual({
      state: 'pending',
      next_attempt_at: new Date('2024-06-04T07:00:00Z'),
    });
    // Attempts counted on another day do not count against this one.
    expect(afterOutcome({ ...contact, attemptsDay: '2024-06-02' }, 'busy', capped, now)).toEqual({
      state: 'pending',
      next_attempt_at: new Date('2024-06-03T15:10:00Z'),
    });
    expect(dayCapped(contact, capped, now)?.toISOString()).toBe('2024-06-04T14:00:00.000Z');
  });

  test('no retry once the campaign would have ended', () => {
    const ending = { ...campaign, endsAt: new Date('2024-06-03T15:05:00Z') };
    expect(afterOutcome(contact, 'busy', ending, now)).toEqual({ state: 'done', final_outcome: 'busy' });
  });

  test('never more attempts than the rule allows, whatever the history', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('busy', 'no_answer', 'failed', 'machine', 'lost', 'answered' as const),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 10 }),
        (outcome, attempts, today) => {
          const step = afterOutcome({ ...contact, attempts, attemptsToday: today }, outcome, campaign, now);
          const rule = campaign.retry[outcome as 'busy'];
          if (step.state === 'pending') {
            expect(rule).toBeDefined();
            expect(attempts).toBeLessThan(rule!.max_attempts);
            expect(step.next_attempt_at.getTime()).toBeGreaterThan(now.getTime());
          } else expect(step.final_outcome).toBe(outcome);
        },
      ),
    );
  });
});
