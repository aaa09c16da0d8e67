import { expect, test } from 'bun:test';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import {
  campaignClient,
  expectCountersTrue,
  expectNoAttemptTwice,
  waitUntil,
} from '../harness/campaign-e2e.ts';
import { ALWAYS, attemptsOf } from '../harness/campaign-rows.ts';
import { startE2EStack } from '../harness/e2e.ts';

/**
 * kill -9 mid-campaign, of the API, of the sidecar, then of both, each as a process, one after the
 * other while one campaign runs: after each restart the campaign goes on, and in the end no contact
 * is lost (every one done, the campaign completed), no attempt was dialled twice (each call id
 * originated at most once, each contact's attempt numbers distinct) and the counters are right.
 * Attempts a killed sidecar took and never reported end `lost` when their lease passes
 * (CAMPAIGN_LEASE_MARGIN_SECONDS short here), and the retry policy dials them again.
 */

test('kill -9 of the API, of the sidecar, of both, mid-campaign: no contact lost, no attempt twice, counters right', async () => {
  const sim = await startAriSimulator({ port: 0, timeScale: 0.1 });
  const stack = await startE2EStack({
    ari: sim,
    apiMode: 'process',
    sidecarMode: 'process',
    apiEnv: { CAMPAIGN_LEASE_MARGIN_SECONDS: '2' },
    sidecar: { campaignPull: true, originateCps: 50, maxConcurrentCalls: 30, reconcileIntervalMs: 1000 },
  });
  try {
    const op = await stack.user('operator');
    const api = campaignClient(() => stack.apiUrl, op);
    const { id } = await api.create({
      name: 'kill -9',
      timezone: 'UTC',
      windows: ALWAYS,
      retry: { busy: { after_seconds: 1, max_attempts: 2 }, lost: { after_seconds: 1, max_attempts: 5 } },
      max_attempts_per_day: 10,
      cps: 10,
      max_concurrent: 20,
      ring_timeout_ms: 4000,
    });
    const digits = ['0', '1', '4'];
    const rows = Array.from(
      { length: 60 },
      (_, i) => `+1555500${String(i).padStart(3, '0')}${digits[i % 3]}`,
    );
    expect((await api.importCsv(id, `phone_number\r\n${rows.join('\r\n')}\r\n`)).accepted).toBe(60);
    await api.action(id, 'start');
    const db = stack.database.db;
    const attemptsReach = (n: number) =>
      waitUntil(async () => (await attemptsOf(db, id)).length >= n, 30_000, `${n} attempts`);

    await attemptsReach(10);
    await stack.killApi();
    await Bun.sleep(500);
    await stack.startApi();

    await attemptsReach(25);
    await stack.sidecar.kill();
    await Bun.sleep(500);
    await stack.sidecar.start();

    await attemptsReach(40);
    await Promise.all([stack.killApi(), stack.sidecar.kill()]);
    await Bun.sleep(500);
    await stack.startApi();
    await stack.sidecar.start();

    await waitUntil(
      async () => (await api.get(id)).state === 'completed',
      60_000,
      'the campaign to complete',
    );
    const { contacts } = await expectNoAttemptTwice(db, id, sim);
    expect(contacts).toHaveLength(60);
    for (const c of contacts) {
      expect({ phone: c.phoneNumber, state: c.state }).toEqual({ phone: c.phoneNumber, state: 'done' });
      // Every contact ends as its callee does; a lost attempt is dialled again.
      expect(['answered', 'busy']).toContain(c.finalOutcome!);
    }
    const { counters } = await api.get(id);
    expect(counters).toMatchObject({ total: 60, done: 60, pending: 0, in_progress: 0 });
    await expectCountersTrue(counters, db, id);
  } finally {
    await stack.stop();
    await sim.stop();
  }
}, 120_000);
