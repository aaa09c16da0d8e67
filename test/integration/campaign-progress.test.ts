import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { asc, eq, inArray } from 'drizzle-orm';
import {
  type CallEventInput,
  CampaignProgress,
  CampaignWebhook,
  LeaseReply,
} from '../../api/shared/contract/index.ts';
import { verifyWebhook } from '../../api/webhooks/signature.ts';
import { addCampaignCounters } from '../../db/queries/campaign-counters.ts';
import { progressWindowKey, writeProgressWebhooks } from '../../db/queries/campaign-webhooks.ts';
import { campaigns, webhookDeliveries } from '../../db/schema.ts';
import { countersOf, insertCampaign, insertContacts } from '../harness/campaign-rows.ts';
import { readSse, type SseFrame, type SseReader } from '../harness/sse.ts';
import {
  expectProblem,
  startTestStack,
  TARGET,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../harness/webhook-receiver.ts';

/**
 * Campaigns' progress on the live stream (event: campaign snapshots, without ids) and in webhooks
 * (campaign.state with each change, campaign.progress once per window, written with the change).
 */

let stack: TestStack;
let op: TestUser;
/** How often the stream may show one campaign's progress in these tests. */
const PERIOD_MS = 1000;
/** The progress webhooks' window: long, so that a test's work stays in one window of the clock it sets. */
const WINDOW_SECONDS = 3600;

beforeAll(async () => {
  stack = await startTestStack({
    env: {
      WEBHOOK_ALLOW_LOOPBACK: 'true',
      WEBHOOK_POLL_MS: '20',
      WEBHOOK_RETRY_BASE_MS: '40',
      WEBHOOK_RETRY_MAX_MS: '200',
      SSE_POLL_MS: '50',
      SSE_HEARTBEAT_MS: '200',
      CAMPAIGN_PROGRESS_STREAM_MS: String(PERIOD_MS),
      CAMPAIGN_PROGRESS_WEBHOOK_SECONDS: String(WINDOW_SECONDS),
    },
  });
  op = await stack.user('operator');
}, 60_000);
afterAll(() => stack.stop());

const db = () => stack.database.db;

function stream(user: TestUser, query = '', lastEventId?: string): Promise<SseReader> {
  return stack
    .request('http', `/api/v2/events${query}`, {
      token: user.token,
      headers: lastEventId ? { 'Last-Event-ID': lastEventId } : {},
    })
    .then((res) => {
      expect(res.status).toBe(200);
      return readSse(res);
    });
}

const progressOf = (f: SseFrame) => CampaignProgress.parse(JSON.parse(f.data!));

/** Reads frames until `done` says one is the last wanted; returns every frame read. */
async function readUntil(sse: SseReader, done: (f: SseFrame) => boolean, timeoutMs = 15_000) {
  const frames: SseFrame[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = await sse.next(Math.max(1, deadline - Date.now()));
    if (!f) throw new Error(`stream ended or timed out after ${frames.length} frames`);
    if (!f.event || f.event === 'ready') continue;
    frames.push(f);
    if (done(f)) return frames;
  }
}

const isCampaign =
  (id: string, check: (p: CampaignProgress) => boolean = () => true) =>
  (f: SseFrame) =>
    f.event === 'campaign' && progressOf(f).campaign_id === id && check(progressOf(f));

async function runningCampaign(
  owner: TestUser,
  contacts = 3,
  values: Partial<typeof campaigns.$inferInsert> = {},
) {
  const campaign = await insertCampaign(db(), { ownerId: owner.id, ...values });
  await insertContacts(
    db(),
    campaign.id,
    Array.from({ length: contacts }, (_, i) => ({ phone: `+1555020${String(i).padStart(4, '0')}` })),
  );
  return campaign;
}

describe('campaign progress on the live stream', () => {
  test('the owner and admins get event: campaign frames without an id; another operator gets none', async () => {
    const admin = await stack.user('admin');
    const other = await stack.user('operator');
    const mine = await runningCampaign(op);
    const theirs = await runningCampaign(other);
    const [opStream, adminStream, otherStream] = await Promise.all([
      stream(op, '?kind=campaign'),
      stream(admin, `?campaign_id=${mine.id}`),
      stream(other, '?kind=campaign'),
    ]);
    await addCampaignCounters(db(), mine.id, { pending: -1, in_progress: 1, attempts: 1 });
    const moved = (p: CampaignProgress) => p.counters.attempts === 1;
    for (const sse of [opStream, adminStream]) {
      const frames = await readUntil(sse, isCampaign(mine.id, moved));
      expect(frames.every((f) => f.event === 'campaign' && f.id === undefined)).toBe(true);
      expect(progressOf(frames.at(-1)!)).toMatchObject({
        campaign_id: mine.id,
        state: 'running',
        counters: { total: 3, pending: 2, in_progress: 1, attempts: 1 },
      });
      // Narrowed to one campaign, no other comes (an admin sees every campaign otherwise).
      if (sse === adminStream) expect(frames.every((f) => progressOf(f).campaign_id === mine.id)).toBe(true);
    }
    // Their campaign moves after ours was shown: by the time its frame arrives, ours would have too.
    await addCampaignCounters(db(), theirs.id, { pending: -1, done: 1 });
    const seen = await readUntil(
      otherStream,
      isCampaign(theirs.id, (p) => p.counters.done === 1),
    );
    expect(seen.every((f) => progressOf(f).campaign_id === theirs.id)).toBe(true);
    for (const s of [opStream, adminStream, otherStream]) s.close();
  });

  test('a revoked token gets no campaign frame after the revocation', async () => {
    const user = await stack.user('operator');
    const campaign = await runningCampaign(user);
    const sse = await stream(user, '?kind=campaign');
    await readUntil(sse, isCampaign(campaign.id));
    const res = await stack.request('http', '/api/v2/token/revoke', { method: 'POST', token: user.token });
    expect(res.status).toBeLessThan(300);
    await addCampaignCounters(db(), campaign.id, { pending: -1, done: 1 });
    const rest: SseFrame[] = [];
    for (let f = await sse.next(5000); f; f = await sse.next(5000)) if (f.event) rest.push(f);
    expect(rest.filter(isCampaign(campaign.id, (p) => p.counters.done === 1))).toEqual([]);
  });

  test('a burst of counter changes makes a few frames, a period apart, the last with the final counters', async () => {
    const campaign = await runningCampaign(op, 100);
    const sse = await stream(op, `?campaign_id=${campaign.id}`);
    await readUntil(sse, isCampaign(campaign.id));
    const CHANGES = 100;
    for (let i = 0; i < CHANGES; i++) await addCampaignCounters(db(), campaign.id, { pending: -1, done: 1 });
    const final = await countersOf(db(), campaign.id);
    const frames = await readUntil(
      sse,
      isCampaign(campaign.id, (p) => p.counters.done === CHANGES),
    );
    const shown = frames.map(progressOf);
    expect(shown.at(-1)!.counters).toMatchObject(final);
    expect(shown.length).toBeLessThan(CHANGES / 2);
    // Never two frames of one campaign within a period, and never the same snapshot twice.
    const times = shown.map((p) => Date.parse(p.at));
    for (let i = 1; i < times.length; i++)
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(PERIOD_MS);
    const snapshots = shown.map((p) => JSON.stringify(p.counters));
    expect(new Set(snapshots).size).toBe(snapshots.length);
    // A final state always shows, with its counters.
    const res = await stack.request('http', `/api/v2/campaigns/${campaign.id}/cancel`, {
      method: 'POST',
      token: op.token,
    });
    expect(res.status).toBe(200);
    const end = await readUntil(
      sse,
      isCampaign(campaign.id, (p) => p.state === 'canceled'),
    );
    expect(progressOf(end.at(-1)!).counters).toMatchObject(await countersOf(db(), campaign.id));
    sse.close();
  });

  test('campaign frames leave Last-Event-ID alone: a resume gets exactly the call events it missed', async () => {
    const user = await stack.user('operator');
    const campaign = await runningCampaign(user);
    let seq = 0;
    const place = async () => {
      const res = await stack.request('http', '/api/v2/calls', {
        token: user.token,
        json: { phone_number: '5551234000' },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { call_id: string }).call_id;
    };
    const ring = (callId: string): CallEventInput => ({
      event_id: `${callId}:ringing`,
      call_id: callId,
      seq: ++seq,
      type: 'ringing',
      status: 'ringing',
      occurred_at: new Date().toISOString(),
    });
    const first = await stream(user);
    const a = await place();
    await addCampaignCounters(db(), campaign.id, { pending: -1, done: 1 });
    // created, dialing of the call and the campaign's frame, in whatever order they come.
    const frames = await readUntil(first, (f) => f.event === 'campaign');
    while (frames.filter((f) => f.event === 'call').length < 2) frames.push(...(await first.events(1)));
    // What an EventSource keeps as its last event id: the last `id:` seen; a campaign frame has none.
    const lastId = frames.filter((f) => f.id !== undefined).at(-1)!.id!;
    expect(frames.filter((f) => f.event === 'campaign').every((f) => f.id === undefined)).toBe(true);
    first.close();

    // Missed while away: call events and campaign changes.
    const res = await stack.sidecar.sendEvents(stack.api.url, [ring(a)]);
    expect(res.status).toBe(200);
    const b = await place();
    await addCampaignCounters(db(), campaign.id, { pending: -1, done: 1 });

    const resumed = await stream(user, '?kind=call', lastId);
    const missed = await resumed.events(3);
    expect(missed.map((f) => [JSON.parse(f.data!).call_id, JSON.parse(f.data!).type])).toEqual([
      [a, 'ringing'],
      [b, 'created'],
      [b, 'dialing'],
    ]);
    expect(missed.every((f) => f.event === 'call' && Number(f.id) > Number(lastId))).toBe(true);
    resumed.close();
  });
});

async function jwks() {
  return ((await (await fetch(`${stack.api.url}/.well-known/jwks.json`)).json()) as { keys: never[] }).keys;
}

async function campaignDeliveries(campaignId: string) {
  return db()
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.campaignId, campaignId))
    .orderBy(asc(webhookDeliveries.id));
}

const bodyOf = (d: { payload: string }) => CampaignWebhook.parse(JSON.parse(d.payload));

describe('campaign webhooks', () => {
  let receiver: WebhookReceiver;
  afterAll(() => receiver?.stop());

  test('status_callback is taken, checked like a call’s, shown and cleared', async () => {
    receiver = startWebhookReceiver();
    const create = (body: Record<string, unknown>) =>
      stack.request('http', '/api/v2/campaigns', {
        token: op.token,
        json: {
          name: 'hooks',
          timezone: 'UTC',
          windows: [{ days: ['mon'], start: '09:00', end: '17:00' }],
          ...body,
        },
      });
    await expectProblem(await create({ status_callback: 'https://10.0.0.7/hook' }), 422, 'validation_error');
    await expectProblem(await create({ status_callback: 'ftp://example.com/hook' }), 422);
    await expectProblem(
      await create({ status_callback: receiver.url, status_callback_events: ['call.status'] }),
      422,
    );
    const res = await create({ status_callback: receiver.url, status_callback_events: ['campaign.state'] });
    expect(res.status).toBe(201);
    const made = (await res.json()) as { campaign_id: string; status_callback: string };
    expect(made).toMatchObject({ status_callback: receiver.url, status_callback_events: ['campaign.state'] });
    const got = await stack.request('http', `/api/v2/campaigns/${made.campaign_id}`, { token: op.token });
    expect(await got.json()).toMatchObject({
      status_callback: receiver.url,
      status_callback_events: ['campaign.state'],
    });
    const changed = await stack.request('http', `/api/v2/campaigns/${made.campaign_id}`, {
      method: 'PATCH',
      token: op.token,
      json: { status_callback: null, status_callback_events: null },
    });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ status_callback: null, status_callback_events: null });
  });

  test('racing actions: each change that took effect has its campaign.state webhook, in order, signed', async () => {
    receiver = startWebhookReceiver();
    const campaign = await insertCampaign(db(), {
      ownerId: op.id,
      state: 'draft',
      statusCallback: receiver.url,
      statusCallbackEvents: ['campaign.state'],
    });
    const act = (action: string) =>
      stack.request('http', `/api/v2/campaigns/${campaign.id}/${action}`, {
        method: 'POST',
        token: op.token,
      });
    expect((await act('start')).status).toBe(200);
    const actions = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 'pause' : 'resume'));
    const answers = await Promise.all(actions.map(act));
    const took = answers.filter((r) => r.status === 200).length;
    expect(answers.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    expect((await act('cancel')).status).toBe(200);

    const rows = await campaignDeliveries(campaign.id);
    const bodies = rows.map(bodyOf);
    // One per change that took effect (start, the pauses and resumes that did, cancel), none for a 409.
    expect(bodies.length).toBe(took + 2);
    expect(bodies.every((b) => b.type === 'campaign.state')).toBe(true);
    // A chain: each leaves the state the one before reached.
    expect(bodies[0]).toMatchObject({ previous_state: 'draft', state: 'running' });
    for (let i = 1; i < bodies.length; i++) expect(bodies[i]!.previous_state).toBe(bodies[i - 1]!.state);
    expect(bodies.at(-1)!.state).toBe('canceled');
    const [row] = await db().select().from(campaigns).where(eq(campaigns.id, campaign.id));
    expect(row!.state).toBe('canceled');

    const hooks = await receiver.waitFor(bodies.length, 15_000);
    expect(hooks.map((h) => h.body)).toEqual(rows.map((r) => r.payload));
    const keys = await jwks();
    for (const h of hooks) {
      expect(h.headers['outdial-campaign-id']).toBe(campaign.id);
      const verified = await verifyWebhook({ header: h.headers['outdial-signature'], body: h.body, keys });
      expect(verified.ok).toBe(true);
    }
    expect(
      (
        await verifyWebhook({
          header: hooks[0]!.headers['outdial-signature'],
          body: `${hooks[0]!.body} `,
          keys,
        })
      ).ok,
    ).toBe(false);
  });

  test('transactions racing in one window write one campaign.progress delivery between them', async () => {
    receiver = startWebhookReceiver();
    const campaign = await runningCampaign(op, 50, { statusCallback: receiver.url });
    const at = new Date();
    // Each asks for the window's webhook and moves a counter, in its own transaction, all at once: on
    // PostgreSQL they all find the window free before any of them commits (the counter's row lock,
    // taken after, does not keep them apart).
    await Promise.all(
      Array.from({ length: 30 }, () =>
        db().transaction(async (tx) => {
          await writeProgressWebhooks(tx, [campaign], { at, window: WINDOW_SECONDS });
          await addCampaignCounters(tx, campaign.id, { pending: -1, done: 1 });
        }),
      ),
    );
    const rows = await campaignDeliveries(campaign.id);
    expect(rows.map((r) => r.windowKey)).toEqual([progressWindowKey(campaign.id, at, WINDOW_SECONDS)]);
    const body = bodyOf(rows[0]!);
    expect(body).toMatchObject({ type: 'campaign.progress', campaign_id: campaign.id, state: 'running' });
    expect(body.counters.done).toBeLessThan(30);
    expect(await countersOf(db(), campaign.id)).toMatchObject({ done: 30, pending: 20 });
  });
});

// These set the API's clock (services.now) in this process; under workerd the API keeps its own.
describe.skipIf(TARGET === 'workerd')('campaign webhooks from the engine, on a clock the test sets', () => {
  test('calls ending at once: one progress webhook per window, then the last one and completed', async () => {
    const receiver = startWebhookReceiver();
    let clock = new Date('2024-06-03T15:00:00Z');
    const before = stack.api.services.now;
    stack.api.services.now = () => clock;
    try {
      await db()
        .update(campaigns)
        .set({ state: 'completed' })
        .where(inArray(campaigns.state, ['running', 'paused']));
      const N = 24;
      const campaign = await runningCampaign(op, N, { statusCallback: receiver.url });
      const res = await stack.sidecar.lease(stack.url, { sidecar_id: 'test-sidecar', capacity: N });
      expect(res.status).toBe(200);
      const { commands } = LeaseReply.parse(await res.json());
      expect(commands).toHaveLength(N);
      // The lease's window has its webhook; the calls end in the next window, each batch on its own.
      clock = new Date(clock.getTime() + WINDOW_SECONDS * 1000);
      const answers = await Promise.all(
        commands.map((c, i) =>
          stack.sidecar.sendEvents(stack.url, [
            {
              event_id: `${c.call_id}:ended`,
              call_id: c.call_id,
              seq: 10 + i,
              type: 'ended',
              status: 'completed',
              occurred_at: new Date().toISOString(),
            },
          ]),
        ),
      );
      expect(answers.every((r) => r.status === 200)).toBe(true);
      const rows = await campaignDeliveries(campaign.id);
      const bodies = rows.map(bodyOf);
      expect(
        rows.map((r) => [r.windowKey, bodies[rows.indexOf(r)]!.type, bodies[rows.indexOf(r)]!.state]),
      ).toEqual([
        [
          progressWindowKey(campaign.id, new Date('2024-06-03T15:00:00Z'), WINDOW_SECONDS),
          'campaign.progress',
          'running',
        ],
        [progressWindowKey(campaign.id, clock, WINDOW_SECONDS), 'campaign.progress', 'running'],
        [`${campaign.id}:final`, 'campaign.progress', 'completed'],
        [null, 'campaign.state', 'completed'],
      ]);
      const final = await countersOf(db(), campaign.id);
      expect(bodies[2]!.counters).toMatchObject(final);
      expect(bodies[3]).toMatchObject({ previous_state: 'running', counters: final });
      expect(final).toMatchObject({ done: N, pending: 0, in_progress: 0 });
      const hooks = await receiver.waitFor(4, 15_000);
      expect(hooks.map((h) => h.body)).toEqual(rows.map((r) => r.payload));
    } finally {
      stack.api.services.now = before;
      receiver.stop();
    }
  });
});
