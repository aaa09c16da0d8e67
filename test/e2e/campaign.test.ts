import { expect, test } from 'bun:test';
import type { CallingWindow } from '../../api/shared/contract/index.ts';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import {
  addDnc,
  attemptsOf,
  campaignRow,
  contactsOf,
  countersFromRows,
  countersOf,
  insertCampaign,
  insertContacts,
} from '../harness/campaign-rows.ts';
import { startE2EStack } from '../harness/e2e.ts';

/** Polls an asynchronous condition until it holds, or fails naming it. */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(250);
  }
}

/**
 * Campaigns end to end: the real API on PostgreSQL, the real sidecar pulling due attempts, the
 * simulator's callees choosing each call's outcome by the number's last digit. Contacts are stored as
 * an import stores them. Every contact ends as its outcome and the retry policy say, dialled once per
 * attempt, and the kept counters equal what the rows show — also across a kill -9 of the sidecar.
 */

/** Last digit → what the simulator does, and how many attempts the policy below gives it. */
const EXPECT: Record<string, { outcome: string; attempts: number }> = {
  '0': { outcome: 'answered', attempts: 1 },
  '1': { outcome: 'busy', attempts: 2 },
  '2': { outcome: 'no_answer', attempts: 2 },
  '3': { outcome: 'failed', attempts: 1 },
  '4': { outcome: 'answered', attempts: 1 },
  '6': { outcome: 'answered', attempts: 1 },
  '7': { outcome: 'failed', attempts: 1 },
  '8': { outcome: 'busy', attempts: 2 },
  '9': { outcome: 'no_answer', attempts: 2 },
};
const DIGITS = Object.keys(EXPECT);
const POLICY = {
  busy: { after_seconds: 1, max_attempts: 2 },
  no_answer: { after_seconds: 1, max_attempts: 2 },
};

const hh = (h: number) => `${String(((h % 24) + 24) % 24).padStart(2, '0')}:00`;
/** A window around this hour in UTC; Asia/Kolkata (UTC+5:30) is outside it now. */
function windowAroundNow(): CallingWindow {
  const h = new Date().getUTCHours();
  return { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: hh(h - 1), end: hh(h + 2) };
}

/** Per number: the distinct call ids the simulator was asked to originate, and any id asked twice and accepted. */
function originatesByNumber(sim: {
  originates: Array<{ channelId: string | null; endpoint: string; status: number }>;
}) {
  const ids = new Map<string, Set<string>>();
  const accepted = new Map<string, number>();
  for (const o of sim.originates) {
    const number = /Local\/(\+?\d+)@/.exec(o.endpoint)?.[1] ?? o.endpoint;
    if (!o.channelId) continue;
    const set = ids.get(number) ?? new Set();
    set.add(o.channelId);
    ids.set(number, set);
    if (o.status >= 200 && o.status < 300) accepted.set(o.channelId, (accepted.get(o.channelId) ?? 0) + 1);
  }
  return { ids, twice: [...accepted].filter(([, n]) => n > 1).map(([id]) => id) };
}

test('the issue’s 200 contacts: outcomes by digit, two zones, a DNC number, retries by policy, counters true', async () => {
  const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
  const stack = await startE2EStack({
    ari: sim,
    sidecar: { campaignPull: true, originateCps: 100, maxConcurrentCalls: 60 },
  });
  try {
    const op = await stack.user('operator');
    const db = stack.database.db;
    const campaign = await insertCampaign(db, {
      ownerId: op.id,
      context: null,
      timezone: 'UTC',
      windows: [windowAroundNow()],
      retry: POLICY,
      maxAttemptsPerDay: 5,
      cps: 50,
      maxConcurrent: 40,
      ringTimeoutMs: 4000,
    });
    // 180 in UTC across the digits, 19 in Kolkata (outside the window now), one on the DNC list.
    const utc = Array.from({ length: 180 }, (_, i) => ({
      phone: `+1555200${String(i).padStart(3, '0')}${DIGITS[i % DIGITS.length]}`,
    }));
    const kolkata = Array.from({ length: 19 }, (_, i) => ({
      phone: `+9198000${String(i).padStart(4, '0')}0`,
      timezone: 'Asia/Kolkata',
    }));
    const dnc = { phone: '+15552999990' };
    await insertContacts(db, campaign.id, [...utc, ...kolkata, dnc], new Date());
    await addDnc(db, dnc.phone);

    const settled = async () => {
      const contacts = await contactsOf(db, campaign.id);
      return contacts
        .filter((c) => c.timezone !== 'Asia/Kolkata')
        .every((c) => c.state === 'done' || c.state === 'dnc');
    };
    await waitUntil(settled, 90_000, 'every contact in the window to end');

    const contacts = await contactsOf(db, campaign.id);
    const { ids, twice } = originatesByNumber(sim);
    expect(twice).toEqual([]);
    for (const c of contacts) {
      if (c.phoneNumber === dnc.phone) {
        expect(c).toMatchObject({ state: 'dnc', attempts: 0 });
        expect(ids.get(c.phoneNumber)).toBeUndefined();
        continue;
      }
      if (c.timezone === 'Asia/Kolkata') {
        // Not dialled: due at the window's next opening in Kolkata.
        expect({ phone: c.phoneNumber, state: c.state, attempts: c.attempts }).toEqual({
          phone: c.phoneNumber,
          state: 'pending',
          attempts: 0,
        });
        expect(c.nextAttemptAt!.getTime()).toBeGreaterThan(Date.now());
        expect(ids.get(c.phoneNumber)).toBeUndefined();
        continue;
      }
      const want = EXPECT[c.phoneNumber.at(-1)!]!;
      expect({ phone: c.phoneNumber, state: c.state, final: c.finalOutcome, attempts: c.attempts }).toEqual({
        phone: c.phoneNumber,
        state: 'done',
        final: want.outcome,
        attempts: want.attempts,
      });
      // Dialled once per attempt, each attempt its own call id.
      expect({ phone: c.phoneNumber, dialled: ids.get(c.phoneNumber)?.size ?? 0 }).toEqual({
        phone: c.phoneNumber,
        dialled: want.attempts,
      });
    }
    const kept = await countersOf(db, campaign.id);
    const truth = await countersFromRows(db, campaign.id);
    for (const [name, value] of Object.entries(truth))
      expect({ name, value: kept[name] ?? 0 }).toEqual({ name, value });
    expect(kept).toMatchObject({
      total: 200,
      dnc_skipped: 1,
      outside_window: 19,
      pending: 19,
      in_progress: 0,
    });
    const attempts = await attemptsOf(db, campaign.id);
    expect(attempts.every((a) => a.outcome !== null)).toBe(true);
    // The Kolkata contacts keep it running.
    expect((await campaignRow(db, campaign.id)).state).toBe('running');
  } finally {
    await stack.stop();
    await sim.stop();
  }
}, 150_000);

test('kill -9 of the sidecar mid-campaign: no attempt dialled twice, every contact ends, counters true', async () => {
  const sim = await startAriSimulator({ port: 0, timeScale: 0.1 });
  const stack = await startE2EStack({
    ari: sim,
    sidecarMode: 'process',
    sidecar: { campaignPull: true, originateCps: 20, maxConcurrentCalls: 20, reconcileIntervalMs: 1000 },
  });
  try {
    const op = await stack.user('operator');
    const db = stack.database.db;
    const campaign = await insertCampaign(db, {
      ownerId: op.id,
      context: null,
      retry: { ...POLICY, lost: { after_seconds: 1, max_attempts: 3 } },
      maxAttemptsPerDay: 5,
      cps: 10,
      maxConcurrent: 20,
      ringTimeoutMs: 4000,
    });
    const digits = ['0', '1', '4', '6'];
    const list = Array.from({ length: 80 }, (_, i) => ({
      phone: `+1555300${String(i).padStart(3, '0')}${digits[i % digits.length]}`,
    }));
    await insertContacts(db, campaign.id, list, new Date());
    await waitUntil(
      async () => (await attemptsOf(db, campaign.id)).length >= 25,
      30_000,
      'attempts to be leased',
    );
    const before = await contactsOf(db, campaign.id);
    expect(before.filter((c) => c.state !== 'done').length).toBeGreaterThan(0);
    await stack.sidecar.kill();
    await Bun.sleep(1500);
    await stack.sidecar.start();

    const allEnded = async () => (await contactsOf(db, campaign.id)).every((c) => c.state === 'done');
    try {
      await waitUntil(allEnded, 30_000, 'every contact to end');
    } catch {
      // Attempts leased in a reply the killed sidecar never read end lost when their lease passes:
      // move the API's campaign clock past it instead of waiting.
      stack.api.services.now = () => new Date(Date.now() + 5 * 60_000);
      await waitUntil(allEnded, 60_000, 'every contact to end after the leases passed');
    }

    const { ids, twice } = originatesByNumber(sim);
    expect(twice).toEqual([]);
    const contacts = await contactsOf(db, campaign.id);
    const attempts = await attemptsOf(db, campaign.id);
    for (const c of contacts) {
      const mine = attempts.filter((a) => a.contactId === c.id);
      expect(mine.every((a) => a.outcome !== null)).toBe(true);
      // Every attempt was dialled at most once (its call id is the channel id), never two at once.
      expect((ids.get(c.phoneNumber)?.size ?? 0) <= mine.length).toBe(true);
      expect(c.attempts).toBe(mine.length);
      expect(['answered', 'busy']).toContain(c.finalOutcome!);
    }
    const kept = await countersOf(db, campaign.id);
    const truth = await countersFromRows(db, campaign.id);
    for (const [name, value] of Object.entries(truth))
      expect({ name, value: kept[name] ?? 0 }).toEqual({ name, value });
    expect(kept).toMatchObject({ total: 80, done: 80, pending: 0, in_progress: 0 });
    expect((await campaignRow(db, campaign.id)).state).toBe('completed');
  } finally {
    await stack.stop();
    await sim.stop();
  }
}, 180_000);
