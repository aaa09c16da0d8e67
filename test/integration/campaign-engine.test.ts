import { afterAll, beforeAll, beforeEach, describe, expect } from 'bun:test';
import { eq, inArray, sql } from 'drizzle-orm';
import { expireLeases } from '../../api/campaigns/engine/lease.ts';
import {
  type CallEventInput,
  type CallStatus,
  EventBatchAck,
  LeaseReply,
  type RetryPolicy,
} from '../../api/shared/contract/index.ts';
import { rowsOf } from '../../db/queries/prepared.ts';
import { callEvents, calls, campaigns, sidecars } from '../../db/schema.ts';
import {
  addDnc,
  attemptsOf,
  campaignRow,
  cancelCampaignRows,
  contactsOf,
  countersFromRows,
  countersOf,
  insertCampaign,
  insertContacts,
  setCampaignState,
} from '../harness/campaign-rows.ts';
import {
  expectProblem,
  startTestStack,
  TARGET,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

/**
 * The campaign engine through the signed lease a sidecar sends and the event batches it posts back:
 * which contacts are leased and when (windows, pacing, the do-not-call list, pause, cancel), what an
 * attempt's end makes of its contact (the retry policy, the per-day cap), and the counters kept with
 * the work — on the clock the test sets.
 */

// The tests set the API's clock (services.now) in this process; under workerd the API keeps its own
// (set by its configuration, below).
describe.skipIf(TARGET === 'workerd')('the campaign engine on a clock the test sets', () => {
  let stack: TestStack;
  let op: TestUser;
  let clock = new Date('2024-06-03T15:00:00Z'); // Monday, 10:00 in Chicago, 17:00 in Berlin
  const SIDECAR = 'test-sidecar';

  beforeAll(async () => {
    stack = await startTestStack();
    op = await stack.user('operator');
    stack.api.services.now = () => clock;
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });
  // Each test sees only its own campaigns.
  beforeEach(async () => {
    clock = new Date('2024-06-03T15:00:00Z');
    await stack.database.db
      .update(campaigns)
      .set({ state: 'completed' })
      .where(inArray(campaigns.state, ['running', 'paused']));
  });

  const db = () => stack.database.db;
  const advance = (seconds: number) => {
    clock = new Date(clock.getTime() + seconds * 1000);
  };

  async function lease(capacity: number, sidecarId = SIDECAR): Promise<LeaseReply> {
    const res = await stack.sidecar.lease(stack.url, { sidecar_id: sidecarId, capacity });
    if (res.status !== 200) throw new Error(`lease answered ${res.status}: ${await res.text()}`);
    return LeaseReply.parse(await res.json());
  }

  let seq = 0;
  async function end(callId: string, status: CallStatus, extra: Partial<CallEventInput> = {}) {
    const events: CallEventInput[] = [
      {
        event_id: `${callId}:ended`,
        call_id: callId,
        seq: ++seq,
        type: 'ended',
        status,
        occurred_at: new Date().toISOString(),
        ...extra,
      },
    ];
    const res = await stack.sidecar.sendEvents(stack.url, events);
    if (res.status !== 200) throw new Error(`events answered ${res.status}: ${await res.text()}`);
    return EventBatchAck.parse(await res.json());
  }

  const numbers = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => ({ phone: `+1555010${String(from + i).padStart(4, '0')}` }));

  async function expectCountersTrue(campaignId: string) {
    const kept = await countersOf(db(), campaignId);
    const truth = await countersFromRows(db(), campaignId);
    for (const [name, value] of Object.entries(truth))
      expect({ name, value: kept[name] ?? 0 }).toEqual({ name, value });
    // Nothing kept that the rows do not show (outside_window and answered_by are not states of a row).
    for (const [name, value] of Object.entries(kept)) {
      if (name === 'outside_window' || name.startsWith('answered_by_')) continue;
      expect({ name, value }).toEqual({ name, value: truth[name] ?? 0 });
    }
  }

  describe('leasing', () => {
    test('due contacts become calls handed to the asking sidecar, with their commands', async () => {
      const campaign = await insertCampaign(db(), {
        ownerId: op.id,
        variables: { CAMPAIGN: 'spring', LANG: 'en' },
        callerId: '+15550000001',
        ringTimeoutMs: 20_000,
      });
      const contacts = await insertContacts(db(), campaign.id, [
        { phone: '+15550100001', variables: { LANG: 'es', NAME: 'Ana' } },
        ...numbers(4, 2),
      ]);
      const first = await lease(3);
      expect(first.commands).toHaveLength(3);
      const command = first.commands.find((c) => c.phone_number === '+15550100001')!;
      expect(command).toMatchObject({
        context: 'outbound',
        caller_id: '+15550000001',
        timeout_ms: 20_000,
        variables: { CAMPAIGN: 'spring', LANG: 'es', NAME: 'Ana' },
      });
      const [call] = await db().select().from(calls).where(eq(calls.id, command.call_id));
      expect(call).toMatchObject({
        status: 'pending',
        campaignId: campaign.id,
        contactId: contacts[0]!.id,
        sidecarId: SIDECAR,
        ownerId: op.id,
        attemptNumber: 1,
      });
      const log = await db().select().from(callEvents).where(eq(callEvents.callId, command.call_id));
      expect(log.map((e) => e.type)).toEqual(['created']);
      const attempts = await attemptsOf(db(), campaign.id);
      expect(attempts).toHaveLength(3);
      expect(attempts[0]!.leaseExpiresAt.getTime()).toBeGreaterThan(clock.getTime() + 20_000);
      expect(await countersOf(db(), campaign.id)).toMatchObject({
        total: 5,
        pending: 2,
        in_progress: 3,
        attempts: 3,
      });

      advance(1);
      const second = await lease(10);
      expect(second.commands).toHaveLength(2);
      advance(1);
      const third = await lease(10);
      expect(third.commands).toHaveLength(0);
      expect(third.next_poll_ms).toBeGreaterThan(0);
      const ids = [...first.commands, ...second.commands].map((c) => c.phone_number);
      expect(new Set(ids).size).toBe(5);
      await expectCountersTrue(campaign.id);
    });

    test('the lease is refused unsigned, for another sidecar, or with a bad body, and changes nothing', async () => {
      const campaign = await insertCampaign(db(), { ownerId: op.id });
      await insertContacts(db(), campaign.id, numbers(2, 100));
      await expectProblem(
        await fetch(`${stack.url}/api/v2/sidecar/lease`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ sidecar_id: SIDECAR, capacity: 1 }),
        }),
        401,
      );
      const other = await stack.sidecar.lease(stack.url, { sidecar_id: 'another-sidecar', capacity: 1 });
      const problem = await expectProblem(other, 422, 'validation_error');
      expect(JSON.stringify(problem)).toContain('body.sidecar_id');
      const bad = await stack.sidecar.lease(stack.url, { sidecar_id: SIDECAR, capacity: -1 });
      expect(JSON.stringify(await expectProblem(bad, 422, 'validation_error'))).toContain('body.capacity');
      expect(await attemptsOf(db(), campaign.id)).toHaveLength(0);
      expect((await lease(0)).commands).toHaveLength(0);
      expect(await attemptsOf(db(), campaign.id)).toHaveLength(0);
    });

    test('a number on the do-not-call list is never dialled: the contact ends dnc', async () => {
      const campaign = await insertCampaign(db(), { ownerId: op.id });
      const list = numbers(3, 200);
      await insertContacts(db(), campaign.id, list);
      await addDnc(db(), list[1]!.phone);
      const reply = await lease(10);
      expect(reply.commands.map((c) => c.phone_number).sort()).toEqual([list[0]!.phone, list[2]!.phone]);
      const contacts = await contactsOf(db(), campaign.id);
      expect(contacts[1]).toMatchObject({ state: 'dnc', attempts: 0 });
      expect(await countersOf(db(), campaign.id)).toMatchObject({
        dnc_skipped: 1,
        pending: 0,
        in_progress: 2,
      });
      expect((await lease(10)).commands).toHaveLength(0);
      await expectCountersTrue(campaign.id);
    });

    test('a contact outside its window waits for the next opening in its own zone, counted once', async () => {
      const campaign = await insertCampaign(db(), {
        ownerId: op.id,
        timezone: 'America/Chicago',
        windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
      });
      // 15:00Z: 10:00 in Chicago (inside), 17:00 in Berlin (window over for the day).
      await insertContacts(db(), campaign.id, [
        { phone: '+15550100300' },
        { phone: '+4930123456', timezone: 'Europe/Berlin' },
      ]);
      const first = await lease(10);
      expect(first.commands.map((c) => c.phone_number)).toEqual(['+15550100300']);
      const berlin = (await contactsOf(db(), campaign.id))[1]!;
      expect(berlin.state).toBe('pending');
      // Tuesday 09:00 in Berlin (CEST).
      expect(berlin.nextAttemptAt?.toISOString()).toBe('2024-06-04T07:00:00.000Z');
      expect((await countersOf(db(), campaign.id)).outside_window).toBe(1);
      // Asking again before the opening neither leases nor counts it again.
      advance(3600);
      expect((await lease(10)).commands).toHaveLength(0);
      expect((await countersOf(db(), campaign.id)).outside_window).toBe(1);
      clock = new Date('2024-06-04T07:00:00Z');
      expect((await lease(10)).commands.map((c) => c.phone_number)).toEqual(['+4930123456']);
      await expectCountersTrue(campaign.id);
    });

    test('pacing: at most cps attempts per second of the campaign, and never more live than max_concurrent', async () => {
      const campaign = await insertCampaign(db(), { ownerId: op.id, cps: 2, maxConcurrent: 3 });
      await insertContacts(db(), campaign.id, numbers(10, 400));
      expect((await lease(10)).commands).toHaveLength(2);
      expect((await lease(10)).commands).toHaveLength(0);
      advance(1);
      // Two more would pass max_concurrent (3 live).
      expect((await lease(10)).commands).toHaveLength(1);
      advance(5);
      expect((await lease(10)).commands).toHaveLength(0);
      const [one] = await attemptsOf(db(), campaign.id);
      await end(one!.callId, 'completed');
      expect((await lease(10)).commands).toHaveLength(1);
      await expectCountersTrue(campaign.id);
    });

    test('pause stops leasing at once; resume goes on; cancel ends the pending contacts while live calls finish', async () => {
      const campaign = await insertCampaign(db(), { ownerId: op.id });
      await insertContacts(db(), campaign.id, numbers(6, 500));
      const first = await lease(2);
      expect(first.commands).toHaveLength(2);
      await setCampaignState(db(), campaign.id, 'paused');
      expect((await lease(10)).commands).toHaveLength(0);
      await setCampaignState(db(), campaign.id, 'running');
      advance(1);
      expect((await lease(1)).commands).toHaveLength(1);
      await cancelCampaignRows(db(), campaign.id);
      expect((await lease(10)).commands).toHaveLength(0);
      // The live calls finish and are accounted; their contacts end.
      await end(first.commands[0]!.call_id, 'completed');
      await end(first.commands[1]!.call_id, 'busy');
      const contacts = await contactsOf(db(), campaign.id);
      expect(contacts.filter((c) => c.state === 'canceled')).toHaveLength(3);
      expect(contacts.filter((c) => c.state === 'done')).toHaveLength(2);
      expect((await campaignRow(db(), campaign.id)).state).toBe('canceled');
      await expectCountersTrue(campaign.id);
    });
  });

  describe('outcomes', () => {
    const policy: RetryPolicy = {
      busy: { after_seconds: 60, max_attempts: 3 },
      no_answer: { after_seconds: 120, max_attempts: 2 },
      lost: { after_seconds: 30, max_attempts: 2 },
    };

    test('busy is retried after its delay as often as the policy says, and no more', async () => {
      const campaign = await insertCampaign(db(), { ownerId: op.id, retry: policy, maxAttemptsPerDay: 10 });
      await insertContacts(db(), campaign.id, numbers(1, 600));
      for (let attempt = 1; attempt <= 3; attempt++) {
        const reply = await lease(5);
        expect(reply.commands).toHaveLength(1);
        const ack = await end(reply.commands[0]!.call_id, 'busy', { reason: 'busy', hangup_cause: 17 });
        expect(ack.results[0]!.result).toBe('applied');
        // Replayed: nothing changes.
        await end(reply.commands[0]!.call_id, 'busy', { reason: 'busy', hangup_cause: 17 });
        const [contact] = await contactsOf(db(), campaign.id);
        expect(contact!.attempts).toBe(attempt);
        if (attempt < 3) {
          expect(contact).toMatchObject({ state: 'pending', lastOutcome: 'busy' });
          expect(contact!.nextAttemptAt?.getTime()).toBe(clock.getTime() + 60_000);
          advance(59);
          expect((await lease(5)).commands).toHaveLength(0);
          advance(1);
        } else {
          expect(contact).toMatchObject({ state: 'done', finalOutcome: 'busy', nextAttemptAt: null });
        }
      }
      advance(3600);
      expect((await lease(5)).commands).toHaveLength(0);
      expect(await countersOf(db(), campaign.id)).toMatchObject({
        attempts: 3,
        outcome_busy: 3,
        done: 1,
        pending: 0,
      });
      expect((await campaignRow(db(), campaign.id)).state).toBe('completed');
      await expectCountersTrue(campaign.id);
    });

    test('answered ends a contact; a machine (amd) is its own outcome; an outcome without a rule is final', async () => {
      const campaign = await insertCampaign(db(), { ownerId: op.id, retry: policy });
      await insertContacts(db(), campaign.id, numbers(3, 700));
      const reply = await lease(3);
      const [a, b, c] = reply.commands.map((x) => x.call_id);
      await end(a!, 'completed');
      await db().update(calls).set({ answeredBy: 'machine' }).where(eq(calls.id, b!));
      await end(b!, 'completed');
      await end(c!, 'failed', { reason: 'congestion' });
      const byCall = new Map((await attemptsOf(db(), campaign.id)).map((x) => [x.callId, x.outcome]));
      expect([byCall.get(a!), byCall.get(b!), byCall.get(c!)]).toEqual(['answered', 'machine', 'failed']);
      expect((await contactsOf(db(), campaign.id)).map((x) => x.state)).toEqual(['done', 'done', 'done']);
      expect(await countersOf(db(), campaign.id)).toMatchObject({ answered_by_machine: 1, done: 3 });
      expect((await campaignRow(db(), campaign.id)).state).toBe('completed');
      await expectCountersTrue(campaign.id);
    });

    test('the per-day cap moves a retry to the first window of the contact’s next local day', async () => {
      const campaign = await insertCampaign(db(), {
        ownerId: op.id,
        retry: policy,
        maxAttemptsPerDay: 1,
        timezone: 'America/Chicago',
        windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
      });
      await insertContacts(db(), campaign.id, numbers(1, 800));
      const reply = await lease(1);
      await end(reply.commands[0]!.call_id, 'busy');
      const [contact] = await contactsOf(db(), campaign.id);
      expect(contact).toMatchObject({ state: 'pending', attemptsToday: 1, attemptsDay: '2024-06-03' });
      expect(contact!.nextAttemptAt?.toISOString()).toBe('2024-06-04T14:00:00.000Z');
      advance(3600);
      expect((await lease(1)).commands).toHaveLength(0);
      clock = new Date('2024-06-04T14:00:00Z');
      expect((await lease(1)).commands).toHaveLength(1);
      const [after] = await contactsOf(db(), campaign.id);
      expect(after).toMatchObject({ attempts: 2, attemptsToday: 1, attemptsDay: '2024-06-04' });
    });

    test('an attempt whose sidecar vanished before dialling ends lost when its lease passes, then by policy', async () => {
      const campaign = await insertCampaign(db(), { ownerId: op.id, retry: policy, ringTimeoutMs: 10_000 });
      await insertContacts(db(), campaign.id, numbers(2, 900));
      const reply = await lease(2);
      // One of them the sidecar reported dialling: it is not lost, whatever the lease says.
      const [gone, dialled] = reply.commands.map((c) => c.call_id);
      await stack.sidecar.sendEvents(stack.url, [
        {
          event_id: `${dialled}:dialing`,
          call_id: dialled!,
          seq: ++seq,
          type: 'dialing',
          status: 'dialing',
          occurred_at: new Date().toISOString(),
        },
      ]);
      advance(10 + 60 + 1);
      const next = await lease(0);
      expect(next.commands).toHaveLength(0);
      const [lost] = await db().select().from(calls).where(eq(calls.id, gone!));
      expect(lost).toMatchObject({ status: 'failed', reason: 'lost' });
      const attempts = new Map((await attemptsOf(db(), campaign.id)).map((a) => [a.callId, a.outcome]));
      expect(attempts.get(gone!)).toBe('lost');
      expect(attempts.get(dialled!)).toBeNull();
      const contact = (await contactsOf(db(), campaign.id)).find((c) => c.lastCallId === gone);
      expect(contact).toMatchObject({ state: 'pending', lastOutcome: 'lost' });
      // Its late events change nothing.
      const late = await end(gone!, 'completed', { event_id: `${gone}:late` });
      expect(late.results[0]!.result).not.toBe('applied');
      expect((await db().select().from(calls).where(eq(calls.id, gone!)))[0]!.status).toBe('failed');
      await expectCountersTrue(campaign.id);
    });
  });

  test('an attempt up when its sidecar fell silent ends lost once its lease passes; a sidecar heard from keeps its calls', async () => {
    const campaign = await insertCampaign(db(), {
      ownerId: op.id,
      retry: { lost: { after_seconds: 30, max_attempts: 2 } },
      ringTimeoutMs: 10_000,
    });
    await insertContacts(db(), campaign.id, numbers(1, 950));
    const [command] = (await lease(1)).commands;
    const callId = command!.call_id;
    await stack.sidecar.sendEvents(stack.url, [
      {
        event_id: `${callId}:answered`,
        call_id: callId,
        seq: ++seq,
        type: 'answered',
        status: 'answered',
        occurred_at: new Date().toISOString(),
      },
    ]);
    advance(10 + 60 + 1);
    const heardFrom = async (at: Date) => {
      await Bun.sleep(50); // the routes' own touch runs in the background
      await db().update(sidecars).set({ lastSeenAt: at }).where(eq(sidecars.id, SIDECAR));
    };
    // Heard from a moment ago (a lease, an event batch): its answered call stays up, past any lease.
    const statusNow = async () => (await db().select().from(calls).where(eq(calls.id, callId)))[0]!.status;
    await heardFrom(new Date());
    await expireLeases(stack.api.services);
    expect(await statusNow()).toBe('answered');
    // Silent for longer than the margin: nobody will tell how the call ended.
    await heardFrom(new Date(Date.now() - 61_000));
    await expireLeases(stack.api.services);
    const [call] = await db().select().from(calls).where(eq(calls.id, callId));
    expect(call).toMatchObject({ status: 'failed', reason: 'lost' });
    const [contact] = await contactsOf(db(), campaign.id);
    expect(contact).toMatchObject({ state: 'pending', lastOutcome: 'lost', attempts: 1 });
    await expectCountersTrue(campaign.id);
  });

  describe('concurrency', () => {
    test('30 lease requests at once never lease one contact twice', async () => {
      const list = await Promise.all(
        Array.from({ length: 6 }, () =>
          insertCampaign(db(), { ownerId: op.id, cps: 1000, maxConcurrent: 1000 }),
        ),
      );
      for (const [i, c] of list.entries()) await insertContacts(db(), c.id, numbers(20, 1000 + i * 100));
      const commands: LeaseReply['commands'] = [];
      // Waves of 30 requests at one moment; each campaign's pacing lets one lease through per moment.
      for (let wave = 0; wave < 30 && commands.length < 120; wave++) {
        const replies = await Promise.all(Array.from({ length: 30 }, () => lease(7)));
        commands.push(...replies.flatMap((r) => r.commands));
        advance(1);
      }
      expect(commands.length).toBe(120);
      expect(new Set(commands.map((c) => c.call_id)).size).toBe(120);
      expect(new Set(commands.map((c) => c.phone_number)).size).toBe(120);
      for (const c of list) {
        const attempts = await attemptsOf(db(), c.id);
        expect(attempts).toHaveLength(20);
        expect(new Set(attempts.map((a) => a.contactId)).size).toBe(20);
        await expectCountersTrue(c.id);
      }
      const counted = rowsOf<{ n: number }>(
        await db().execute(
          sql`select count(*)::int as n from calls where campaign_id in (${sql.join(
            list.map((c) => sql`${c.id}::uuid`),
            sql`, `,
          )})`,
        ),
      );
      expect(counted[0]!.n).toBe(120);
    }, 120_000);
  });
});

/**
 * The lease route on the clock the configuration sets (CAMPAIGN_CLOCK_OFFSET_SECONDS): the way a
 * test moves the campaigns' clock of an API in another process, here under workerd too. The clock is
 * a Monday at 15:00 UTC (plus the seconds the test takes): inside 09:00–20:00 in UTC, 20:30 and
 * after in Kolkata.
 */
describe('the campaign engine on the clock CAMPAIGN_CLOCK_OFFSET_SECONDS sets', () => {
  let stack: TestStack;
  let op: TestUser;
  let monday: Date;

  beforeAll(async () => {
    const now = new Date();
    monday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 15));
    while (monday.getUTCDay() !== 1 || monday.getTime() - now.getTime() < 3600_000)
      monday.setUTCDate(monday.getUTCDate() + 1);
    // Rounded up: the configured clock is never before Monday 15:00 (rounded, it could be 0.5 s before).
    const offset = Math.ceil((monday.getTime() - now.getTime()) / 1000);
    stack = await startTestStack({ env: { CAMPAIGN_CLOCK_OFFSET_SECONDS: String(offset) } });
    op = await stack.user('operator');
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  test('a contact outside its window in its own zone waits for the next opening there; one inside is leased, its lease on that clock', async () => {
    const db = stack.database.db;
    const campaign = await insertCampaign(db, {
      ownerId: op.id,
      timezone: 'UTC',
      windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
      ringTimeoutMs: 10_000,
    });
    await insertContacts(db, campaign.id, [
      { phone: '+15550109001' },
      { phone: '+919800012345', timezone: 'Asia/Kolkata' },
    ]);
    const res = await stack.sidecar.lease(stack.url, { sidecar_id: 'test-sidecar', capacity: 5 });
    expect(res.status).toBe(200);
    const reply = LeaseReply.parse(await res.json());
    expect(reply.commands.map((c) => c.phone_number)).toEqual(['+15550109001']);
    const [attempt] = await attemptsOf(db, campaign.id);
    // Leased on the configured clock: Monday 15:00 UTC and the few seconds since, not the real now.
    expect(attempt!.leasedAt.getTime()).toBeGreaterThanOrEqual(monday.getTime());
    expect(attempt!.leasedAt.getTime()).toBeLessThan(monday.getTime() + 600_000);
    const kolkata = (await contactsOf(db, campaign.id))[1]!;
    // Tuesday 09:00 in Kolkata: 03:30 UTC, 12.5 hours after Monday 15:00 UTC.
    expect(kolkata).toMatchObject({ state: 'pending', attempts: 0 });
    expect(kolkata.nextAttemptAt!.getTime()).toBe(monday.getTime() + 12.5 * 3600_000);
    expect(await countersOf(db, campaign.id)).toMatchObject({
      pending: 1,
      in_progress: 1,
      outside_window: 1,
    });
  });
});
