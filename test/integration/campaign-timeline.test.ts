import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { campaignTimelineRoute } from '../../api/routes/campaigns/timeline.ts';
import { ATTEMPT_OUTCOMES } from '../../api/shared/contract/index.ts';
import { campaignAttempts } from '../../db/schema.ts';
import { insertCampaign, insertContacts } from '../harness/campaign-rows.ts';
import { expectProblem, MODES, startTestStack, type TestStack, test } from '../harness/stack.ts';

/**
 * A campaign's outcomes per minute: what the chart of the console draws. The counts are checked
 * against the attempts put in, minute by minute; another operator's campaign is not there for them.
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 60_000);
afterAll(() => stack.stop());

const MINUTE = 60_000;
const schema = campaignTimelineRoute.responses[200].content['application/json'].schema;
type Timeline = ReturnType<typeof schema.parse>;

/** Ended attempts spread over the last 90 minutes (some before the chart's hour), plus open ones. */
async function campaignWithAttempts(ownerId: string) {
  const db = stack.database.db;
  const campaign = await insertCampaign(db, { ownerId });
  const contacts = await insertContacts(
    db,
    campaign.id,
    Array.from({ length: 40 }, (_, i) => ({ phone: `+1555300${String(i).padStart(4, '0')}` })),
  );
  const now = Date.now();
  const ended: { at: Date; outcome: string }[] = [];
  const rows = contacts.flatMap((contact, i) => {
    // Attempt 1 ended (a spread of times and outcomes); every fifth contact has attempt 2 still open.
    const at = new Date(now - ((i * 137) % 90) * MINUTE - ((i * 7919) % 60_000));
    const outcome = ATTEMPT_OUTCOMES[i % ATTEMPT_OUTCOMES.length]!;
    ended.push({ at, outcome });
    const first = {
      callId: crypto.randomUUID(),
      campaignId: campaign.id,
      contactId: contact.id,
      attempt: 1,
      leasedAt: new Date(at.getTime() - 3 * MINUTE),
      leaseExpiresAt: new Date(at.getTime() + MINUTE),
      outcome,
      endedAt: at,
    };
    if (i % 5 !== 0) return [first];
    return [
      first,
      {
        callId: crypto.randomUUID(),
        campaignId: campaign.id,
        contactId: contact.id,
        attempt: 2,
        leasedAt: new Date(now - MINUTE),
        leaseExpiresAt: new Date(now + MINUTE),
      },
    ];
  });
  await db.insert(campaignAttempts).values(rows);
  return { campaign, ended };
}

/** What the buckets must say: the ended attempts in [from, to), per minute and outcome. */
function truth(timeline: Timeline, ended: { at: Date; outcome: string }[]) {
  const from = Date.parse(timeline.from);
  return timeline.buckets.map((_, i) => {
    const counts = Object.fromEntries(ATTEMPT_OUTCOMES.map((o) => [o, 0])) as Record<string, number>;
    for (const e of ended) {
      const t = e.at.getTime();
      if (t >= from + i * MINUTE && t < from + (i + 1) * MINUTE) counts[e.outcome]!++;
    }
    return counts;
  });
}

for (const mode of MODES) {
  describe(`a campaign's timeline (${mode})`, () => {
    test('counts per minute and outcome equal the attempts that ended then; open ones are not counted', async () => {
      const op = await stack.user('operator');
      const { campaign, ended } = await campaignWithAttempts(op.id);
      for (const minutes of [60, 90, 5]) {
        const res = await stack.request(
          mode,
          `/api/v2/campaigns/${campaign.id}/timeline?minutes=${minutes}`,
          {
            token: op.token,
          },
        );
        expect(res.status).toBe(200);
        const timeline = schema.parse(await res.json());
        expect(timeline.minutes).toBe(minutes);
        expect(timeline.buckets).toHaveLength(minutes);
        expect(Date.parse(timeline.to) - Date.parse(timeline.from)).toBe(minutes * MINUTE);
        expect(timeline.buckets.map((b) => Date.parse(b.start))).toEqual(
          Array.from({ length: minutes }, (_, i) => Date.parse(timeline.from) + i * MINUTE),
        );
        expect(timeline.buckets.map((b) => b.counts as Record<string, number>)).toEqual(
          truth(timeline, ended),
        );
      }
      // The default is an hour, and the hour holds some of the attempts but not those before it.
      const res = await stack.request(mode, `/api/v2/campaigns/${campaign.id}/timeline`, { token: op.token });
      const hour = schema.parse(await res.json());
      expect(hour.buckets).toHaveLength(60);
      const counted = hour.buckets.reduce(
        (n, b) => n + Object.values(b.counts).reduce((a, v) => a + v, 0),
        0,
      );
      expect(counted).toBeGreaterThan(0);
      expect(counted).toBeLessThan(ended.length);
    });

    test('another operator gets 404; an admin and a viewer read it', async () => {
      const [owner, other, admin, viewer] = await Promise.all([
        stack.user('operator'),
        stack.user('operator'),
        stack.user('admin'),
        stack.user('viewer'),
      ]);
      const { campaign } = await campaignWithAttempts(owner.id);
      const path = `/api/v2/campaigns/${campaign.id}/timeline`;
      await expectProblem(await stack.request(mode, path, { token: other.token }), 404, 'campaign_not_found');
      await expectProblem(
        await stack.request(mode, `/api/v2/campaigns/${crypto.randomUUID()}/timeline`, {
          token: owner.token,
        }),
        404,
        'campaign_not_found',
      );
      for (const reader of [admin, viewer])
        expect((await stack.request(mode, path, { token: reader.token })).status).toBe(200);
      expect((await stack.request(mode, path)).status).toBe(401);
    });

    test('minutes that is not a whole number from 1 to 1440 is refused, naming the parameter', async () => {
      const op = await stack.user('operator');
      const { campaign } = await campaignWithAttempts(op.id);
      for (const bad of ['0', '1441', 'abc', '-5', '1.5', '', '99999']) {
        const res = await stack.request(mode, `/api/v2/campaigns/${campaign.id}/timeline?minutes=${bad}`, {
          token: op.token,
        });
        const problem = await expectProblem(res, 422);
        expect(problem.errors).toContainEqual(
          expect.objectContaining({ parameter: 'minutes', message: 'must be a whole number from 1 to 1440' }),
        );
      }
    });
  });
}
