import { afterAll, beforeAll, beforeEach, describe, expect } from 'bun:test';
import { count, eq, sql } from 'drizzle-orm';
import { FlowDetailSchema, FlowSchema, FlowVersionSchema } from '../../api/flows/bodies.ts';
import { FlowListSchema } from '../../api/routes/flows/schema.ts';
import { FLOW_EXAMPLE, FLOW_MAX_STEPS } from '../../api/shared/contract/index.ts';
import { auditLog, calls, flowVersions } from '../../db/schema.ts';
import { testDbKind } from '../harness/database.ts';
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
beforeEach(() => stack.sidecar.reset());

async function callCount(userId: string): Promise<number> {
  const rows = await stack.database.db.select({ n: count() }).from(calls).where(eq(calls.ownerId, userId));
  return Number(rows[0]?.n ?? 0);
}

/** Rows of a raw query, whichever driver ran it. */
async function rowsOf<T>(query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await stack.database.db.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

for (const mode of MODES) {
  describe(`calls with a flow (${mode})`, () => {
    const place = (user: TestUser, body: unknown, headers?: Record<string, string>) =>
      stack.request(mode, '/api/v2/calls', {
        token: user.token,
        json: body,
        ...(headers ? { headers } : {}),
      });

    test('an inline flow is stored on the call and sent in the signed originate command', async () => {
      const op = await stack.user('operator');
      const res = await place(op, { phone_number: '+15557771', flow: FLOW_EXAMPLE });
      expect(res.status).toBe(200);
      const { call_id } = (await res.json()) as { call_id: string };
      expect(stack.sidecar.originates).toHaveLength(1);
      const cmd = stack.sidecar.originates[0]!.body;
      // The steps go as the contract parsed them: what was sent, with each default filled in.
      expect(cmd.flow).toHaveLength(5);
      expect(cmd.flow![1]).toMatchObject({ ...FLOW_EXAMPLE[1], inter_digit_timeout_ms: 3000 });
      expect(cmd.flow![4]).toEqual({ id: 'bye', verb: 'hangup', cause: 16 });
      const [row] = await stack.database.db.select().from(calls).where(eq(calls.id, call_id));
      expect(row!.flow).toEqual(cmd.flow!);
      expect(row!.flowId).toBeNull();
    });

    test('a call without a flow sends none', async () => {
      const op = await stack.user('operator');
      expect((await place(op, { phone_number: '+15551234000' })).status).toBe(200);
      expect(stack.sidecar.originates[0]!.body.flow).toBeUndefined();
    });

    test.each<[string, unknown, number, string, string[]]>([
      [
        'an unknown verb',
        [{ verb: 'play', media: ['sound:a'] }, { verb: 'dance' }],
        422,
        'validation_error',
        ['/flow/1/verb'],
      ],
      [
        'an unknown field of a step',
        [{ verb: 'play', media: ['sound:a'], loop: 3 }],
        400,
        'unknown_field',
        ['/flow/0/loop'],
      ],
      [
        'media outside the allowed schemes',
        [{ verb: 'play', media: ['sound:a', 'http://evil.example/x.wav'] }],
        422,
        'validation_error',
        ['/flow/0/media/1'],
      ],
      [
        'a jump to a missing step',
        [
          { verb: 'gather', name: 'x' },
          { verb: 'branch', on: 'x', cases: { '1': 'nope' } },
          { verb: 'hangup' },
        ],
        422,
        'validation_error',
        ['/flow/1/cases/1'],
      ],
      [
        'a loop that never waits',
        [
          { id: 'a', verb: 'play', media: ['sound:a'] },
          { verb: 'goto', to: 'a' },
        ],
        422,
        'validation_error',
        ['/flow/1/to'],
      ],
      [
        'an unreachable step and a context outside the allow-list',
        [{ verb: 'continue', context: 'from-internal' }, { verb: 'hangup' }],
        422,
        'validation_error',
        ['/flow/1', '/flow/0/context'],
      ],
      [
        `more than ${FLOW_MAX_STEPS} steps`,
        Array.from({ length: FLOW_MAX_STEPS + 1 }, () => ({ verb: 'play', media: ['sound:a'] })),
        422,
        'validation_error',
        ['/flow'],
      ],
      ['an empty flow', [], 422, 'validation_error', ['/flow']],
      ['a flow that is not a list', { verb: 'hangup' }, 422, 'validation_error', ['/flow']],
    ])(
      'refuses %s, pointing into the body, and places nothing',
      async (_name, flow, status, code, pointers) => {
        const op = await stack.user('operator');
        const res = await place(op, { phone_number: '+15557771', flow });
        const problem = await expectProblem(res, status, code);
        expect(problem.errors!.map((e) => e.pointer)).toEqual(pointers);
        for (const e of problem.errors!) {
          expect(e.message).not.toMatch(/expected|received|Invalid input/i);
          expect(e.path).toBe(`body${e.pointer!.replaceAll('/', '.')}`);
        }
        expect(stack.sidecar.originates).toHaveLength(0);
        expect(await callCount(op.id)).toBe(0);
      },
    );

    test('deeply nested JSON in a flow is refused, not a 5xx', async () => {
      const op = await stack.user('operator');
      let deep: unknown = 'x';
      for (let i = 0; i < 2000; i++) deep = [deep];
      const res = await place(op, { phone_number: '+15557771', flow: [{ verb: 'play', media: deep }] });
      expect([400, 413, 422]).toContain(res.status);
      expect(stack.sidecar.originates).toHaveLength(0);
    });

    test('flow and flow_id together: 422 naming both, nothing placed', async () => {
      const op = await stack.user('operator');
      const res = await place(op, {
        phone_number: '+15557771',
        flow: FLOW_EXAMPLE,
        flow_id: crypto.randomUUID(),
      });
      const problem = await expectProblem(res, 422, 'validation_error');
      expect(problem.errors!.map((e) => e.pointer)).toEqual(['/flow', '/flow_id']);
      const orphan = await place(op, { phone_number: '+15557771', flow_version: 2 });
      expect((await expectProblem(orphan, 422)).errors![0]!.pointer).toBe('/flow_version');
      expect(stack.sidecar.originates).toHaveLength(0);
      expect(await callCount(op.id)).toBe(0);
    });

    test('an Idempotency-Key replays the same flow and refuses another', async () => {
      const op = await stack.user('operator');
      const key = { 'idempotency-key': `flow-${crypto.randomUUID()}` };
      const first = await place(op, { phone_number: '+15557771', flow: FLOW_EXAMPLE }, key);
      expect(first.status).toBe(200);
      const again = await place(op, { phone_number: '+15557771', flow: FLOW_EXAMPLE }, key);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(((await again.json()) as { call_id: string }).call_id).toBe(
        ((await first.json()) as { call_id: string }).call_id,
      );
      const other = FLOW_EXAMPLE.map((s) => (s.verb === 'hangup' ? { ...s, cause: 17 } : s));
      await expectProblem(
        await place(op, { phone_number: '+15557771', flow: other }, key),
        422,
        'idempotency_key_reused',
      );
      expect(stack.sidecar.originates).toHaveLength(1);
    });
  });

  describe(`saved flows (${mode})`, () => {
    const create = (user: TestUser, body: unknown) =>
      stack.request(mode, '/api/v2/flows', { token: user.token, json: body });

    async function saved(user: TestUser, name = 'Reminder') {
      const res = await create(user, { name, steps: FLOW_EXAMPLE });
      expect(res.status).toBe(201);
      return FlowVersionSchema.parse(await res.json());
    }

    test('create, read, list, add a version, read each version', async () => {
      const op = await stack.user('operator');
      const v1 = await saved(op);
      expect(v1.version).toBe(1);
      expect(v1.used_at).toBeNull();
      const next = FLOW_EXAMPLE.slice(0, 1).concat([{ verb: 'hangup' } as never]);
      const v2res = await stack.request(mode, `/api/v2/flows/${v1.flow_id}/versions`, {
        token: op.token,
        json: { steps: next },
      });
      expect(v2res.status).toBe(201);
      expect(FlowVersionSchema.parse(await v2res.json()).version).toBe(2);

      const detail = FlowDetailSchema.parse(
        await (await stack.request(mode, `/api/v2/flows/${v1.flow_id}`, { token: op.token })).json(),
      );
      expect(detail).toMatchObject({ name: 'Reminder', owner_id: op.id, latest_version: 2, archived: false });
      expect(detail.steps).toHaveLength(2);
      expect(detail.versions.map((v) => [v.version, v.step_count])).toEqual([
        [1, 5],
        [2, 2],
      ]);
      const one = await stack.request(mode, `/api/v2/flows/${v1.flow_id}/versions/1`, { token: op.token });
      expect(FlowVersionSchema.parse(await one.json()).steps).toHaveLength(5);
      await expectProblem(
        await stack.request(mode, `/api/v2/flows/${v1.flow_id}/versions/3`, { token: op.token }),
        404,
        'flow_not_found',
      );
      const list = FlowListSchema.parse(
        await (await stack.request(mode, '/api/v2/flows', { token: op.token })).json(),
      );
      expect(list.items.map((f) => f.flow_id)).toEqual([v1.flow_id]);
      const audit = await stack.database.db.select().from(auditLog).where(eq(auditLog.targetId, v1.flow_id));
      expect(audit.map((a) => a.action).sort()).toEqual(['flow.create', 'flow.version']);
    });

    test('bad steps: 422 pointing into /steps; an unknown field 400; nothing saved', async () => {
      const op = await stack.user('operator');
      const bad = await create(op, { name: 'x', steps: [{ id: 'a', verb: 'goto', to: 'a' }] });
      expect((await expectProblem(bad, 422, 'validation_error')).errors![0]!.pointer).toBe('/steps/0/to');
      const unknown = await create(op, { name: 'x', steps: FLOW_EXAMPLE, colour: 'red' });
      expect((await expectProblem(unknown, 400, 'unknown_field')).errors![0]!.pointer).toBe('/colour');
      const list = FlowListSchema.parse(
        await (await stack.request(mode, '/api/v2/flows', { token: op.token })).json(),
      );
      expect(list.items).toHaveLength(0);
    });

    test('owned like calls: other operators get 404, viewers read but write nothing, admins do all', async () => {
      const owner = await stack.user('operator');
      const other = await stack.user('operator');
      const viewer = await stack.user('viewer');
      const admin = await stack.user('admin');
      const { flow_id } = await saved(owner);
      for (const path of [`/api/v2/flows/${flow_id}`, `/api/v2/flows/${flow_id}/versions/1`])
        await expectProblem(await stack.request(mode, path, { token: other.token }), 404, 'flow_not_found');
      await expectProblem(
        await stack.request(mode, `/api/v2/flows/${flow_id}/archive`, { method: 'POST', token: other.token }),
        404,
      );
      await expectProblem(
        await stack.request(mode, '/api/v2/calls', {
          token: other.token,
          json: { phone_number: '+15557771', flow_id },
        }),
        404,
        'flow_not_found',
      );
      const otherList = FlowListSchema.parse(
        await (await stack.request(mode, '/api/v2/flows', { token: other.token })).json(),
      );
      expect(otherList.items.map((f) => f.flow_id)).not.toContain(flow_id);

      expect((await stack.request(mode, `/api/v2/flows/${flow_id}`, { token: viewer.token })).status).toBe(
        200,
      );
      await expectProblem(await create(viewer, { name: 'v', steps: FLOW_EXAMPLE }), 403);
      await expectProblem(
        await stack.request(mode, `/api/v2/flows/${flow_id}/versions`, {
          token: viewer.token,
          json: { steps: FLOW_EXAMPLE },
        }),
        403,
      );

      const byAdmin = await stack.request(mode, `/api/v2/flows/${flow_id}/versions`, {
        token: admin.token,
        json: { steps: FLOW_EXAMPLE },
      });
      expect(byAdmin.status).toBe(201);
      expect(stack.sidecar.originates).toHaveLength(0);
    });

    test('a call with flow_id runs the latest version or the one named, and marks it used', async () => {
      const op = await stack.user('operator');
      const { flow_id } = await saved(op);
      await stack.request(mode, `/api/v2/flows/${flow_id}/versions`, {
        token: op.token,
        json: { steps: [{ verb: 'hangup', cause: 21 }] },
      });
      const latest = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '+15557771', flow_id },
      });
      expect(latest.status).toBe(200);
      expect(stack.sidecar.originates[0]!.body.flow).toEqual([{ verb: 'hangup', cause: 21 }]);
      const first = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '+15557771', flow_id, flow_version: 1 },
      });
      expect(first.status).toBe(200);
      expect(stack.sidecar.originates[1]!.body.flow).toHaveLength(5);
      const { call_id } = (await first.json()) as { call_id: string };
      const [row] = await stack.database.db.select().from(calls).where(eq(calls.id, call_id));
      expect([row!.flowId, row!.flowVersion]).toEqual([flow_id, 1]);
      const versions = await stack.database.db
        .select()
        .from(flowVersions)
        .where(eq(flowVersions.flowId, flow_id));
      expect(versions.every((v) => v.usedAt !== null)).toBe(true);
      await expectProblem(
        await stack.request(mode, '/api/v2/calls', {
          token: op.token,
          json: { phone_number: '+15557771', flow_id, flow_version: 9 },
        }),
        422,
      );
    });

    test('an archived flow takes no call and no version, leaves the list, and stays readable', async () => {
      const op = await stack.user('operator');
      const { flow_id } = await saved(op);
      const archived = await stack.request(mode, `/api/v2/flows/${flow_id}/archive`, {
        method: 'POST',
        token: op.token,
      });
      expect(FlowSchema.parse(await archived.json()).archived).toBe(true);
      const call = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '+15557771', flow_id },
      });
      expect((await expectProblem(call, 409, 'flow_archived')).detail).toContain('archived');
      await expectProblem(
        await stack.request(mode, `/api/v2/flows/${flow_id}/versions`, {
          token: op.token,
          json: { steps: FLOW_EXAMPLE },
        }),
        409,
        'flow_archived',
      );
      const list = async (q: string) =>
        FlowListSchema.parse(
          await (await stack.request(mode, `/api/v2/flows${q}`, { token: op.token })).json(),
        ).items.length;
      expect(await list('')).toBe(0);
      expect(await list('?include_archived=true')).toBe(1);
      expect((await stack.request(mode, `/api/v2/flows/${flow_id}`, { token: op.token })).status).toBe(200);
      expect(stack.sidecar.originates).toHaveLength(0);
      expect(await callCount(op.id)).toBe(0);
    });

    test('pages of flows follow one another without gaps or repeats', async () => {
      const op = await stack.user('operator');
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) ids.add((await saved(op, `f${i}`)).flow_id);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : '';
        const page = FlowListSchema.parse(
          await (await stack.request(mode, `/api/v2/flows?limit=2${q}`, { token: op.token })).json(),
        );
        seen.push(...page.items.map((f) => f.flow_id));
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen.sort()).toEqual([...ids].sort());
    });
  });
}

test('20 versions added at once get the numbers 2 to 21, each once', async () => {
  const op = await stack.user('operator');
  const res = await stack.request('http', '/api/v2/flows', {
    token: op.token,
    json: { name: 'race', steps: FLOW_EXAMPLE },
  });
  const { flow_id } = FlowVersionSchema.parse(await res.json());
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      stack.request(i % 2 ? 'http' : MODES[0]!, `/api/v2/flows/${flow_id}/versions`, {
        token: op.token,
        json: { steps: [{ verb: 'hangup', cause: 16 + (i % 3) }] },
      }),
    ),
  );
  expect(answers.map((a) => a.status)).toEqual(Array(20).fill(201));
  const numbers = await Promise.all(
    answers.map(async (a) => FlowVersionSchema.parse(await a.json()).version),
  );
  expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
  const detail = FlowDetailSchema.parse(
    await (await stack.request('http', `/api/v2/flows/${flow_id}`, { token: op.token })).json(),
  );
  expect(detail.latest_version).toBe(21);
  expect(detail.versions).toHaveLength(21);
});

test.if(testDbKind() === 'postgres')(
  'jsonb values are stored as JSON values, not as JSON strings',
  async () => {
    const op = await stack.user('operator');
    const flow = await stack.request('http', '/api/v2/flows', {
      token: op.token,
      json: { name: 'j', steps: FLOW_EXAMPLE },
    });
    expect(flow.status).toBe(201);
    const call = await stack.request('http', '/api/v2/calls', {
      token: op.token,
      json: {
        phone_number: '+15557771',
        variables: { CAMPAIGN: 'x' },
        status_callback_events: ['answered'],
        flow: FLOW_EXAMPLE,
      },
      headers: { 'idempotency-key': `j-${crypto.randomUUID()}` },
    });
    expect(call.status).toBe(200);
    const types = await rowsOf<Record<string, string>>(sql`
    select
      (select jsonb_typeof(variables) from calls where owner_id = ${op.id}) as variables,
      (select jsonb_typeof(status_callback_events) from calls where owner_id = ${op.id}) as events,
      (select jsonb_typeof(flow) from calls where owner_id = ${op.id}) as flow,
      (select jsonb_typeof(steps) from flow_versions v join flows f on f.id = v.flow_id where f.owner_id = ${op.id}) as steps,
      (select jsonb_typeof(response_body) from idempotency_keys where user_id = ${op.id}) as response_body,
      (select jsonb_typeof(details) from audit_log where actor_id = ${op.id} and action = 'flow.create') as details`);
    expect(types[0]).toEqual({
      variables: 'object',
      events: 'array',
      flow: 'array',
      steps: 'array',
      response_body: 'object',
      details: 'object',
    });
  },
);
