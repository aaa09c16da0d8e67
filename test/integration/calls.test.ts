import { afterAll, beforeAll, beforeEach, describe, expect } from 'bun:test';
import { count, eq } from 'drizzle-orm';
import { CallSchema, LegacyCallSchema, OriginateResponseSchema } from '../../api/calls/bodies.ts';
import type { paths } from '../../api/client/index.ts';
import { createApiLogger } from '../../api/lib/logger.ts';
import { CallListSchema } from '../../api/routes/calls/schema.ts';
import { calls } from '../../db/schema.ts';
import { readSse } from '../harness/sse.ts';
import {
  expectProblem,
  MODES,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

let stack: TestStack;
let admin: TestUser;
/** What the API logged (the Bun API only: workerd logs in its own process). */
const logs: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({
    logger: createApiLogger({ level: 'info', sink: (line) => logs.push(line) }),
  });
  admin = await stack.user('admin');
}, 60_000);
afterAll(() => stack.stop());
beforeEach(() => stack.sidecar.reset());

async function callsOf(userId: string): Promise<number> {
  const rows = await stack.database.db.select({ n: count() }).from(calls).where(eq(calls.ownerId, userId));
  return Number(rows[0]?.n ?? 0);
}

for (const mode of MODES) {
  describe(`calls (${mode})`, () => {
    test('POST /api/v2/calls places a call: 200 dialing, stored, one signed command', async () => {
      const op = await stack.user('operator');
      const api = stack.client(op.token, mode);
      const { data, response: res } = await api.POST('/api/v2/calls', {
        body: {
          phone_number: '+15551234000',
          caller_id: 'Contact Center <5550001111>',
          variables: { CAMPAIGN: 'x1' },
        },
      });
      expect(res.status).toBe(200);
      const body = OriginateResponseSchema.parse(data);
      expect(body).toMatchObject({
        success: true,
        phone_number: '+15551234000',
        status: 'dialing',
        error: null,
      });
      expect(body.channel).toContain('Local/+15551234000@');
      expect(res.headers.get('x-ratelimit-limit')).toBe('100000');
      expect(stack.sidecar.originates).toHaveLength(1);
      const cmd = stack.sidecar.originates[0]!.body;
      expect(cmd).toMatchObject({
        call_id: body.call_id,
        phone_number: '+15551234000',
        context: 'outbound-ivr',
        extension: 's',
        priority: 1,
        timeout_ms: 30000,
        caller_id: 'Contact Center <5550001111>',
        variables: { CAMPAIGN: 'x1' },
      });
      const get = await api.GET('/api/v2/calls/{call_id}', { params: { path: { call_id: body.call_id } } });
      expect(get.response.status).toBe(200);
      const call = CallSchema.parse(get.data);
      expect(call).toMatchObject({
        call_id: body.call_id,
        status: 'dialing',
        owner_id: op.id,
        is_active: true,
        is_completed: false,
      });
      expect(call.dialed_at).not.toBeNull();
    });

    test('the original route POST /api/v2/interaction/{number} works with and without a body', async () => {
      const op = await stack.user('operator');
      const api = stack.client(op.token, mode);
      const bare = await api.POST('/api/v2/interaction/{number}', {
        params: { path: { number: '5551234000' } },
      });
      expect(bare.response.status).toBe(200);
      const b1 = OriginateResponseSchema.parse(bare.data);
      expect(b1.status).toBe('dialing');
      const withBody = await api.POST('/api/v2/interaction/{number}', {
        params: { path: { number: '+15551234000' } },
        body: { extension: 'play', priority: 2, timeout: 1500 },
      });
      expect(withBody.response.status).toBe(200);
      expect(stack.sidecar.originates.at(-1)!.body).toMatchObject({
        extension: 'play',
        priority: 2,
        timeout_ms: 1500,
      });
      const params = { path: { call_id: b1.call_id } };
      for (const res of [
        await api.GET('/api/v2/status/{call_id}', { params }),
        await api.GET('/api/v2/interaction/{call_id}/status', { params }),
      ]) {
        expect(res.response.status).toBe(200);
        expect(LegacyCallSchema.strict().parse(res.data).call_id).toBe(b1.call_id);
      }
    });

    test('a field POST /api/v2/calls does not know is a 400 naming it, and places nothing', async () => {
      const op = await stack.user('operator');
      const before = await callsOf(op.id);
      // The typo a caller makes: without the check this call rings with the default timeout.
      const typo = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '5551234000', tiemout: 5000 },
      });
      const problem = await expectProblem(typo, 400, 'unknown_field');
      expect(problem.errors).toEqual([
        expect.objectContaining({ path: 'body.tiemout', pointer: '/tiemout', code: 'unknown_field' }),
      ]);
      expect(problem.detail).toContain('tiemout');
      expect(problem.detail).toContain('timeout');
      // Every unknown field is named, with a JSON Pointer that holds whatever the name is; a bad
      // known field in the same body is listed too.
      const several = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '5551234000', priority: 0, 'a/b': 1, __proto__x: 2, Phone_Number: 'x' },
      });
      const many = await expectProblem(several, 400, 'unknown_field');
      expect(many.errors?.map((e) => e.pointer).sort()).toEqual([
        '/Phone_Number',
        '/__proto__x',
        '/a~1b',
        '/priority',
      ]);
      expect(await callsOf(op.id)).toBe(before);
      expect(stack.sidecar.originates).toHaveLength(0);
    });

    test('the original route takes fields it does not know, as the replaced service did, and logs their names', async () => {
      const op = await stack.user('operator');
      const logged = logs.length;
      const res = await stack.request(mode, '/api/v2/interaction/5551234000', {
        token: op.token,
        json: { extension: 'play', tiemout: 5000, campaign: 'x' },
      });
      expect(res.status).toBe(200);
      expect(stack.sidecar.originates.at(-1)!.body).toMatchObject({ extension: 'play', timeout_ms: 30000 });
      if (stack.target === 'bun') {
        const line = logs
          .slice(logged)
          .map((l) => JSON.parse(l) as { msg: string; fields?: string[]; route?: string; level: string })
          .find((l) => l.fields !== undefined);
        expect(line).toMatchObject({
          fields: ['tiemout', 'campaign'],
          route: 'POST /api/v2/interaction/{number}',
        });
        expect(['info', 'warn']).toContain(line!.level);
      }
    });

    test('a call the PBX refuses answers 200 success:false and ends failed', async () => {
      const op = await stack.user('operator');
      stack.sidecar.originateBehaviour = 'rejected';
      const { data, response: res } = await stack
        .client(op.token, mode)
        .POST('/api/v2/calls', { body: { phone_number: '5551234007' } });
      expect(res.status).toBe(200);
      const body = OriginateResponseSchema.parse(data);
      expect(body).toMatchObject({
        success: false,
        status: 'failed',
        error: 'Allocation failed',
        reason: 'pbx_routing',
      });
    });

    test('a queued call stays pending', async () => {
      const op = await stack.user('operator');
      stack.sidecar.originateBehaviour = 'queued';
      const { data } = await stack
        .client(op.token, mode)
        .POST('/api/v2/calls', { body: { phone_number: '5551234000' } });
      const body = OriginateResponseSchema.parse(data);
      expect(body).toMatchObject({ success: true, status: 'pending' });
      expect(body.message).toContain('queued');
    });

    test('breaker open at the sidecar: 503 with Retry-After, the call ends failed/pbx_unreachable', async () => {
      const op = await stack.user('operator');
      stack.sidecar.originateBehaviour = 'unavailable';
      const res = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '5551234000' },
      });
      const problem = await expectProblem(res, 503, 'pbx_unavailable');
      expect(res.headers.get('retry-after')).toBe('7');
      expect(problem.detail).not.toContain('breaker');
      const list = CallListSchema.parse(
        await (await stack.request(mode, '/api/v2/calls', { token: op.token })).json(),
      );
      expect(list.items).toHaveLength(1);
      expect(list.items[0]).toMatchObject({
        status: 'failed',
        reason: 'pbx_unreachable',
        is_completed: true,
      });
    });

    test('sidecar not answering: 503 with Retry-After, failed/pbx_unreachable, and a hang-up is sent', async () => {
      const op = await stack.user('operator');
      stack.sidecar.originateBehaviour = 'hang';
      const started = performance.now();
      const res = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '5551234000' },
      });
      await expectProblem(res, 503, 'pbx_unavailable');
      expect(res.headers.get('retry-after')).toBe('5');
      expect(performance.now() - started).toBeGreaterThanOrEqual(1400);
      const list = CallListSchema.parse(
        await (await stack.request(mode, '/api/v2/calls', { token: op.token })).json(),
      );
      expect(list.items[0]).toMatchObject({ status: 'failed', reason: 'pbx_unreachable' });
      await Bun.sleep(50);
      expect(stack.sidecar.hangups.map((h) => h.body.call_id)).toContain(list.items[0]!.call_id);
    });

    test('GET /api/v2/calls filters and pages with a cursor', async () => {
      const op = await stack.user('operator');
      const api = stack.client(op.token, mode);
      const ids: string[] = [];
      for (const n of ['5551230001', '5551230002', '5551230003', '5551230001', '5551230004']) {
        const { data } = await api.POST('/api/v2/calls', { body: { phone_number: n } });
        ids.push(OriginateResponseSchema.parse(data).call_id);
      }
      const list = async (query: paths['/api/v2/calls']['get']['parameters']['query']) =>
        CallListSchema.parse((await api.GET('/api/v2/calls', { params: { query } })).data);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await list(cursor ? { limit: 2, cursor } : { limit: 2 });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((i) => i.call_id));
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
      const byNumber = await list({ phone_number: '5551230001' });
      expect(byNumber.items.map((i) => i.call_id).sort()).toEqual([ids[0]!, ids[3]!].sort());
      const byStatus = await list({ status: 'failed' });
      expect(byStatus.items).toHaveLength(0);
      const future = await list({ created_after: '2999-01-01T00:00:00Z' });
      expect(future.items).toHaveLength(0);
      const past = await list({ created_before: '2000-01-01T00:00:00Z' });
      expect(past.items).toHaveLength(0);
      for (const bad of [
        '?limit=0',
        '?limit=101',
        '?limit=abc',
        '?limit=0x10',
        '?limit=%2B5',
        '?limit=%205',
        '?limit=1e1',
        '?limit=5.0',
        '?status=bogus',
        '?cursor=not-a-cursor',
        '?created_after=yesterday',
      ]) {
        await expectProblem(
          await stack.request(mode, `/api/v2/calls${bad}`, { token: op.token }),
          422,
          'validation_error',
        );
      }
    });

    test('hang-up: sends the command; a queued call ends canceled; an ended call answers 409', async () => {
      const op = await stack.user('operator');
      const api = stack.client(op.token, mode);
      const placed = OriginateResponseSchema.parse(
        (await api.POST('/api/v2/calls', { body: { phone_number: '5551234002' } })).data,
      );
      const res = await api.POST('/api/v2/calls/{call_id}/hangup', {
        params: { path: { call_id: placed.call_id } },
      });
      expect(res.response.status).toBe(202);
      const call = CallSchema.parse(res.data);
      expect(call.hangup_requested_at).not.toBeNull();
      expect(stack.sidecar.hangups.map((h) => h.body.call_id)).toEqual([placed.call_id]);

      stack.sidecar.originateBehaviour = 'queued';
      stack.sidecar.hangupOutcome = 'canceled';
      const queued = OriginateResponseSchema.parse(
        (await api.POST('/api/v2/calls', { body: { phone_number: '5551234002' } })).data,
      );
      const cancel = await api.POST('/api/v2/calls/{call_id}/hangup', {
        params: { path: { call_id: queued.call_id } },
      });
      expect(cancel.response.status).toBe(202);
      expect(CallSchema.parse(cancel.data)).toMatchObject({
        status: 'canceled',
        reason: 'hangup_requested',
      });
      const again = await stack.request(mode, `/api/v2/calls/${queued.call_id}/hangup`, {
        method: 'POST',
        token: op.token,
      });
      await expectProblem(again, 409, 'call_already_ended');
      const { data: log } = await api.GET('/api/v2/calls/{call_id}/events', {
        params: { path: { call_id: queued.call_id } },
      });
      expect(log!.events.map((e) => [e.sequence, e.type, e.status])).toEqual([
        [1, 'created', 'pending'],
        [2, 'hangup_requested', 'pending'],
        [3, 'ended', 'canceled'],
      ]);
    });

    test("another user's call is a 404 on every call route; admins see it", async () => {
      const a = await stack.user('operator');
      const b = await stack.user('operator');
      const placed = OriginateResponseSchema.parse(
        (await stack.client(a.token, mode).POST('/api/v2/calls', { body: { phone_number: '5551234000' } }))
          .data,
      );
      const id = placed.call_id;
      for (const [method, path] of [
        ['GET', `/api/v2/calls/${id}`],
        ['GET', `/api/v2/status/${id}`],
        ['GET', `/api/v2/interaction/${id}/status`],
        ['GET', `/api/v2/calls/${id}/events`],
        ['POST', `/api/v2/calls/${id}/hangup`],
      ] as const) {
        await expectProblem(
          await stack.request(mode, path, { method, token: b.token }),
          404,
          'call_not_found',
        );
        const asAdmin = await stack.request(mode, path, { method, token: admin.token });
        expect([200, 202]).toContain(asAdmin.status);
      }
      const listB = CallListSchema.parse((await stack.client(b.token, mode).GET('/api/v2/calls')).data);
      expect(listB.items.map((i) => i.call_id)).not.toContain(id);
      const listAdmin = CallListSchema.parse(
        (await stack.client(admin.token, mode).GET('/api/v2/calls', { params: { query: { limit: 100 } } }))
          .data,
      );
      expect(listAdmin.items.map((i) => i.call_id)).toContain(id);
      expect(stack.sidecar.hangups).toHaveLength(1);
    });

    test('a viewer reads every call but cannot originate or hang up', async () => {
      const viewer = await stack.user('viewer');
      const before = stack.sidecar.originates.length;
      await expectProblem(
        await stack.request(mode, '/api/v2/calls', {
          token: viewer.token,
          json: { phone_number: '5551234000' },
        }),
        403,
        'forbidden',
      );
      await expectProblem(
        await stack.request(mode, '/api/v2/interaction/5551234000', { method: 'POST', token: viewer.token }),
        403,
      );
      const op = await stack.user('operator');
      const placed = OriginateResponseSchema.parse(
        await (
          await stack.request(mode, '/api/v2/calls', {
            token: op.token,
            json: { phone_number: '5551234000' },
          })
        ).json(),
      );
      // Viewers may not hang up at all: 403 whatever the id, so nothing about the call leaks.
      await expectProblem(
        await stack.request(mode, `/api/v2/calls/${placed.call_id}/hangup`, {
          method: 'POST',
          token: viewer.token,
        }),
        403,
      );
      expect(stack.sidecar.originates.length).toBe(before + 1);
      expect(stack.sidecar.hangups).toHaveLength(0);
      expect(await callsOf(viewer.id)).toBe(0);
      const list = await stack.request(mode, '/api/v2/calls', { token: viewer.token });
      expect(list.status).toBe(200);
      // A viewer owns no call and can make none: what it reads is everyone's calls.
      expect(CallListSchema.parse(await list.json()).items.map((i) => i.call_id)).toContain(placed.call_id);
      const id = placed.call_id;
      for (const path of [
        `/api/v2/calls/${id}`,
        `/api/v2/status/${id}`,
        `/api/v2/interaction/${id}/status`,
        `/api/v2/calls/${id}/events`,
        `/api/v2/calls/${id}/webhooks`,
      ]) {
        const res = await stack.request(mode, path, { token: viewer.token });
        expect([path, res.status]).toEqual([path, 200]);
      }
      const stream = readSse(
        await stack.request(mode, `/api/v2/events?call_id=${id}&last_event_id=0`, { token: viewer.token }),
      );
      const [created] = await stream.events(1);
      stream.close();
      expect(JSON.parse(created!.data!)).toMatchObject({ call_id: id, type: 'created' });
      // Still nothing of it for another operator.
      const other = await stack.user('operator');
      await expectProblem(
        await stack.request(mode, `/api/v2/calls/${id}`, { token: other.token }),
        404,
        'call_not_found',
      );
    });

    test('every call route needs a token', async () => {
      const id = crypto.randomUUID();
      for (const [method, path] of [
        ['GET', '/api/v2/calls'],
        ['POST', '/api/v2/calls'],
        ['GET', `/api/v2/calls/${id}`],
        ['POST', `/api/v2/calls/${id}/hangup`],
        ['GET', `/api/v2/calls/${id}/events`],
        ['POST', '/api/v2/interaction/5551234000'],
        ['GET', `/api/v2/status/${id}`],
        ['GET', `/api/v2/interaction/${id}/status`],
      ] as const) {
        const res = await stack.request(mode, path, { method });
        await expectProblem(res, 401, 'invalid_token');
        expect(res.headers.get('www-authenticate')).toStartWith('Bearer');
      }
      expect(stack.sidecar.originates).toHaveLength(0);
    });
  });
}

describe('idempotency', () => {
  test('same key and body: one call, the stored response again', async () => {
    const op = await stack.user('operator');
    const api = stack.client(op.token);
    const send = (body: { phone_number: string; variables?: Record<string, string> }, key = 'k-1') =>
      api.POST('/api/v2/calls', { body, params: { header: { 'idempotency-key': key } } });
    const first = await send({ phone_number: '5551234000', variables: { A: '1', B: '2' } });
    const second = await send({ variables: { B: '2', A: '1' }, phone_number: '5551234000' });
    expect(second.response.status).toBe(200);
    expect(second.response.headers.get('idempotent-replayed')).toBe('true');
    expect(second.data).toEqual(first.data!);
    expect(stack.sidecar.originates).toHaveLength(1);
    const reused = await send({ phone_number: '5551234001' });
    expect(reused.response.status).toBe(422);
    expect(reused.error).toMatchObject({ code: 'idempotency_key_reused' });
    // Keys belong to a user: another user's identical key is a separate request.
    const other = await stack.user('operator');
    const res = await stack.request('http', '/api/v2/calls', {
      token: other.token,
      json: { phone_number: '5551234000', variables: { A: '1', B: '2' } },
      headers: { 'Idempotency-Key': 'k-1' },
    });
    expect(res.status).toBe(200);
    expect(stack.sidecar.originates).toHaveLength(2);
    expect(await callsOf(op.id)).toBe(1);
  });

  test('while the first request runs, the same key answers 409', async () => {
    const op = await stack.user('operator');
    stack.sidecar.originateBehaviour = 'hang';
    const first = stack.request('http', '/api/v2/calls', {
      token: op.token,
      json: { phone_number: '5551234000' },
      headers: { 'Idempotency-Key': 'slow' },
    });
    await Bun.sleep(300);
    const second = await stack.request('http', '/api/v2/calls', {
      token: op.token,
      json: { phone_number: '5551234000' },
      headers: { 'Idempotency-Key': 'slow' },
    });
    await expectProblem(second, 409, 'idempotency_in_flight');
    // The first ends 503 (no answer): its key is released and a retry places the call.
    await expectProblem(await first, 503, 'pbx_unavailable');
    stack.sidecar.originateBehaviour = 'dialing';
    const retry = await stack.request('http', '/api/v2/calls', {
      token: op.token,
      json: { phone_number: '5551234000' },
      headers: { 'Idempotency-Key': 'slow' },
    });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(await callsOf(op.id)).toBe(2);
  });

  test('50 concurrent identical requests with one key make exactly one call and one command', async () => {
    const op = await stack.user('operator');
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        stack.request('http', '/api/v2/calls', {
          token: op.token,
          json: { phone_number: '+15551234000' },
          headers: { 'Idempotency-Key': 'burst-1' },
        }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(await callsOf(op.id)).toBe(1);
    expect(stack.sidecar.originates).toHaveLength(1);
    const ids = new Set<string>();
    for (const r of responses)
      if (r.status === 200) ids.add(((await r.json()) as { call_id: string }).call_id);
    expect(ids.size).toBe(1);
  });

  test('a malformed Idempotency-Key is a 422 and places nothing', async () => {
    const op = await stack.user('operator');
    const res = await stack.request('http', '/api/v2/calls', {
      token: op.token,
      json: { phone_number: '5551234000' },
      headers: { 'Idempotency-Key': 'x'.repeat(300) },
    });
    await expectProblem(res, 422, 'validation_error');
    expect(stack.sidecar.originates).toHaveLength(0);
  });
});

describe('rate limit', () => {
  test('originates above RATE_LIMIT_REQUESTS per window answer 429 with Retry-After; replays and refused requests do not count', async () => {
    const limited = await startTestStack({ env: { RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_WINDOW: '60' } });
    try {
      const op = await limited.user('operator');
      // Refused requests do not use up the window.
      for (const json of [{ phone_number: '555-123' }, { phone_number: '5551234000', context: 'other' }]) {
        const res = await limited.request('http', '/api/v2/calls', { token: op.token, json });
        expect(res.status).toBe(422);
      }
      const statuses: number[] = [];
      const remaining: Array<string | null> = [];
      for (let i = 0; i < 5; i++) {
        const res = await limited.request('http', '/api/v2/calls', {
          token: op.token,
          json: { phone_number: '5551234000' },
          headers: { 'Idempotency-Key': `limited-${i}` },
        });
        statuses.push(res.status);
        remaining.push(res.headers.get('x-ratelimit-remaining'));
        if (res.status === 429) {
          await expectProblem(res, 429, 'rate_limited');
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        } else {
          expect(res.headers.get('x-ratelimit-limit')).toBe('3');
        }
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(remaining).toEqual(['2', '1', '0', '0', '0']);
      expect(limited.sidecar.originates).toHaveLength(3);
      // A retry of a request that placed its call still gets its answer once the window is used up …
      const replay = await limited.request('http', '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '5551234000' },
        headers: { 'Idempotency-Key': 'limited-0' },
      });
      expect(replay.status).toBe(200);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      // … and the key of a request refused with 429 was not kept: the same key with another body is
      // not "reused" (422) but rate limited again.
      const again = await limited.request('http', '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '5551234999' },
        headers: { 'Idempotency-Key': 'limited-3' },
      });
      await expectProblem(again, 429, 'rate_limited');
      expect(limited.sidecar.originates).toHaveLength(3);
      // Another user has a window of its own.
      const other = await limited.user('operator');
      const res = await limited.request('http', '/api/v2/calls', {
        token: other.token,
        json: { phone_number: '5551234000' },
      });
      expect(res.status).toBe(200);
      // The user's API keys count in the user's window: making more keys gives no more calls, and the
      // refusal names the key it came with.
      const keys: string[] = [];
      for (const name of ['one', 'two']) {
        const made = await limited.request('http', '/api/v2/keys', {
          token: other.token,
          json: { name, scopes: ['calls:write'] },
        });
        expect(made.status).toBe(201);
        keys.push(((await made.json()) as { key: string }).key);
      }
      const byKey: number[] = [];
      for (const key of [...keys, ...keys]) {
        byKey.push(
          (
            await limited.request('http', '/api/v2/calls', {
              token: key,
              json: { phone_number: '5551234000' },
            })
          ).status,
        );
      }
      expect(byKey).toEqual([200, 200, 429, 429]);
      const refused = await limited.request('http', '/api/v2/calls', {
        token: keys[0],
        json: { phone_number: '5551234000' },
      });
      expect((await expectProblem(refused, 429, 'rate_limited')).detail).toContain('API key');
    } finally {
      await limited.stop();
    }
  });

  test('40 originates at once from one user, by its token and three keys, place exactly RATE_LIMIT_REQUESTS calls', async () => {
    const limited = await startTestStack({ env: { RATE_LIMIT_REQUESTS: '5', RATE_LIMIT_WINDOW: '60' } });
    try {
      const op = await limited.user('operator');
      const credentials = [op.token];
      for (const name of ['a', 'b', 'c']) {
        const made = await limited.request('http', '/api/v2/keys', {
          token: op.token,
          json: { name, scopes: ['calls:write'] },
        });
        expect(made.status).toBe(201);
        credentials.push(((await made.json()) as { key: string }).key);
      }
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          limited.request('http', '/api/v2/calls', {
            token: credentials[i % credentials.length],
            json: { phone_number: '5551234000' },
            headers: { 'Idempotency-Key': `burst-${i}` },
          }),
        ),
      );
      const statuses = answers.map((res) => res.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(5);
      expect(statuses.filter((s) => s === 429)).toHaveLength(35);
      for (const res of answers.filter((r) => r.status === 429))
        await expectProblem(res, 429, 'rate_limited');
      // Only the granted requests reached the PBX's sidecar, and each placed one call.
      expect(limited.sidecar.originates).toHaveLength(5);
    } finally {
      await limited.stop();
    }
  });
});
