import { afterAll, beforeAll, expect, test } from 'bun:test';
import { type SimHandle, startAriSimulator } from '../../asterisk/sim/server.ts';
import {
  campaignClient,
  expectCountersTrue,
  expectNoAttemptTwice,
  waitUntil,
} from '../harness/campaign-e2e.ts';
import { ALWAYS } from '../harness/campaign-rows.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';

/**
 * Pause and cancel of a running campaign, end to end: the real sidecar pulls at the campaign's pace
 * (10 calls a second) from the real API, and the simulator's log says when each call was asked for.
 * After the pause answers, the sidecar dials nothing more (a lease already handed out is dialled at
 * once, so within a second), the calls up finish; resume goes on to the end. Cancel ends every
 * pending contact, and nothing is dialled after it.
 */

let sim: SimHandle;
let stack: E2EStack;
let op: TestUser;

beforeAll(async () => {
  // Answered calls last about 0.6 s: some are still up when the campaign pauses.
  sim = await startAriSimulator({ port: 0, timeScale: 0.2 });
  stack = await startE2EStack({
    ari: sim,
    sidecar: { campaignPull: true, originateCps: 50, maxConcurrentCalls: 30 },
  });
  op = await stack.user('operator');
}, 30_000);
afterAll(async () => {
  await stack?.stop();
  await sim?.stop();
});

/** A running campaign of `n` contacts (answered and busy, no retries), its numbers marked by `tag`. */
async function runningCampaign(tag: string, n: number) {
  const api = campaignClient(() => stack.apiUrl, op);
  const { id } = await api.create({
    name: tag,
    timezone: 'UTC',
    windows: ALWAYS,
    cps: 10,
    max_concurrent: 20,
    ring_timeout_ms: 4000,
  });
  const rows = Array.from(
    { length: n },
    (_, i) => `+1555${tag}${String(i).padStart(3, '0')}${i % 2 === 0 ? '0' : '1'}`,
  );
  expect((await api.importCsv(id, `phone_number\r\n${rows.join('\r\n')}\r\n`)).accepted).toBe(n);
  await api.action(id, 'start');
  const dialled = () => sim.originates.filter((o) => o.endpoint.includes(`+1555${tag}`));
  return { api, id, dialled };
}

test('pause: no dial a second after it answers, the calls up finish; resume dials the rest, once each', async () => {
  const { api, id, dialled } = await runningCampaign('410', 50);
  await waitUntil(async () => dialled().length >= 12, 20_000, 'a dozen calls');
  expect((await api.action(id, 'pause')).state).toBe('paused');
  const pausedAt = performance.now();
  const atPause = dialled().length;
  expect(atPause).toBeLessThan(50);
  // The calls up at the pause finish; none starts later than a second after it.
  await waitUntil(async () => (await api.get(id)).counters.in_progress === 0, 20_000, 'the calls up to end');
  await Bun.sleep(1500);
  const late = dialled().filter((o) => o.at > pausedAt + 1000);
  expect(late).toEqual([]);
  const paused = await api.get(id);
  expect(paused.state).toBe('paused');
  expect(paused.counters.pending).toBe(50 - dialled().length);
  expect(paused.counters.pending).toBeGreaterThan(0);
  await expectCountersTrue(paused.counters, stack.database.db, id);

  expect((await api.action(id, 'resume')).state).toBe('running');
  await waitUntil(async () => (await api.get(id)).state === 'completed', 30_000, 'the campaign to complete');
  const { ids } = await expectNoAttemptTwice(stack.database.db, id, sim);
  expect([...ids.values()].filter((set) => set.size !== 1)).toEqual([]);
  expect(dialled()).toHaveLength(50);
  const done = await api.get(id);
  expect(done.counters).toMatchObject({ total: 50, done: 50, pending: 0, in_progress: 0, attempts: 50 });
  await expectCountersTrue(done.counters, stack.database.db, id);
}, 60_000);

test('cancel: every pending contact ends canceled, nothing is dialled after it, counters true', async () => {
  const { api, id, dialled } = await runningCampaign('420', 50);
  await waitUntil(async () => dialled().length >= 12, 20_000, 'a dozen calls');
  expect((await api.action(id, 'cancel')).state).toBe('canceled');
  const canceledAt = performance.now();
  await waitUntil(async () => (await api.get(id)).counters.in_progress === 0, 20_000, 'the calls up to end');
  await Bun.sleep(1500);
  expect(dialled().filter((o) => o.at > canceledAt + 1000)).toEqual([]);

  await expectNoAttemptTwice(stack.database.db, id, sim);
  const contacts = await api.contacts(id);
  const called = contacts.filter((c) => c.attempts > 0);
  const canceled = contacts.filter((c) => c.state === 'canceled');
  // A contact is dialled and ends, or is canceled undialled: nothing else.
  expect(called.every((c) => c.state === 'done' && c.attempts === 1)).toBe(true);
  expect(canceled.every((c) => c.attempts === 0)).toBe(true);
  expect(called.length + canceled.length).toBe(50);
  expect(called.length).toBe(dialled().length);
  expect(canceled.length).toBeGreaterThan(0);
  const after = await api.get(id);
  expect(after.state).toBe('canceled');
  expect(after.counters).toMatchObject({
    total: 50,
    pending: 0,
    in_progress: 0,
    canceled: canceled.length,
    done: called.length,
  });
  await expectCountersTrue(after.counters, stack.database.db, id);
}, 60_000);
