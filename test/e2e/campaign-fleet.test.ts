import { expect, test } from 'bun:test';
import { and, eq } from 'drizzle-orm';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import { calls } from '../../db/schema.ts';
import {
  campaignClient,
  expectCountersTrue,
  expectNoAttemptTwice,
  waitUntil,
} from '../harness/campaign-e2e.ts';
import { ALWAYS, attemptsOf } from '../harness/campaign-rows.ts';
import { startE2EStack } from '../harness/e2e.ts';

/**
 * Two PBXs, each with its sidecar and API process, the two APIs on one PostgreSQL: one campaign is
 * shared (both sidecars pull its attempts), and no attempt is dialled twice. Then one sidecar is
 * taken away for good (kill -9): what it held ends `lost` once its lease passes
 * (CAMPAIGN_LEASE_MARGIN_SECONDS short here), the retry policy gives those contacts another
 * attempt, and the other sidecar dials them and the rest; the campaign completes.
 */

test('two APIs on one PostgreSQL and two sidecars share a campaign; one sidecar killed, the other takes its share', async () => {
  const [simA, simB] = await Promise.all([
    // A's answered calls last 3 s: it is killed with calls up.
    startAriSimulator({ port: 0, timeScale: 1 }),
    startAriSimulator({ port: 0, timeScale: 0.1 }),
  ]);
  const apiEnv = { CAMPAIGN_LEASE_MARGIN_SECONDS: '2' };
  const sidecar = { campaignPull: true, originateCps: 50, maxConcurrentCalls: 10 };
  const a = await startE2EStack({ ari: simA, apiMode: 'process', sidecarMode: 'process', apiEnv, sidecar });
  // B (its API and its sidecar) joins once A has calls up: B's calls end ten times faster, so a B
  // pulling from the start could take the whole campaign before A had any, and A is to be killed
  // with calls up. From then on the two share it.
  let b: Awaited<ReturnType<typeof startE2EStack>> | undefined;
  try {
    const db = a.database.db;
    const op = await a.user('operator');
    const api = campaignClient(() => a.apiUrl, op);
    const { id } = await api.create({
      name: 'two PBXs',
      timezone: 'UTC',
      windows: ALWAYS,
      retry: { busy: { after_seconds: 1, max_attempts: 2 }, lost: { after_seconds: 1, max_attempts: 3 } },
      max_attempts_per_day: 10,
      cps: 20,
      max_concurrent: 20,
      ring_timeout_ms: 4000,
    });
    const digits = ['0', '1', '4'];
    const rows = Array.from(
      { length: 60 },
      (_, i) => `+1555600${String(i).padStart(3, '0')}${digits[i % 3]}`,
    );
    expect((await api.importCsv(id, `phone_number\r\n${rows.join('\r\n')}\r\n`)).accepted).toBe(60);
    await api.action(id, 'start');

    // Shared: both sidecars dial the campaign's calls (B at the latest once A is gone, checked below).
    // A is killed with calls it reported up, as soon as it has some: how soon B first asks is the
    // machine's timing, and A's calls up do not wait for it.
    const upAtA = async () => {
      const rows = await db
        .select({ status: calls.status })
        .from(calls)
        .where(and(eq(calls.campaignId, id), eq(calls.sidecarId, a.sidecar.id)));
      return rows.filter((r) => ['dialing', 'ringing', 'answered'].includes(r.status)).length;
    };
    await waitUntil(
      async () => simA.originates.length >= 5 && (await upAtA()) >= 2,
      30_000,
      'A to dial, with calls up',
    );
    b = await startE2EStack({
      ari: simB,
      apiMode: 'process',
      sidecarMode: 'process',
      apiEnv,
      sidecar,
      shareDatabase: { database: a.database, databaseUrl: a.databaseUrl },
    });
    const bId = b.sidecar.id;
    await a.sidecar.kill();
    const killedAt = performance.now();
    const killedWall = Date.now();
    const heldByA = (await attemptsOf(db, id)).filter((x) => x.sidecarId === a.sidecar.id && !x.outcome);

    await waitUntil(
      async () => (await api.get(id)).state === 'completed',
      60_000,
      'the campaign to complete',
    );
    const { contacts, attempts } = await expectNoAttemptTwice(db, id, simA, simB);
    expect(contacts).toHaveLength(60);
    for (const c of contacts) {
      expect({ phone: c.phoneNumber, state: c.state }).toEqual({ phone: c.phoneNumber, state: 'done' });
      expect(['answered', 'busy']).toContain(c.finalOutcome!);
    }
    // After the kill only B dials; what A held ended (lost: A never told how) and was dialled again by B.
    expect(simB.originates.filter((o) => o.at > killedAt).length).toBeGreaterThan(0);
    for (const held of heldByA) {
      const ended = attempts.find((x) => x.callId === held.callId)!;
      expect(ended.outcome).not.toBeNull();
      if (ended.outcome === 'lost') {
        const next = attempts.find((x) => x.contactId === held.contactId && x.attempt === held.attempt + 1);
        expect(next?.sidecarId).toBe(bId);
      }
    }
    expect(attempts.filter((x) => x.sidecarId === a.sidecar.id && x.leasedAt.getTime() > killedWall)).toEqual(
      [],
    );
    const { counters } = await api.get(id);
    expect(counters).toMatchObject({ total: 60, done: 60, pending: 0, in_progress: 0 });
    await expectCountersTrue(counters, db, id);
  } finally {
    await b?.stop();
    await a.stop();
    await Promise.all([simA.stop(), simB.stop()]);
  }
}, 120_000);
