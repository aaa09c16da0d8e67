import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { and, count, eq, like } from 'drizzle-orm';
import { DncBulkResultSchema, DncEntrySchema, DncListSchema } from '../../api/campaigns/bodies.ts';
import { auditLog, dncNumbers } from '../../db/schema.ts';
import {
  expectProblem,
  MODES,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 60_000);
afterAll(() => stack.stop());

/** A number of its own for each test: +1 555 3xx xxxx, from a random block. */
function numbers(n: number): string[] {
  const block = Math.floor(Math.random() * 900) + 100;
  const tag = Math.floor(Math.random() * 9);
  return Array.from({ length: n }, (_, i) => `+1555${block}${tag}${String(i).padStart(3, '0')}`);
}

async function listed(prefix: string): Promise<number> {
  const [row] = await stack.database.db
    .select({ n: count() })
    .from(dncNumbers)
    .where(like(dncNumbers.phoneNumber, `${prefix}%`));
  return Number(row!.n);
}

for (const mode of MODES) {
  describe(`the do-not-call list (${mode})`, () => {
    const send = (user: TestUser | null, path: string, init: { method?: string; json?: unknown } = {}) =>
      stack.request(mode, `/api/v2/dnc${path}`, { ...(user ? { token: user.token } : {}), ...init });
    const check = (user: TestUser, number: string) => send(user, `/numbers/${encodeURIComponent(number)}`);

    test('a number is stored in E.164 however it was written, once, and found in any of its forms', async () => {
      const op = await stack.user('operator');
      const [e164] = numbers(1) as [string];
      const national = `(${e164.slice(2, 5)}) ${e164.slice(5, 8)}-${e164.slice(8)}`;
      const added = await send(op, '', { json: { phone_number: national, note: 'Asked on the phone' } });
      expect(added.status).toBe(201);
      const entry = DncEntrySchema.parse(await added.json());
      expect(entry).toMatchObject({
        phone_number: e164,
        source: 'api',
        note: 'Asked on the phone',
        added_by: op.id,
      });

      const again = await send(op, '', { json: { phone_number: e164, note: 'again' } });
      expect(again.status).toBe(200);
      expect(DncEntrySchema.parse(await again.json())).toEqual(entry);

      for (const form of [e164, national, e164.slice(2), `${e164.slice(0, 2)} ${e164.slice(2)}`]) {
        const res = await check(op, form);
        expect(res.status).toBe(200);
        expect(DncEntrySchema.parse(await res.json())).toEqual(entry);
      }
      // A + sent as is in the path is a +, not a space.
      expect((await send(op, `/numbers/${e164}`)).status).toBe(200);
      await expectProblem(await check(op, numbers(1)[0]!), 404, 'dnc_not_found');
      const audit = await stack.database.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.targetId, e164), eq(auditLog.action, 'dnc.add')));
      expect(audit).toHaveLength(1);
    });

    test.each<[string, unknown, number, string, string]>([
      ['letters', { phone_number: 'call me maybe' }, 422, 'validation_error', '/phone_number'],
      ['an extension', { phone_number: '+1 555 123 4000 ext 5' }, 422, 'validation_error', '/phone_number'],
      ['a dial string', { phone_number: '+15551234000;x' }, 422, 'validation_error', '/phone_number'],
      ['too short', { phone_number: '+1555' }, 422, 'validation_error', '/phone_number'],
      ['no country', { phone_number: '+999123456789' }, 422, 'validation_error', '/phone_number'],
      ['an empty number', { phone_number: '' }, 422, 'validation_error', '/phone_number'],
      ['a number that is a number', { phone_number: 15551234000 }, 422, 'validation_error', '/phone_number'],
      [
        'a note of 201 characters',
        { phone_number: '+15551234000', note: 'n'.repeat(201) },
        422,
        'validation_error',
        '/note',
      ],
      [
        'a field it does not define',
        { phone_number: '+15551234000', reason: 'x' },
        400,
        'unknown_field',
        '/reason',
      ],
    ])('%s is refused and lists nothing', async (_, body, status, code, pointer) => {
      const op = await stack.user('operator');
      const [before] = await stack.database.db.select({ n: count() }).from(dncNumbers);
      const problem = await expectProblem(await send(op, '', { json: body }), status, code);
      expect(problem.errors?.map((e) => e.pointer)).toContain(pointer);
      const [after] = await stack.database.db.select({ n: count() }).from(dncNumbers);
      expect(Number(after!.n)).toBe(Number(before!.n));
    });

    test('a path that is not a number is a 422 naming the parameter', async () => {
      const admin = await stack.user('admin');
      for (const bad of ['abc', '..%2f..%2fetc', '%00', '555;1', '1'.repeat(41)]) {
        const p = await expectProblem(await send(admin, `/numbers/${bad}`), 422, 'validation_error');
        expect(p.errors?.[0]?.parameter).toBe('phone_number');
        await expectProblem(
          await send(admin, `/numbers/${bad}`, { method: 'DELETE' }),
          422,
          'validation_error',
        );
      }
    });

    test('only admins take a number off, once; the removal is audited with the entry it removed', async () => {
      const op = await stack.user('operator');
      const admin = await stack.user('admin');
      const [n] = numbers(1) as [string];
      expect((await send(op, '', { json: { phone_number: n, note: 'by letter' } })).status).toBe(201);
      await expectProblem(
        await send(op, `/numbers/${encodeURIComponent(n)}`, { method: 'DELETE' }),
        403,
        'forbidden',
      );
      expect((await check(op, n)).status).toBe(200);
      const removed = await send(admin, `/numbers/${encodeURIComponent(n)}`, { method: 'DELETE' });
      expect(removed.status).toBe(200);
      expect(DncEntrySchema.parse(await removed.json())).toMatchObject({
        phone_number: n,
        note: 'by letter',
      });
      await expectProblem(await check(op, n), 404, 'dnc_not_found');
      await expectProblem(
        await send(admin, `/numbers/${encodeURIComponent(n)}`, { method: 'DELETE' }),
        404,
        'dnc_not_found',
      );
      const [audit] = await stack.database.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.targetId, n), eq(auditLog.action, 'dnc.remove')));
      expect(audit).toMatchObject({ actorId: admin.id, details: { note: 'by letter', added_by: op.id } });
    });

    test('viewers read the list and change nothing; without a token nothing', async () => {
      const viewer = await stack.user('viewer');
      const op = await stack.user('operator');
      const [n] = numbers(1) as [string];
      await expectProblem(await send(viewer, '', { json: { phone_number: n } }), 403, 'forbidden');
      await expectProblem(await send(viewer, '/bulk', { json: [{ phone_number: n }] }), 403, 'forbidden');
      await expectProblem(await check(viewer, n), 404, 'dnc_not_found');
      expect((await send(op, '', { json: { phone_number: n } })).status).toBe(201);
      expect((await check(viewer, n)).status).toBe(200);
      expect((await send(viewer, '')).status).toBe(200);
      await expectProblem(await send(viewer, `/numbers/${encodeURIComponent(n)}`, { method: 'DELETE' }), 403);
      await expectProblem(await send(null, ''), 401);
      await expectProblem(await send(null, '', { json: { phone_number: n } }), 401);
      expect((await check(op, n)).status).toBe(200);
    });

    test('the list is newest first, paged with a cursor, each entry once', async () => {
      const op = await stack.user('operator');
      const mine = numbers(5);
      for (const n of mine) expect((await send(op, '', { json: { phone_number: n } })).status).toBe(201);
      // Tests in parallel files add their own: mine are among the newest, in order.
      const seen: string[] = [];
      let cursor: string | null = '';
      while (cursor !== null && seen.filter((n) => mine.includes(n)).length < mine.length) {
        const page = DncListSchema.parse(
          await (await send(op, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json(),
        );
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((e) => e.phone_number));
        cursor = page.next_cursor;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((n) => mine.includes(n))).toEqual([...mine].reverse());
      await expectProblem(await send(op, '?cursor=bm90LWEtY3Vyc29y'), 422, 'validation_error');
    });

    test('bulk: every row taken with duplicates merged, or none when one row is refused', async () => {
      const op = await stack.user('operator');
      const mine = numbers(4);
      const prefix = mine[0]!.slice(0, 9);
      const [first] = mine as [string];
      expect((await send(op, '', { json: { phone_number: first, note: 'kept' } })).status).toBe(201);

      const refused = await expectProblem(
        await send(op, '/bulk', {
          json: [
            { phone_number: mine[1] },
            { phone_number: 'nope' },
            { phone_number: mine[2] },
            { phone_number: '+1' },
          ],
        }),
        422,
        'validation_error',
      );
      expect(refused.errors?.map((e) => e.pointer)).toEqual(['/1/phone_number', '/3/phone_number']);
      expect(refused.detail).toContain('2 of 4 rows');
      expect(await listed(prefix)).toBe(1);

      const rows = [
        { phone_number: first, note: 'replaced?' },
        { phone_number: mine[1]! },
        { phone_number: mine[1]!.slice(2) },
        { phone_number: mine[2]!, note: 'by letter' },
        { phone_number: mine[3]! },
      ];
      const res = await send(op, '/bulk', { json: rows });
      expect(res.status).toBe(200);
      expect(DncBulkResultSchema.parse(await res.json())).toEqual({
        received: 5,
        added: 3,
        already_listed: 2,
      });
      expect(await listed(prefix)).toBe(4);
      expect(DncEntrySchema.parse(await (await check(op, first)).json()).note).toBe('kept');
      expect(DncEntrySchema.parse(await (await check(op, mine[2]!)).json()).note).toBe('by letter');
    });

    test('bulk: 10,000 rows at once are taken; 10,001, none, or a body past 2 MiB are refused', async () => {
      const op = await stack.user('operator');
      // Blocks numbers() never hands out (+1 555 0xx), one per mode.
      const block = `+15550${mode === 'http' ? 5 : 0}${Math.floor(Math.random() * 10)}`;
      const many = Array.from({ length: 10_000 }, (_, i) => ({
        phone_number: `${block}${String(i).padStart(4, '0')}`,
      }));
      const res = await send(op, '/bulk', { json: many });
      expect(res.status).toBe(200);
      expect(DncBulkResultSchema.parse(await res.json())).toMatchObject({ received: 10_000, added: 10_000 });
      expect(await listed(block)).toBe(10_000);

      const other = `+15550${mode === 'http' ? 6 : 1}${Math.floor(Math.random() * 10)}9`;
      const tooMany = Array.from({ length: 10_001 }, (_, i) => ({
        phone_number: `${other}${String(i).padStart(3, '0')}`,
      }));
      await expectProblem(await send(op, '/bulk', { json: tooMany }), 422, 'validation_error');
      await expectProblem(await send(op, '/bulk', { json: [] }), 422, 'validation_error');
      await expectProblem(await send(op, '/bulk', { json: { phone_number: '+15551234000' } }), 422);
      await expectProblem(
        await send(op, '/bulk', { json: [{ phone_number: '+15551234000', extra: 1 }] }),
        400,
        'unknown_field',
      );
      const huge = [{ phone_number: '+15551234000', note: 'x'.repeat(3 * 1024 * 1024) }];
      await expectProblem(await send(op, '/bulk', { json: huge }), 413, 'payload_too_large');
      expect(await listed(other)).toBe(0);
    });
  });
}
