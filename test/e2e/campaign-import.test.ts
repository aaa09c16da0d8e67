import { expect, test } from 'bun:test';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import {
  type ContactBody,
  campaignClient,
  DIGITS,
  EVERY_DAY,
  EXPECT,
  expectCountersTrue,
  expectNoAttemptTwice,
  POLICY,
  waitUntil,
} from '../harness/campaign-e2e.ts';
import { attemptsOf } from '../harness/campaign-rows.ts';
import { startE2EStack } from '../harness/e2e.ts';

/**
 * The 200-contact campaign as a client runs it: created, imported as CSV (with rows to
 * reject), started over HTTP; the real sidecar pulls due attempts from the real API on PostgreSQL and
 * the simulator's callees choose each call's outcome by the number's last digit. The API's campaign
 * clock is the test's (CAMPAIGN_CLOCK_OFFSET_SECONDS): first a Wednesday noon in UTC, when Kolkata
 * is outside the campaign's 10:00–14:00; then, after a restart of the API, the next morning, when
 * Kolkata is inside it.
 */

const HOUR = 3600;
/** Seconds from now to the next Wednesday at `hourUtc`:00 UTC (at least an hour away). */
function offsetToWednesday(hourUtc: number): number {
  const now = new Date();
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hourUtc));
  while (at.getUTCDay() !== 3 || at.getTime() - now.getTime() < HOUR * 1000)
    at.setUTCDate(at.getUTCDate() + 1);
  // Rounded up: the campaign clock is never before the hour named.
  return Math.ceil((at.getTime() - now.getTime()) / 1000);
}

test('200 contacts imported as CSV: rejected rows reported, DNC never dialled, Kolkata only in its window, retries by policy, counters and export true', async () => {
  const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
  // Wednesday 12:00 UTC on the campaign clock: 17:30 in Kolkata.
  const noonUtc = offsetToWednesday(12);
  const stack = await startE2EStack({
    ari: sim,
    apiEnv: { CAMPAIGN_CLOCK_OFFSET_SECONDS: String(noonUtc), CAMPAIGN_MAX_CPS: '100' },
    sidecar: { campaignPull: true, originateCps: 100, maxConcurrentCalls: 60 },
  });
  try {
    const op = await stack.user('operator');
    const api = campaignClient(() => stack.apiUrl, op);
    const { id } = await api.create({
      name: 'two zones',
      timezone: 'UTC',
      windows: [{ days: EVERY_DAY, start: '10:00', end: '14:00' }],
      retry: POLICY,
      max_attempts_per_day: 5,
      cps: 100,
      max_concurrent: 50,
      ring_timeout_ms: 4000,
    });

    // 150 in the campaign's zone across the outcome digits, 49 in Kolkata, one on the DNC list;
    // between them a row per way a row is refused.
    const utc = Array.from(
      { length: 150 },
      (_, i) => `+1555200${String(i).padStart(3, '0')}${DIGITS[i % 9]}`,
    );
    const kolkata = Array.from(
      { length: 49 },
      (_, i) => `+9198000${String(i).padStart(4, '0')}${DIGITS[i % 9]}`,
    );
    const dnc = '+15552999990';
    const lines: string[] = [];
    const rejectedAt: Record<number, string> = {};
    const push = (line: string) => lines.push(line);
    const bad = (line: string, reason: string) => {
      rejectedAt[lines.length + 1] = reason;
      lines.push(line);
    };
    utc.forEach((phone, i) => {
      push(`${phone},,n${i}`);
      if (i === 40) bad('555-CALL-NOW,,x', 'must be digits');
      if (i === 90) bad('+1 555,,x', 'length');
    });
    push(`${dnc},,dnc`);
    kolkata.forEach((phone, i) => {
      push(`${phone},Asia/Kolkata,k${i}`);
      if (i === 20) bad('+15553000000,Mars/Olympus,x', 'Mars/Olympus');
    });
    const report = await api.importCsv(id, `phone_number,timezone,NAME\r\n${lines.join('\r\n')}\r\n`);
    expect({
      accepted: report.accepted,
      merged: report.merged,
      rejected_count: report.rejected_count,
    }).toEqual({
      accepted: 200,
      merged: 0,
      rejected_count: 3,
    });
    expect(report.rejected.map((r) => r.row)).toEqual(Object.keys(rejectedAt).map(Number));
    for (const r of report.rejected) expect(r.reason).toContain(rejectedAt[r.row]!);

    await api.addDnc(dnc);
    expect((await api.action(id, 'start')).state).toBe('running');

    const isKolkata = (c: ContactBody) => c.timezone === 'Asia/Kolkata';
    await waitUntil(
      async () => {
        const { counters } = await api.get(id);
        return (counters.done ?? 0) + (counters.dnc_skipped ?? 0) === 151 && counters.in_progress === 0;
      },
      60_000,
      'every contact in the window to end',
    );
    // Kolkata's contacts wait for their window, undialled; the campaign runs on for them.
    const before = await api.contacts(id);
    expect(before.filter((c) => !isKolkata(c)).every((c) => c.state === 'done' || c.state === 'dnc')).toBe(
      true,
    );
    for (const c of before.filter(isKolkata)) {
      expect({ phone: c.phone_number, state: c.state, attempts: c.attempts }).toEqual({
        phone: c.phone_number,
        state: 'pending',
        attempts: 0,
      });
    }
    const dialledBefore = new Set(sim.originates.map((o) => /Local\/(\+?\d+)@/.exec(o.endpoint)?.[1]));
    for (const phone of kolkata)
      expect({ phone, dialled: dialledBefore.has(phone) }).toEqual({ phone, dialled: false });
    const first = await api.get(id);
    expect(first.state).toBe('running');
    expect(first.counters).toMatchObject({ total: 200, pending: 49, in_progress: 0, dnc_skipped: 1 });
    expect(first.counters.outside_window).toBeGreaterThanOrEqual(49);
    await expectCountersTrue(first.counters, stack.database.db, id);

    // The next morning (06:30 UTC, 12:00 in Kolkata), after a restart of the API.
    await stack.stopApi();
    await stack.startApi({ CAMPAIGN_CLOCK_OFFSET_SECONDS: String(noonUtc + 18 * HOUR + 30 * 60) });
    await waitUntil(
      async () => (await api.get(id)).state === 'completed',
      60_000,
      'the campaign to complete',
    );

    const { ids } = await expectNoAttemptTwice(stack.database.db, id, sim);
    const contacts = await api.contacts(id);
    expect(contacts).toHaveLength(200);
    for (const c of contacts) {
      if (c.phone_number === dnc) {
        expect({ state: c.state, attempts: c.attempts, dialled: ids.has(dnc) }).toEqual({
          state: 'dnc',
          attempts: 0,
          dialled: false,
        });
        continue;
      }
      const want = EXPECT[c.phone_number.at(-1)!]!;
      // Busy and no answer retried once, as the policy says, and no more; the rest dialled once.
      expect({
        phone: c.phone_number,
        state: c.state,
        final: c.final_outcome,
        attempts: c.attempts,
        dialled: ids.get(c.phone_number)?.size ?? 0,
      }).toEqual({
        phone: c.phone_number,
        state: 'done',
        final: want.outcome,
        attempts: want.attempts,
        dialled: want.attempts,
      });
    }
    const last = await api.get(id);
    expect(last.counters).toMatchObject({
      total: 200,
      pending: 0,
      in_progress: 0,
      done: 199,
      dnc_skipped: 1,
    });
    await expectCountersTrue(last.counters, stack.database.db, id);

    // The export, as JSON and as CSV, says what the contacts and their attempts say.
    const attempts = await attemptsOf(stack.database.db, id);
    const byContact = new Map(contacts.map((c) => [c.phone_number, c]));
    const records = JSON.parse(await api.results(id, 'application/json')) as Array<{
      phone_number: string;
      state: string;
      attempts: number;
      final_outcome: string | null;
      calls: { attempt: number; call_id: string; outcome: string | null }[];
    }>;
    expect(records.map((r) => r.phone_number).sort()).toEqual([...byContact.keys()].sort());
    for (const r of records) {
      const c = byContact.get(r.phone_number)!;
      const mine = attempts
        .filter((a) => a.contactId === c.id)
        .sort((a, b) => a.attempt - b.attempt)
        .map((a) => ({ attempt: a.attempt, call_id: a.callId, outcome: a.outcome }));
      expect({
        phone: r.phone_number,
        state: r.state,
        attempts: r.attempts,
        final: r.final_outcome,
        calls: r.calls.map(({ attempt, call_id, outcome }) => ({ attempt, call_id, outcome })),
      }).toEqual({
        phone: c.phone_number,
        state: c.state,
        attempts: c.attempts,
        final: c.final_outcome,
        calls: mine,
      });
    }
    const [header, ...rows] = (await api.results(id, 'text/csv')).trimEnd().split('\r\n');
    const columns = header!.split(',');
    expect(columns.slice(0, 4)).toEqual(['phone_number', 'state', 'attempts', 'final_outcome']);
    expect(rows).toHaveLength(200);
    const byPhone = new Map(records.map((r) => [r.phone_number, r]));
    for (const row of rows) {
      const cells = Object.fromEntries(row.split(',').map((v, i) => [columns[i]!, v]));
      const r = byPhone.get(cells.phone_number!)!;
      expect(cells).toMatchObject({
        state: r.state,
        attempts: String(r.attempts),
        final_outcome: r.final_outcome ?? '',
        ...Object.fromEntries(
          r.calls.flatMap((call) => [
            [`attempt_${call.attempt}_call_id`, call.call_id],
            [`attempt_${call.attempt}_outcome`, call.outcome ?? ''],
          ]),
        ),
      });
    }
  } finally {
    await stack.stop();
    await sim.stop();
  }
}, 150_000);
