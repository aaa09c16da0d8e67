import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { parse } from 'csv-parse/sync';
import { and, count, eq } from 'drizzle-orm';
import type { CampaignState } from '../../api/shared/contract/index.ts';
import { calls, campaignAttempts, campaignContacts, campaignCounters, campaigns } from '../../db/schema.ts';
import {
  expectProblem,
  MODES,
  type Mode,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

let stack: TestStack;
let operator: TestUser;
let other: TestUser;
let viewer: TestUser;
let admin: TestUser;

/** The caps the stack runs with: the 100,000-row import fits exactly; one more row does not. */
const MAX_ROWS = 100_000;
const MAX_BYTES = 4 * 1024 * 1024;

beforeAll(async () => {
  stack = await startTestStack({
    env: { CONTACTS_IMPORT_MAX_ROWS: String(MAX_ROWS), CONTACTS_IMPORT_MAX_BYTES: String(MAX_BYTES) },
  });
  // One after another: workerd checks passwords in the isolate, a few at a time.
  operator = await stack.user('operator');
  other = await stack.user('operator');
  viewer = await stack.user('viewer');
  admin = await stack.user('admin');
}, 60_000);
afterAll(() => stack.stop());

/** A campaign row, as the campaign routes would create it. */
async function campaign(owner: TestUser, state: CampaignState = 'draft'): Promise<string> {
  const [row] = await stack.database.db
    .insert(campaigns)
    .values({
      ownerId: owner.id,
      name: `test ${crypto.randomUUID().slice(0, 8)}`,
      state,
      context: 'outbound-ivr',
      extension: 's',
      timezone: 'America/New_York',
      windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
    })
    .returning({ id: campaigns.id });
  return row!.id;
}

async function contactsOf(campaignId: string) {
  return stack.database.db
    .select()
    .from(campaignContacts)
    .where(eq(campaignContacts.campaignId, campaignId))
    .orderBy(campaignContacts.id);
}

async function contactCount(campaignId: string): Promise<number> {
  const [row] = await stack.database.db
    .select({ n: count() })
    .from(campaignContacts)
    .where(eq(campaignContacts.campaignId, campaignId));
  return Number(row?.n ?? 0);
}

async function counters(campaignId: string): Promise<Record<string, number>> {
  const rows = await stack.database.db
    .select()
    .from(campaignCounters)
    .where(eq(campaignCounters.campaignId, campaignId));
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.value)]));
}

interface Report {
  accepted: number;
  merged: number;
  rejected: { row: number; reason: string }[];
  rejected_count: number;
}

const importInto = (mode: Mode, user: TestUser, campaignId: string, body: BodyInit, type: string) =>
  stack.request(mode, `/api/v2/campaigns/${campaignId}/contacts`, {
    method: 'POST',
    token: user.token,
    headers: { 'Content-Type': type },
    body,
  });

async function imported(res: Response): Promise<Report> {
  const text = await res.text();
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${text}`);
  return JSON.parse(text) as Report;
}

/** A body streamed from `lines`, never held whole by the test either; optionally failing after `failAfter`. */
function streamed(lines: () => Generator<string>, failAfter?: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const it = lines();
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      let text = '';
      for (let i = 0; i < 2000; i++) {
        if (failAfter !== undefined && sent >= failAfter) {
          controller.error(new Error('the client went away'));
          return;
        }
        const next = it.next();
        if (next.done) {
          if (text) controller.enqueue(encoder.encode(text));
          controller.close();
          return;
        }
        text += next.value;
        sent++;
      }
      controller.enqueue(encoder.encode(text));
    },
  });
}

/** `n` distinct US numbers from `start`, as people write them. */
const usNumber = (i: number) =>
  `(202) 5${String(i).padStart(6, '0').slice(0, 2)}-${String(i).padStart(6, '0').slice(2)}`;
const e164 = (i: number) => `+12025${String(i).padStart(6, '0')}`;

function* csvLines(from: number, to: number) {
  yield 'phone_number,timezone,FIRST_NAME\r\n';
  for (let i = from; i < to; i++) yield `${usNumber(i)},America/Chicago,N${i}\r\n`;
}

for (const mode of MODES) {
  describe(`campaign contacts import (${mode})`, () => {
    test('a JSON array: numbers in E.164, bad rows reported by row with a plain reason, counters grown', async () => {
      const id = await campaign(operator);
      const res = await importInto(
        mode,
        operator,
        id,
        JSON.stringify([
          { phone_number: '(202) 555-0101', timezone: 'america/new_york', variables: { FIRST_NAME: 'Ada' } },
          { phone_number: '+44 20 7946 0958' },
          { phone_number: 'not a number' },
          { phone_number: '202-555-0102', timezone: 'Mars/Olympus' },
          { phone_number: '202-555-0103', variables: { 'bad-name': 'x' } },
          { phone_number: '202-555-0104', surname: 'Lovelace' },
          { timezone: 'UTC' },
          42,
          { phone_number: '+1 202 555 0101', variables: { FIRST_NAME: 'Second' } },
          { phone_number: '202.555.0105', variables: { NOTE: 'a'.repeat(257) } },
          { phone_number: '202 555 0106', timezone: null },
        ]),
        'application/json',
      );
      const report = await imported(res);
      expect(report.accepted).toBe(3);
      expect(report.merged).toBe(1);
      expect(report.rejected_count).toBe(7);
      expect(report.rejected.map((r) => r.row)).toEqual([3, 4, 5, 6, 7, 8, 10]);
      const reasons = Object.fromEntries(report.rejected.map((r) => [r.row, r.reason]));
      expect(reasons[3]).toBe(
        'phone_number must be digits, with an optional + and spaces, ( ) - or . (at most 40)',
      );
      expect(reasons[4]).toContain('timezone "Mars/Olympus" is not an IANA time zone');
      expect(reasons[5]).toContain('variable "bad-name" is not a variable name');
      expect(reasons[6]).toContain('"surname" is not a field of a contact');
      expect(reasons[7]).toBe('phone_number is missing');
      expect(reasons[8]).toContain('is not an object');
      expect(reasons[10]).toContain('longer than 256 characters');
      const rows = await contactsOf(id);
      expect(rows.map((r) => r.phoneNumber)).toEqual(['+12025550101', '+442079460958', '+12025550106']);
      // The first row of a number wins; the zone is spelled as IANA spells it.
      expect(rows[0]!.variables).toEqual({ FIRST_NAME: 'Ada' });
      expect(rows[0]!.timezone).toBe('America/New_York');
      expect(rows[0]!.sourceRow).toBe(1);
      expect(rows.every((r) => r.state === 'pending' && r.nextAttemptAt !== null)).toBe(true);
      expect(await counters(id)).toEqual({ total: 3, pending: 3 });
    });

    test('a CSV file: BOM, CRLF, quoted fields, variables from columns, ragged rows rejected', async () => {
      const id = await campaign(operator);
      const csv =
        '\uFEFFphone_number,timezone,FIRST_NAME,NOTE\r\n' +
        '202-555-0111,America/Chicago,Ada,"likes ""tea"", not coffee"\r\n' +
        '202-555-0112,,"Grace\r\nHopper",\r\n' +
        '202-555-0113,UTC\r\n' +
        '202-555-0114,UTC,a,b,c\r\n' +
        'nope,UTC,x,y\r\n' +
        '\r\n' +
        '202-555-0111,UTC,Again,\r\n' +
        '202-555-0115,Europe/Nowhere,x,y\r\n' +
        '202-555-0116,Europe/Paris,Émile,naïve ✓';
      const report = await imported(await importInto(mode, operator, id, csv, 'text/csv; charset=utf-8'));
      expect(report).toEqual({
        accepted: 2,
        merged: 1,
        rejected_count: 5,
        rejected: [
          // A quoted line end is read as part of its field, which a call variable may not hold.
          { row: 2, reason: 'variable FIRST_NAME contains control characters' },
          { row: 3, reason: 'has 2 fields; the header has 4' },
          { row: 4, reason: 'has 5 fields; the header has 4' },
          {
            row: 5,
            reason: 'phone_number must be digits, with an optional + and spaces, ( ) - or . (at most 40)',
          },
          {
            row: 7,
            reason: 'timezone "Europe/Nowhere" is not an IANA time zone such as America/New_York',
          },
        ],
      });
      const rows = await contactsOf(id);
      expect(rows.map((r) => [r.phoneNumber, r.timezone, r.variables, r.sourceRow])).toEqual([
        ['+12025550111', 'America/Chicago', { FIRST_NAME: 'Ada', NOTE: 'likes "tea", not coffee' }, 1],
        ['+12025550116', 'Europe/Paris', { FIRST_NAME: 'Émile', NOTE: 'naïve ✓' }, 8],
      ]);
      expect(await counters(id)).toEqual({ total: 2, pending: 2 });
    });

    test('a CSV header without phone_number, or with a column that cannot be a variable, refuses the import', async () => {
      const id = await campaign(operator);
      const missing = await expectProblem(
        await importInto(mode, operator, id, 'number,timezone\r\n202-555-0101,UTC\r\n', 'text/csv'),
        422,
        'validation_error',
      );
      expect(missing.detail).toContain('has no phone_number column');
      const bad = await expectProblem(
        await importInto(mode, operator, id, 'phone_number,first name\r\n202-555-0101,Ada\r\n', 'text/csv'),
        422,
        'validation_error',
      );
      expect(bad.detail).toContain('"first name"');
      expect(await contactCount(id)).toBe(0);
    });

    test('a second import merges numbers the campaign has: the first data stays, counters count new ones only', async () => {
      const id = await campaign(operator, 'running');
      await imported(
        await importInto(
          mode,
          operator,
          id,
          'phone_number,N\r\n202-555-0121,first\r\n202-555-0122,first\r\n',
          'text/csv',
        ),
      );
      const second = await imported(
        await importInto(
          mode,
          operator,
          id,
          JSON.stringify([
            { phone_number: '+12025550122', variables: { N: 'second' } },
            { phone_number: '202-555-0123', variables: { N: 'second' } },
            { phone_number: '2025550123', variables: { N: 'third' } },
          ]),
          'application/json',
        ),
      );
      expect(second).toEqual({ accepted: 1, merged: 2, rejected: [], rejected_count: 0 });
      const rows = await contactsOf(id);
      expect(rows.map((r) => [r.phoneNumber, r.variables.N])).toEqual([
        ['+12025550121', 'first'],
        ['+12025550122', 'first'],
        ['+12025550123', 'second'],
      ]);
      expect(await counters(id)).toEqual({ total: 3, pending: 3 });
    });

    test('a body that cannot be read to its end keeps none of its rows, even those already written', async () => {
      const id = await campaign(operator);
      // 3,000 good contacts (three batches written), then an element that is not JSON.
      const elements = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ phone_number: e164(i) }));
      const badJson = `[${elements.join(',')},{"phone_number": +1}]`;
      const json = await expectProblem(
        await importInto(mode, operator, id, badJson, 'application/json'),
        400,
      );
      expect(json.detail).toContain('element 3001 is not valid JSON');
      const badCsv = `${[...csvLines(0, 3000)].join('')}202-555-0100,"UTC"x,y\r\n`;
      const csv = await expectProblem(await importInto(mode, operator, id, badCsv, 'text/csv'), 400);
      expect(csv.detail).toContain('row 3001');
      expect(await contactCount(id)).toBe(0);
      expect(await counters(id)).toEqual({});
    });

    test('a chunked CSV import whose client goes away mid-upload keeps none of its rows', async () => {
      const id = await campaign(operator);
      if (mode === 'in-process') {
        const res = await importInto(
          mode,
          operator,
          id,
          streamed(() => csvLines(0, 10_000), 5000),
          'text/csv',
        );
        await expectProblem(res, 400, 'malformed_request');
      } else {
        // The client goes away mid-upload: its request never answers.
        const abort = new AbortController();
        const body = streamed(() => csvLines(0, 10_000), 5000);
        const sent = fetch(`${stack.url}/api/v2/campaigns/${id}/contacts`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${operator.token}`, 'Content-Type': 'text/csv' },
          body,
          signal: abort.signal,
        }).catch((error: unknown) => error);
        await Bun.sleep(300);
        abort.abort();
        await sent;
      }
      // An import after it waits for the broken one to end, then finds the campaign as it was.
      const next = await imported(
        await importInto(mode, operator, id, 'phone_number\r\n+19995550100\r\n', 'text/csv'),
      );
      expect(next.accepted).toBe(1);
      expect((await contactsOf(id)).map((r) => r.phoneNumber)).toEqual(['+19995550100']);
      expect(await counters(id)).toEqual({ total: 1, pending: 1 });
    });

    test('a JSON import whose client goes away mid-upload keeps none of its rows', async () => {
      const id = await campaign(operator);
      function* elements() {
        yield '[';
        for (let i = 0; i < 10_000; i++) yield `${i ? ',' : ''}{"phone_number":"${e164(i)}"}`;
        yield ']';
      }
      if (mode === 'in-process') {
        await expectProblem(
          await importInto(mode, operator, id, streamed(elements, 5000), 'application/json'),
          400,
        );
      } else {
        const abort = new AbortController();
        const sent = fetch(`${stack.url}/api/v2/campaigns/${id}/contacts`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${operator.token}`, 'Content-Type': 'application/json' },
          body: streamed(elements, 5000),
          signal: abort.signal,
        }).catch((error: unknown) => error);
        await Bun.sleep(300);
        abort.abort();
        await sent;
      }
      const next = await imported(
        await importInto(mode, operator, id, '[{"phone_number":"+19995550101"}]', 'application/json'),
      );
      expect(next.accepted).toBe(1);
      expect((await contactsOf(id)).map((r) => r.phoneNumber)).toEqual(['+19995550101']);
      expect(await counters(id)).toEqual({ total: 1, pending: 1 });
    });

    test('imports into one campaign at once: every number once, counters equal to the contacts', async () => {
      const id = await campaign(operator, 'running');
      // Four imports of overlapping ranges, in opposite orders.
      const ranges: [number, number, boolean][] = [
        [0, 1500, false],
        [1000, 2500, true],
        [500, 2000, false],
        [2000, 3000, true],
      ];
      const reports = await Promise.all(
        ranges.map(([from, to, reversed]) => {
          const items = Array.from({ length: to - from }, (_, i) => ({ phone_number: e164(from + i) }));
          if (reversed) items.reverse();
          return importInto(mode, operator, id, JSON.stringify(items), 'application/json').then(imported);
        }),
      );
      const rows = await contactsOf(id);
      expect(rows.length).toBe(3000);
      expect(new Set(rows.map((r) => r.phoneNumber)).size).toBe(3000);
      expect(reports.reduce((n, r) => n + r.accepted, 0)).toBe(3000);
      expect(reports.reduce((n, r) => n + r.accepted + r.merged, 0)).toBe(1500 + 1500 + 1500 + 1000);
      expect(await counters(id)).toEqual({ total: 3000, pending: 3000 });
    }, 60_000);

    test('over the caps: 413, nothing imported', async () => {
      const id = await campaign(operator);
      const bytes = await expectProblem(
        await importInto(mode, operator, id, `[${' '.repeat(MAX_BYTES)}]`, 'application/json'),
        413,
        'payload_too_large',
      );
      expect(bytes.detail).toContain('CONTACTS_IMPORT_MAX_BYTES');
      function* tooMany() {
        yield 'phone_number\n';
        for (let i = 0; i <= MAX_ROWS; i++) yield i < 10 ? `${e164(i)}\n` : 'x\n';
      }
      const rows = await expectProblem(
        await importInto(mode, operator, id, streamed(tooMany), 'text/csv'),
        413,
        'payload_too_large',
      );
      expect(rows.detail).toContain('CONTACTS_IMPORT_MAX_ROWS');
      expect(await contactCount(id)).toBe(0);
      expect(await counters(id)).toEqual({});
    }, 60_000);

    test('who may import, and into which campaigns', async () => {
      const id = await campaign(operator);
      const one = '[{"phone_number":"+12025550131"}]';
      await expectProblem(await importInto(mode, viewer, id, one, 'application/json'), 403, 'forbidden');
      await expectProblem(
        await importInto(mode, other, id, one, 'application/json'),
        404,
        'campaign_not_found',
      );
      await expectProblem(
        await stack.request(mode, `/api/v2/campaigns/${id}/contacts`, { method: 'POST', body: one }),
        401,
      );
      await expectProblem(
        await importInto(mode, operator, id, one, 'text/plain'),
        415,
        'unsupported_media_type',
      );
      await expectProblem(
        await importInto(mode, operator, 'not-a-uuid', one, 'application/json'),
        422,
        'validation_error',
      );
      expect((await imported(await importInto(mode, admin, id, one, 'application/json'))).accepted).toBe(1);
      for (const state of ['completed', 'canceled'] as const) {
        const closed = await campaign(operator, state);
        await expectProblem(
          await importInto(mode, operator, closed, one, 'application/json'),
          409,
          'campaign_closed',
        );
        expect(await contactCount(closed)).toBe(0);
      }
      for (const state of ['running', 'paused'] as const) {
        const open = await campaign(operator, state);
        expect(
          (await imported(await importInto(mode, operator, open, one, 'application/json'))).accepted,
        ).toBe(1);
      }
    });
  });

  describe(`campaign contacts listing and results (${mode})`, () => {
    test('lists by state, final outcome and number prefix, page by page', async () => {
      const id = await campaign(operator);
      const items = Array.from({ length: 25 }, (_, i) => ({
        phone_number: i < 20 ? e164(i) : `+4420794609${50 + i}`,
      }));
      await imported(await importInto(mode, operator, id, JSON.stringify(items), 'application/json'));
      await stack.database.db
        .update(campaignContacts)
        .set({ state: 'done', finalOutcome: 'answered' })
        .where(and(eq(campaignContacts.campaignId, id), eq(campaignContacts.phoneNumber, e164(3))));
      const list = async (user: TestUser, query: string) => {
        const res = await stack.request(mode, `/api/v2/campaigns/${id}/contacts${query}`, {
          token: user.token,
        });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${res.status}: ${text}`);
        return JSON.parse(text) as {
          items: { phone_number: string; state: string }[];
          next_cursor: string | null;
        };
      };
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await list(operator, `?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.items.map((c) => c.phone_number));
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen).toEqual(items.map((c) => c.phone_number));
      expect((await list(viewer, '?state=done')).items.map((c) => c.phone_number)).toEqual([e164(3)]);
      expect((await list(admin, '?final_outcome=answered')).items.length).toBe(1);
      expect((await list(operator, '?phone_number=%2B44')).items.length).toBe(5);
      await expectProblem(
        await stack.request(mode, `/api/v2/campaigns/${id}/contacts?state=bogus`, { token: operator.token }),
        422,
      );
      await expectProblem(
        await stack.request(mode, `/api/v2/campaigns/${id}/contacts?cursor=zzz`, { token: operator.token }),
        422,
      );
      await expectProblem(
        await stack.request(mode, `/api/v2/campaigns/${id}/contacts`, { token: other.token }),
        404,
        'campaign_not_found',
      );
    });

    test('results as CSV parse back to what the campaign holds, quoting included; the same as JSON', async () => {
      const id = await campaign(operator);
      const csv = 'phone_number,N\r\n202-555-0141,a\r\n202-555-0142,b\r\n202-555-0143,c\r\n';
      await imported(await importInto(mode, operator, id, csv, 'text/csv'));
      const [c1, c2] = await contactsOf(id);
      const t = (s: number) => new Date(Date.UTC(2026, 10, 23, 15, 0, s));
      const tricky = 'yes, "sure"\r\nline two — ✓';
      const callRow = (
        callId: string,
        contactId: number,
        answers: Record<string, unknown>,
        answered: boolean,
      ) => ({
        id: callId,
        ownerId: operator.id,
        phoneNumber: '+12025550141',
        context: 'outbound-ivr',
        extension: 's',
        priority: 1,
        timeoutMs: 30_000,
        status: answered ? ('completed' as const) : ('busy' as const),
        campaignId: id,
        contactId,
        dialedAt: t(1),
        answeredAt: answered ? t(5) : null,
        endedAt: t(9),
        answers,
      });
      const a1 = crypto.randomUUID();
      const a2 = crypto.randomUUID();
      const b1 = crypto.randomUUID();
      await stack.database.db
        .insert(calls)
        .values([
          callRow(a1, c1!.id, {}, false),
          callRow(
            a2,
            c1!.id,
            { choice: '1', comment: tricky, message: { recording: 'rec-1', duration_ms: 900 } },
            true,
          ),
          callRow(b1, c2!.id, { choice: '2' }, true),
        ]);
      await stack.database.db.insert(campaignAttempts).values([
        {
          callId: a1,
          campaignId: id,
          contactId: c1!.id,
          attempt: 1,
          leasedAt: t(0),
          leaseExpiresAt: t(60),
          outcome: 'busy',
          endedAt: t(9),
        },
        {
          callId: a2,
          campaignId: id,
          contactId: c1!.id,
          attempt: 2,
          leasedAt: t(20),
          leaseExpiresAt: t(80),
          outcome: 'answered',
          endedAt: t(29),
        },
        {
          callId: b1,
          campaignId: id,
          contactId: c2!.id,
          attempt: 1,
          leasedAt: t(0),
          leaseExpiresAt: t(60),
          outcome: 'answered',
          endedAt: t(9),
        },
      ]);
      await stack.database.db
        .update(campaignContacts)
        .set({ state: 'done', attempts: 2, finalOutcome: 'answered', answeredBy: 'human' })
        .where(eq(campaignContacts.id, c1!.id));

      const res = await stack.request(mode, `/api/v2/campaigns/${id}/results`, { token: viewer.token });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toStartWith('text/csv');
      const records = parse(await res.text(), { columns: true }) as Record<string, string>[];
      expect(records.length).toBe(3);
      expect(Object.keys(records[0]!)).toEqual([
        'phone_number',
        'state',
        'attempts',
        'final_outcome',
        'answered_by',
        'attempt_1_call_id',
        'attempt_1_outcome',
        'attempt_1_started_at',
        'attempt_1_ended_at',
        'attempt_2_call_id',
        'attempt_2_outcome',
        'attempt_2_started_at',
        'attempt_2_ended_at',
        'answer_choice',
        'answer_comment',
        'answer_message',
      ]);
      expect(records[0]).toEqual({
        phone_number: '+12025550141',
        state: 'done',
        attempts: '2',
        final_outcome: 'answered',
        answered_by: 'human',
        attempt_1_call_id: a1,
        attempt_1_outcome: 'busy',
        attempt_1_started_at: t(1).toISOString(),
        attempt_1_ended_at: t(9).toISOString(),
        attempt_2_call_id: a2,
        attempt_2_outcome: 'answered',
        attempt_2_started_at: t(1).toISOString(),
        attempt_2_ended_at: t(29).toISOString(),
        answer_choice: '1',
        answer_comment: tricky,
        answer_message: 'rec-1',
      });
      expect(records[1]!.answer_choice).toBe('2');
      expect(records[2]).toMatchObject({
        phone_number: '+12025550143',
        state: 'pending',
        attempt_1_call_id: '',
        answer_choice: '',
      });

      const json = await stack.request(mode, `/api/v2/campaigns/${id}/results`, {
        token: operator.token,
        headers: { Accept: 'application/json' },
      });
      expect(json.headers.get('content-type')).toStartWith('application/json');
      // Streamed as it is read, never gathered first: no length is stated.
      expect(json.headers.get('content-length')).toBeNull();
      const results = (await json.json()) as {
        phone_number: string;
        calls: { call_id: string }[];
        answers: Record<string, unknown>;
      }[];
      expect(results.map((r) => r.phone_number)).toEqual(['+12025550141', '+12025550142', '+12025550143']);
      expect(results[0]!.calls.map((c) => c.call_id)).toEqual([a1, a2]);
      expect(results[0]!.answers).toEqual({
        choice: '1',
        comment: tricky,
        message: { recording: 'rec-1', duration_ms: 900 },
      });
      await expectProblem(
        await stack.request(mode, `/api/v2/campaigns/${id}/results`, { token: other.token }),
        404,
        'campaign_not_found',
      );
    });
  });
}

describe('a large import', () => {
  test('100,000 CSV rows streamed in one request: every contact once, counters and a full export', async () => {
    const mode = MODES.at(-1)!;
    const id = await campaign(operator);
    // Read after a full collection each time: garbage left by the tests before (this file runs in one
    // process with the whole suite) would otherwise count as this import's.
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    const report = await imported(
      await importInto(
        mode,
        operator,
        id,
        streamed(() => csvLines(0, MAX_ROWS)),
        'text/csv',
      ),
    );
    expect(report).toEqual({ accepted: MAX_ROWS, merged: 0, rejected: [], rejected_count: 0 });
    expect(await contactCount(id)).toBe(MAX_ROWS);
    expect(await counters(id)).toEqual({ total: MAX_ROWS, pending: MAX_ROWS });
    const res = await stack.request(mode, `/api/v2/campaigns/${id}/results`, { token: operator.token });
    let lines = 0;
    let lastNumber = '';
    const decoder = new TextDecoder();
    let tail = '';
    for await (const chunk of res.body!) {
      const text = tail + decoder.decode(chunk, { stream: true });
      const parts = text.split('\r\n');
      tail = parts.pop()!;
      lines += parts.length;
      if (parts.length > 0) lastNumber = parts.at(-1)!.split(',')[0]!;
    }
    expect(lines).toBe(MAX_ROWS + 1);
    expect(lastNumber).toBe(e164(MAX_ROWS - 1));
    // Not a speed or memory figure (the benchmark measures); a bound far above a streamed import's
    // needs, which holding the whole body and its rows several times over would not keep.
    Bun.gc(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(1024 * 1024 * 1024);
  }, 300_000);
});
