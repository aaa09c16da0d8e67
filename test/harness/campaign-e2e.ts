import { expect } from 'bun:test';
import type { Db } from '../../db/types.ts';
import { attemptsOf, contactsOf, countersFromRows } from './campaign-rows.ts';
import type { TestUser } from './stack.ts';

/**
 * Campaigns end to end, as a client sees them: created, filled, started, paused and read over HTTP
 * from a real API; the simulator's originate log as what the PBX was asked to dial.
 */

/** Polls an asynchronous condition until it holds, or fails naming it. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(250);
  }
}

/** Last digit → what the simulator's callee does, and the attempts POLICY gives it. */
export const EXPECT: Record<string, { outcome: string; attempts: number }> = {
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
export const DIGITS = Object.keys(EXPECT);
/** Busy and no answer: one retry, a second later. */
export const POLICY = {
  busy: { after_seconds: 1, max_attempts: 2 },
  no_answer: { after_seconds: 1, max_attempts: 2 },
};
export const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** Per number: the call ids the simulator was asked to originate; and any id it accepted twice. */
export function originatesByNumber(
  ...sims: { originates: Array<{ channelId: string | null; endpoint: string; status: number }> }[]
) {
  const ids = new Map<string, Set<string>>();
  const accepted = new Map<string, number>();
  for (const sim of sims) {
    for (const o of sim.originates) {
      const number = /Local\/(\+?\d+)@/.exec(o.endpoint)?.[1] ?? o.endpoint;
      if (!o.channelId) continue;
      const set = ids.get(number) ?? new Set();
      set.add(o.channelId);
      ids.set(number, set);
      if (o.status >= 200 && o.status < 300) accepted.set(o.channelId, (accepted.get(o.channelId) ?? 0) + 1);
    }
  }
  return { ids, twice: [...accepted].filter(([, n]) => n > 1).map(([id]) => id) };
}

/** The campaign routes over HTTP for one user. */
export function campaignClient(apiUrl: () => string, user: TestUser) {
  async function call(
    path: string,
    init: { method?: string; json?: unknown; body?: string; type?: string; accept?: string } = {},
  ) {
    const headers: Record<string, string> = { Authorization: `Bearer ${user.token}` };
    if (init.accept) headers.Accept = init.accept;
    let body: string | undefined;
    if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body !== undefined) {
      headers['Content-Type'] = init.type ?? 'text/plain';
      body = init.body;
    }
    return fetch(`${apiUrl()}${path}`, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
    });
  }
  async function ok<T>(res: Response, what: string, status = 200): Promise<T> {
    if (res.status !== status) throw new Error(`${what}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }
  return {
    async create(body: Record<string, unknown>): Promise<{ id: string }> {
      const created = await ok<{ campaign_id: string }>(
        await call('/api/v2/campaigns', { json: body }),
        'create campaign',
        201,
      );
      return { id: created.campaign_id };
    },
    async importCsv(id: string, csv: string) {
      return ok<{
        accepted: number;
        merged: number;
        rejected: { row: number; reason: string }[];
        rejected_count: number;
      }>(await call(`/api/v2/campaigns/${id}/contacts`, { body: csv, type: 'text/csv' }), 'import contacts');
    },
    async action(id: string, action: 'start' | 'pause' | 'resume' | 'cancel') {
      return ok<{ state: string }>(
        await call(`/api/v2/campaigns/${id}/${action}`, { method: 'POST' }),
        action,
      );
    },
    async get(id: string) {
      return ok<{ state: string; counters: Record<string, number> }>(
        await call(`/api/v2/campaigns/${id}`),
        'get campaign',
      );
    },
    /** Every contact, page by page. */
    async contacts(id: string) {
      const all: ContactBody[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: ContactBody[]; next_cursor: string | null } = await ok(
          await call(`/api/v2/campaigns/${id}/contacts?limit=100${cursor ? `&cursor=${cursor}` : ''}`),
          'list contacts',
        );
        all.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      return all;
    },
    async results(id: string, accept: 'application/json' | 'text/csv') {
      const res = await call(`/api/v2/campaigns/${id}/results`, { accept });
      if (res.status !== 200) throw new Error(`results: ${res.status} ${await res.text()}`);
      return res.text();
    },
    async addDnc(phone: string) {
      await ok(
        await call('/api/v2/dnc', { json: { phone_number: phone } }),
        'add to the do-not-call list',
        201,
      );
    },
  };
}

export interface ContactBody {
  id: number;
  phone_number: string;
  timezone: string | null;
  state: string;
  attempts: number;
  next_attempt_at: string | null;
  final_outcome: string | null;
  source_row: number | null;
}

/**
 * The counters the API answers equal what the rows show (the contacts' states, the attempts and their
 * outcomes), and nothing is kept that the rows do not show.
 */
export async function expectCountersTrue(kept: Record<string, number>, db: Db, campaignId: string) {
  const truth = await countersFromRows(db, campaignId);
  for (const [name, value] of Object.entries(truth))
    expect({ name, value: kept[name] ?? 0 }).toEqual({ name, value });
  for (const [name, value] of Object.entries(kept)) {
    // outside_window counts moves, and answered_by answers: neither is a state of a row.
    if (name === 'outside_window' || name.startsWith('answered_by_')) continue;
    expect({ name, value }).toEqual({ name, value: truth[name] ?? 0 });
  }
}

/**
 * No attempt dialled twice: every call id the simulators accepted once at most, each contact's
 * attempt numbers distinct, one attempt row per call id, every attempt ended; and the contact's
 * attempt count is its attempt rows.
 */
export async function expectNoAttemptTwice(
  db: Db,
  campaignId: string,
  ...sims: Parameters<typeof originatesByNumber>
) {
  const { ids, twice } = originatesByNumber(...sims);
  expect(twice).toEqual([]);
  const contacts = await contactsOf(db, campaignId);
  const attempts = await attemptsOf(db, campaignId);
  expect(new Set(attempts.map((a) => a.callId)).size).toBe(attempts.length);
  for (const c of contacts) {
    const mine = attempts.filter((a) => a.contactId === c.id);
    const numbers = mine.map((a) => a.attempt).sort((a, b) => a - b);
    expect({ phone: c.phoneNumber, numbers }).toEqual({
      phone: c.phoneNumber,
      numbers: Array.from({ length: mine.length }, (_, i) => i + 1),
    });
    expect({ phone: c.phoneNumber, attempts: c.attempts }).toEqual({
      phone: c.phoneNumber,
      attempts: mine.length,
    });
    // Dialled at most once per attempt: never a call id the engine did not give an attempt.
    const mineIds = new Set(mine.map((a) => a.callId));
    for (const id of ids.get(c.phoneNumber) ?? [])
      expect({ phone: c.phoneNumber, id, known: mineIds.has(id) }).toEqual({
        phone: c.phoneNumber,
        id,
        known: true,
      });
  }
  return { contacts, attempts, ids };
}
