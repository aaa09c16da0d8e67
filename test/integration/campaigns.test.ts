import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { and, count, eq } from 'drizzle-orm';
import { CampaignListSchema, CampaignSchema } from '../../api/campaigns/bodies.ts';
import { housekeep } from '../../api/housekeeping.ts';
import { silentLogger } from '../../api/shared/base/log.ts';
import { CAMPAIGN_COUNTERS, type CallingWindow } from '../../api/shared/contract/index.ts';
import { addCampaignCounters } from '../../db/queries/campaign-counters.ts';
import { auditLog, campaignContacts, campaignCounters, campaigns } from '../../db/schema.ts';
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

const VALID = {
  name: 'Reminders',
  timezone: 'America/New_York',
  windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '19:00' }],
  retry: { busy: { after_seconds: 600, max_attempts: 3 } },
  max_attempts_per_day: 2,
  cps: 5,
  max_concurrent: 20,
};

type Campaign = ReturnType<typeof CampaignSchema.parse>;

async function campaignCount(): Promise<number> {
  const [row] = await stack.database.db.select({ n: count() }).from(campaigns);
  return Number(row!.n);
}

/** Contacts put straight into the database (importing them is another route's), with their counters. */
async function addContacts(campaignId: string, n: number) {
  const db = stack.database.db;
  await db.transaction(async (tx) => {
    await tx.insert(campaignContacts).values(
      Array.from({ length: n }, (_, i) => ({
        campaignId,
        phoneNumber: `+1555200${String(i).padStart(4, '0')}`,
        nextAttemptAt: new Date(),
      })),
    );
    await addCampaignCounters(tx, campaignId, { total: n, pending: n });
  });
}

const STEPS = [{ verb: 'play', media: ['sound:hello-world'] }, { verb: 'hangup' }];

for (const mode of MODES) {
  describe(`campaigns (${mode})`, () => {
    const send = (user: TestUser, path: string, init: { method?: string; json?: unknown } = {}) =>
      stack.request(mode, `/api/v2/campaigns${path}`, { token: user.token, ...init });
    const create = async (user: TestUser, body: unknown = VALID): Promise<Campaign> => {
      const res = await send(user, '', { json: body });
      expect(res.status).toBe(201);
      return CampaignSchema.parse(await res.json());
    };
    const act = (user: TestUser, id: string, action: string) =>
      send(user, `/${id}/${action}`, { method: 'POST' });

    test('a new campaign is a draft with every counter at 0, read back with its counters', async () => {
      const op = await stack.user('operator');
      const made = await create(op);
      expect(made).toMatchObject({
        state: 'draft',
        owner_id: op.id,
        name: 'Reminders',
        timezone: 'America/New_York',
        flow_id: null,
        context: stack.config.DEFAULT_CONTEXT,
        extension: stack.config.DEFAULT_EXTENSION,
        priority: stack.config.DEFAULT_PRIORITY,
        ring_timeout_ms: stack.config.DEFAULT_TIMEOUT,
        cps: 5,
        max_concurrent: 20,
        started_at: null,
        finished_at: null,
      });
      expect(Object.keys(made.counters).sort()).toEqual([...CAMPAIGN_COUNTERS].sort());
      expect(Object.values(made.counters).every((v) => v === 0)).toBe(true);
      const got = await send(op, `/${made.campaign_id}`);
      expect(got.status).toBe(200);
      expect(CampaignSchema.parse(await got.json())).toEqual(made);
      const rows = await stack.database.db
        .select()
        .from(campaignCounters)
        .where(eq(campaignCounters.campaignId, made.campaign_id));
      expect(rows).toHaveLength(CAMPAIGN_COUNTERS.length);
      const audit = await stack.database.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.targetId, made.campaign_id), eq(auditLog.action, 'campaign.create')));
      expect(audit).toHaveLength(1);
    });

    test('counters a campaign keeps are read from its counters, and a missing one is 0', async () => {
      const op = await stack.user('operator');
      const made = await create(op);
      await addContacts(made.campaign_id, 3);
      await stack.database.db
        .delete(campaignCounters)
        .where(and(eq(campaignCounters.campaignId, made.campaign_id), eq(campaignCounters.name, 'done')));
      const got = CampaignSchema.parse(await (await send(op, `/${made.campaign_id}`)).json());
      expect(got.counters).toMatchObject({ total: 3, pending: 3, done: 0 });
    });

    test('the list is the caller’s, newest first, filtered by state and paged', async () => {
      const op = await stack.user('operator');
      const other = await stack.user('operator');
      const a = await create(op, { ...VALID, name: 'a' });
      const b = await create(op, { ...VALID, name: 'b' });
      const c = await create(op, { ...VALID, name: 'c' });
      await create(other);
      expect((await act(op, b.campaign_id, 'start')).status).toBe(200);

      const all = CampaignListSchema.parse(await (await send(op, '')).json());
      expect(all.items.map((x) => x.campaign_id)).toEqual([c.campaign_id, b.campaign_id, a.campaign_id]);
      expect(all.items[1]!.counters.total).toBe(0);
      const running = CampaignListSchema.parse(await (await send(op, '?state=running')).json());
      expect(running.items.map((x) => x.campaign_id)).toEqual([b.campaign_id]);

      const seen: string[] = [];
      let cursor: string | null = '';
      while (cursor !== null) {
        const page = CampaignListSchema.parse(
          await (await send(op, `?limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json(),
        );
        seen.push(...page.items.map((x) => x.campaign_id));
        cursor = page.next_cursor;
      }
      expect(seen).toEqual([c.campaign_id, b.campaign_id, a.campaign_id]);
      await expectProblem(await send(op, '?state=sleeping'), 422, 'validation_error');
      await expectProblem(await send(op, '?cursor=bm90LWEtY3Vyc29y'), 422, 'validation_error');
    });

    test.each<[string, Record<string, unknown>, number, string, string]>([
      ['a zone that is not IANA', { timezone: 'Mars/Olympus' }, 422, 'validation_error', '/timezone'],
      ['a zone that is no name', { timezone: '../../etc/passwd' }, 422, 'validation_error', '/timezone'],
      [
        'a window at 25:00',
        { windows: [{ days: ['mon'], start: '09:00', end: '25:00' }] },
        422,
        'validation_error',
        '/windows/0/end',
      ],
      [
        'a window ending past the end of the day',
        { windows: [{ days: ['mon'], start: '09:00', end: '24:01' }] },
        422,
        'validation_error',
        '/windows/0/end',
      ],
      [
        'a window starting at the end of the day',
        { windows: [{ days: ['mon'], start: '24:00', end: '24:00' }] },
        422,
        'validation_error',
        '/windows/0/start',
      ],
      [
        'a window ending at its start',
        { windows: [{ days: ['mon'], start: '09:00', end: '09:00' }] },
        422,
        'validation_error',
        '/windows/0/end',
      ],
      [
        'a window past midnight',
        { windows: [{ days: ['fri'], start: '22:00', end: '02:00' }] },
        422,
        'validation_error',
        '/windows/0/end',
      ],
      [
        'a day given twice',
        { windows: [{ days: ['mon', 'mon'], start: '09:00', end: '10:00' }] },
        422,
        'validation_error',
        '/windows/0/days',
      ],
      ['no window', { windows: [] }, 422, 'validation_error', '/windows'],
      [
        'fifteen windows',
        { windows: Array.from({ length: 15 }, () => ({ days: ['mon'], start: '09:00', end: '10:00' })) },
        422,
        'validation_error',
        '/windows',
      ],
      [
        'a window field it does not define',
        { windows: [{ days: ['mon'], start: '09:00', end: '10:00', tz: 'UTC' }] },
        400,
        'unknown_field',
        '/windows/0/tz',
      ],
      [
        'a retry for an outcome it does not know',
        { retry: { answered: { after_seconds: 60, max_attempts: 2 } } },
        400,
        'unknown_field',
        '/retry/answered',
      ],
      [
        'a retry of 21 attempts',
        { retry: { busy: { after_seconds: 60, max_attempts: 21 } } },
        422,
        'validation_error',
        '/retry/busy/max_attempts',
      ],
      ['a field it does not define', { tiemout: 5 }, 400, 'unknown_field', '/tiemout'],
      ['11 attempts a day', { max_attempts_per_day: 11 }, 422, 'validation_error', '/max_attempts_per_day'],
      ['a pace past CAMPAIGN_MAX_CPS', { cps: 51 }, 422, 'validation_error', '/cps'],
      ['no pace', { cps: 0 }, 422, 'validation_error', '/cps'],
      [
        'more calls at once than allowed',
        { max_concurrent: 501 },
        422,
        'validation_error',
        '/max_concurrent',
      ],
      [
        'an end before the start',
        { starts_at: '2026-12-01T09:00:00Z', ends_at: '2026-11-30T09:00:00Z' },
        422,
        'validation_error',
        '/ends_at',
      ],
      ['a start that is no time', { starts_at: 'tomorrow' }, 422, 'validation_error', '/starts_at'],
      ['a context not allowed', { context: 'from-internal' }, 422, 'validation_error', '/context'],
      [
        'a flow and a context',
        { flow_id: crypto.randomUUID(), context: 'outbound-ivr' },
        422,
        'validation_error',
        '/flow_id',
      ],
      ['a flow version without a flow', { flow_version: 2 }, 422, 'validation_error', '/flow_version'],
      ['a flow that does not exist', { flow_id: crypto.randomUUID() }, 404, 'flow_not_found', ''],
      [
        'a variable name that is a function',
        { variables: { 'CALLERID(num)': 'x' } },
        422,
        'validation_error',
        '/variables/CALLERID(num)',
      ],
      ['a name with a control character', { name: 'a\u0007b' }, 422, 'validation_error', '/name'],
    ])('%s is refused and creates nothing', async (_, change, status, code, pointer) => {
      const op = await stack.user('operator');
      const before = await campaignCount();
      const problem = await expectProblem(
        await send(op, '', { json: { ...VALID, ...change } }),
        status,
        code,
      );
      if (pointer) expect(problem.errors?.map((e) => e.pointer)).toContain(pointer);
      expect(problem.detail).not.toMatch(/Invalid input|expected|received/);
      expect(await campaignCount()).toBe(before);
    });

    test('a window may end at 24:00, the end of the day: all day is 00:00 to 24:00', async () => {
      const op = await stack.user('operator');
      const windows: CallingWindow[] = [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' },
        { days: ['sat'], start: '22:00', end: '24:00' },
      ];
      const made = await create(op, { ...VALID, windows });
      expect(made.windows).toEqual(windows);
      expect(CampaignSchema.parse(await (await send(op, `/${made.campaign_id}`)).json()).windows).toEqual(
        windows,
      );
    });

    test('a body past 64 KiB is refused, and a body that is not JSON', async () => {
      const op = await stack.user('operator');
      const before = await campaignCount();
      const huge = { ...VALID, name: 'x', variables: { A: 'y'.repeat(70_000) } };
      await expectProblem(await send(op, '', { json: huge }), 413, 'payload_too_large');
      const res = await stack.request(mode, '/api/v2/campaigns', {
        token: op.token,
        headers: { 'Content-Type': 'application/json' },
        body: '{"name": ',
      });
      await expectProblem(res, 400, 'malformed_request');
      expect(await campaignCount()).toBe(before);
    });

    test('a saved flow: its latest version is kept; another operator’s is unseen; an archived one refused', async () => {
      const op = await stack.user('operator');
      const other = await stack.user('operator');
      const admin = await stack.user('admin');
      const flow = await stack.request(mode, '/api/v2/flows', {
        token: op.token,
        json: { name: 'f', steps: STEPS },
      });
      const { flow_id } = (await flow.json()) as { flow_id: string };
      await stack.request(mode, `/api/v2/flows/${flow_id}/versions`, {
        token: op.token,
        json: { steps: STEPS },
      });

      const made = await create(op, { ...VALID, flow_id });
      expect(made).toMatchObject({
        flow_id,
        flow_version: 2,
        context: null,
        extension: null,
        priority: null,
      });
      expect((await create(op, { ...VALID, flow_id, flow_version: 1 })).flow_version).toBe(1);
      await expectProblem(await send(op, '', { json: { ...VALID, flow_id, flow_version: 3 } }), 422);
      await expectProblem(await send(other, '', { json: { ...VALID, flow_id } }), 404, 'flow_not_found');
      // An admin may use anyone's flow for its own campaign, but gives another's campaign only its owner's.
      expect((await create(admin, { ...VALID, flow_id })).flow_id).toBe(flow_id);
      const others = await create(other);
      await expectProblem(
        await send(admin, `/${others.campaign_id}`, { method: 'PATCH', json: { flow_id } }),
        404,
        'flow_not_found',
      );

      await stack.request(mode, `/api/v2/flows/${flow_id}/archive`, { token: op.token, method: 'POST' });
      await expectProblem(await send(op, '', { json: { ...VALID, flow_id } }), 409, 'flow_archived');
    });

    test('changes apply while draft or paused, and are refused with the state otherwise', async () => {
      const op = await stack.user('operator');
      const made = await create(op, { ...VALID, starts_at: '2026-12-01T09:00:00Z' });
      const patch = (json: unknown) => send(op, `/${made.campaign_id}`, { method: 'PATCH', json });

      const changed = CampaignSchema.parse(
        await (await patch({ cps: 10, caller_id: 'Clinic <5550001111>' })).json(),
      );
      expect(changed).toMatchObject({
        cps: 10,
        caller_id: 'Clinic <5550001111>',
        name: 'Reminders',
        max_concurrent: 20,
      });
      // An end before the start already set points at the end given.
      const early = await expectProblem(await patch({ ends_at: '2026-11-01T00:00:00Z' }), 422);
      expect(early.errors?.[0]?.pointer).toBe('/ends_at');
      expect((await patch({ starts_at: null, caller_id: null })).status).toBe(200);
      await expectProblem(await patch({ cps: 1, nope: 1 }), 400, 'unknown_field');

      expect((await act(op, made.campaign_id, 'start')).status).toBe(200);
      const refused = await expectProblem(await patch({ cps: 2 }), 409, 'campaign_state');
      expect(refused.detail).toContain('running');
      expect((await act(op, made.campaign_id, 'pause')).status).toBe(200);
      expect(CampaignSchema.parse(await (await patch({ cps: 2 })).json()).cps).toBe(2);
      expect((await act(op, made.campaign_id, 'cancel')).status).toBe(200);
      expect((await expectProblem(await patch({ cps: 3 }), 409, 'campaign_state')).detail).toContain(
        'canceled',
      );

      const [row] = await stack.database.db
        .select()
        .from(campaigns)
        .where(eq(campaigns.id, made.campaign_id));
      expect(row).toMatchObject({ cps: 2, callerId: null, startsAt: null, state: 'canceled' });
    });

    test('actions move the state as CAMPAIGN_ACTIONS allow, and name the state when they do not', async () => {
      const op = await stack.user('operator');
      const { campaign_id: id } = await create(op);
      for (const action of ['pause', 'resume']) {
        const p = await expectProblem(await act(op, id, action), 409, 'campaign_state');
        expect(p.detail).toContain('draft');
      }
      const started = CampaignSchema.parse(await (await act(op, id, 'start')).json());
      expect(started.state).toBe('running');
      expect(started.started_at).not.toBeNull();
      expect((await expectProblem(await act(op, id, 'start'), 409, 'campaign_state')).detail).toContain(
        'running',
      );
      expect((await expectProblem(await act(op, id, 'resume'), 409, 'campaign_state')).detail).toContain(
        'running',
      );
      expect(CampaignSchema.parse(await (await act(op, id, 'pause')).json()).state).toBe('paused');
      expect(CampaignSchema.parse(await (await act(op, id, 'resume')).json()).state).toBe('running');
      const canceled = CampaignSchema.parse(await (await act(op, id, 'cancel')).json());
      expect(canceled.state).toBe('canceled');
      expect(canceled.finished_at).not.toBeNull();
      for (const action of ['start', 'pause', 'resume', 'cancel'])
        expect((await expectProblem(await act(op, id, action), 409, 'campaign_state')).detail).toContain(
          'canceled',
        );
      await expectProblem(await act(op, id, 'restart'), 404);
      await expectProblem(await act(op, crypto.randomUUID(), 'start'), 404, 'campaign_not_found');
      const audit = await stack.database.db.select().from(auditLog).where(eq(auditLog.targetId, id));
      expect(audit.map((a) => a.action).sort()).toEqual(
        ['campaign.cancel', 'campaign.create', 'campaign.pause', 'campaign.resume', 'campaign.start'].sort(),
      );
    });

    test('cancel ends pending contacts and moves their counters in the same step', async () => {
      const op = await stack.user('operator');
      const { campaign_id: id } = await create(op);
      await addContacts(id, 25);
      // One is dialling: its call finishes, the cancel leaves it to the engine.
      await stack.database.db
        .update(campaignContacts)
        .set({ state: 'in_progress' })
        .where(and(eq(campaignContacts.campaignId, id), eq(campaignContacts.phoneNumber, '+15552000000')));
      await addCampaignCounters(stack.database.db, id, { pending: -1, in_progress: 1 });
      expect((await act(op, id, 'start')).status).toBe(200);
      const canceled = CampaignSchema.parse(await (await act(op, id, 'cancel')).json());
      expect(canceled.counters).toMatchObject({ total: 25, pending: 0, in_progress: 1, canceled: 24 });
      const states = await stack.database.db
        .select({ state: campaignContacts.state, n: count() })
        .from(campaignContacts)
        .where(eq(campaignContacts.campaignId, id))
        .groupBy(campaignContacts.state);
      expect(Object.fromEntries(states.map((s) => [s.state, Number(s.n)]))).toEqual({
        canceled: 24,
        in_progress: 1,
      });
    });

    test('20 concurrent starts: one succeeds; starts racing cancels: one cancel, at most one start', async () => {
      const op = await stack.user('operator');
      const { campaign_id: id } = await create(op);
      const starts = await Promise.all(Array.from({ length: 20 }, () => act(op, id, 'start')));
      expect(starts.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of starts.filter((r) => r.status !== 200)) await expectProblem(r, 409, 'campaign_state');

      const other = await create(op);
      await addContacts(other.campaign_id, 10);
      const mixed = await Promise.all(
        Array.from({ length: 20 }, (_, i) => act(op, other.campaign_id, i % 2 ? 'cancel' : 'start')),
      );
      const won = (action: string) =>
        mixed.filter((r, i) => r.status === 200 && (i % 2 ? 'cancel' : 'start') === action).length;
      expect(won('cancel')).toBe(1);
      expect(won('start')).toBeLessThanOrEqual(1);
      expect(mixed.every((r) => r.status === 200 || r.status === 409)).toBe(true);
      const final = CampaignSchema.parse(await (await send(op, `/${other.campaign_id}`)).json());
      expect(final.state).toBe('canceled');
      expect(final.counters).toMatchObject({ total: 10, pending: 0, canceled: 10 });
      const actions = await stack.database.db
        .select({ action: auditLog.action })
        .from(auditLog)
        .where(eq(auditLog.targetId, other.campaign_id));
      expect(actions.filter((a) => a.action === 'campaign.cancel')).toHaveLength(1);
      expect(actions.filter((a) => a.action === 'campaign.start')).toHaveLength(won('start'));
    });

    test('who may: viewers read and change nothing, operators their own, admins everyone’s', async () => {
      const op = await stack.user('operator');
      const other = await stack.user('operator');
      const viewer = await stack.user('viewer');
      const admin = await stack.user('admin');
      const mine = await create(op);
      const before = await campaignCount();

      await expectProblem(await send(viewer, '', { json: VALID }), 403, 'forbidden');
      await expectProblem(
        await send(viewer, `/${mine.campaign_id}`, { method: 'PATCH', json: { cps: 2 } }),
        403,
      );
      await expectProblem(await act(viewer, mine.campaign_id, 'start'), 403, 'forbidden');
      expect((await send(viewer, `/${mine.campaign_id}`)).status).toBe(200);
      const viewed = CampaignListSchema.parse(await (await send(viewer, '?limit=100')).json());
      expect(viewed.items.some((x) => x.campaign_id === mine.campaign_id)).toBe(true);

      await expectProblem(await send(other, `/${mine.campaign_id}`), 404, 'campaign_not_found');
      await expectProblem(
        await send(other, `/${mine.campaign_id}`, { method: 'PATCH', json: { cps: 2 } }),
        404,
      );
      await expectProblem(await act(other, mine.campaign_id, 'cancel'), 404, 'campaign_not_found');
      const theirs = CampaignListSchema.parse(await (await send(other, '')).json());
      expect(theirs.items.some((x) => x.campaign_id === mine.campaign_id)).toBe(false);

      expect((await send(admin, `/${mine.campaign_id}`, { method: 'PATCH', json: { cps: 3 } })).status).toBe(
        200,
      );
      expect((await act(admin, mine.campaign_id, 'start')).status).toBe(200);
      await expectProblem(await stack.request(mode, '/api/v2/campaigns'), 401);
      expect(await campaignCount()).toBe(before);
      const [row] = await stack.database.db
        .select()
        .from(campaigns)
        .where(eq(campaigns.id, mine.campaign_id));
      expect(row).toMatchObject({ cps: 3, state: 'running', ownerId: op.id });
    });
  });
}

describe('campaign retention', () => {
  test('finished campaigns past CAMPAIGN_RETENTION_DAYS go with their contacts and counters; others stay', async () => {
    const op = await stack.user('operator');
    const db = stack.database.db;
    const make = async (
      state: 'completed' | 'canceled' | 'running' | 'paused',
      finishedDaysAgo: number | null,
    ) => {
      const [row] = await db
        .insert(campaigns)
        .values({
          ownerId: op.id,
          name: `${state} ${finishedDaysAgo}`,
          state,
          timezone: 'UTC',
          windows: VALID.windows as never,
          finishedAt: finishedDaysAgo === null ? null : new Date(Date.now() - finishedDaysAgo * 86_400_000),
        })
        .returning();
      await addContacts(row!.id, 3);
      return row!.id;
    };
    const days = stack.config.CAMPAIGN_RETENTION_DAYS;
    const old = [await make('completed', days + 1), await make('canceled', days + 30)];
    const kept = [await make('canceled', days - 1), await make('running', null), await make('paused', null)];
    // A running campaign whose finished_at is somehow old is still not finished.
    await db
      .update(campaigns)
      .set({ finishedAt: new Date(0) })
      .where(eq(campaigns.id, kept[1]!));

    const result = await housekeep(db, stack.config, silentLogger);
    expect(result.campaigns).toBeGreaterThanOrEqual(2);
    const left = async (id: string) => {
      const [c] = await db.select({ n: count() }).from(campaigns).where(eq(campaigns.id, id));
      const [k] = await db
        .select({ n: count() })
        .from(campaignContacts)
        .where(eq(campaignContacts.campaignId, id));
      const [n] = await db
        .select({ n: count() })
        .from(campaignCounters)
        .where(eq(campaignCounters.campaignId, id));
      return [Number(c!.n), Number(k!.n), Number(n!.n)];
    };
    for (const id of old) expect(await left(id)).toEqual([0, 0, 0]);
    for (const id of kept) expect((await left(id))[0]).toBe(1);
    expect((await left(kept[0]!))[1]).toBe(3);
  });
});
