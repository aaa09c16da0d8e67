import { afterEach, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { createLogger } from '../api/shared/base/log.ts';
import { keyPair } from '../test/harness/channel.ts';
import { tempDir, waitFor } from '../test/harness/util.ts';
import { startFakeApi } from '../test/sidecar/harness.ts';
import { newTrack } from './mapping.ts';
import { createMetrics } from './metrics.ts';
import { OutboxSender } from './outbox.ts';
import { type CallRow, Store } from './store.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(batchSize = 3) {
  const sidecarKey = await keyPair();
  const api = await startFakeApi({ sidecarPublicJson: sidecarKey.publicJson });
  const dir = tempDir('sidecar-outbox-');
  const store = new Store(join(dir.path, 'o.sqlite'), 'sc-o');
  const metrics = createMetrics();
  const sender = new OutboxSender({
    store,
    key: sidecarKey.key,
    sidecarId: 'sc-o',
    apiUrl: api.url,
    apiIssuer: 'outdial',
    batchSize,
    initialDelayMs: 10,
    maxDelayMs: 50,
    requestTimeoutMs: 1000,
    metrics,
    log: createLogger({ level: 'silent' }),
  });
  cleanups.push(dir.remove);
  cleanups.push(() => store.close());
  cleanups.push(() => api.stop());
  cleanups.push(() => sender.stop());
  return { api, store, sender, metrics };
}

const rows = new Map<string, CallRow>();

function write(store: Store, callId: string, count: number) {
  const row: CallRow = rows.get(callId) ?? {
    callId,
    state: 'live',
    accepted: true,
    seq: 0,
    track: newTrack(),
    command: {} as CallRow['command'],
    queueSeq: null,
    flow: null,
    createdAt: Date.now(),
    updatedAt: Date.now(),
  };
  rows.set(callId, row);
  const at = new Date().toISOString();
  const types = ['dialing', 'ringing', 'answered'] as const;
  store.commit(
    row,
    Array.from({ length: count }, (_, i) => ({
      type: types[i % 3]!,
      status: types[i % 3]!,
      occurred_at: at,
      reason: null,
      hangup_cause: null,
      hangup_cause_txt: null,
      dial_status: null,
      channel: null,
    })),
  );
}

describe('OutboxSender', () => {
  test('delivers in order, in batches, signed anew each time, and empties the outbox', async () => {
    const { api, store, sender, metrics } = await setup(3);
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    write(store, a, 3);
    write(store, b, 3);
    write(store, a, 1);
    sender.start();
    sender.notify();
    expect(await sender.flush(3000)).toBe(true);
    expect(api.events.map((e) => `${e.call_id === a ? 'a' : 'b'}${e.seq}`)).toEqual([
      'a1',
      'a2',
      'a3',
      'b1',
      'b2',
      'b3',
      'a4',
    ]);
    expect(api.batches).toBe(3);
    expect(store.outboxDepth()).toBe(0);
    const text = await metrics.registry.metrics();
    expect(text).toContain('sidecar_event_lag_seconds_count 7');
  });

  test('keeps retrying while the API fails, then delivers everything once', async () => {
    const { api, store, sender } = await setup(100);
    api.mode = 'fail500';
    const a = crypto.randomUUID();
    write(store, a, 3);
    sender.start();
    sender.notify();
    await Bun.sleep(150);
    expect(sender.isFailing()).toBe(true);
    expect(api.events).toEqual([]);
    api.mode = 'ok';
    await waitFor(() => store.outboxDepth() === 0, 2000, 'delivered');
    expect(api.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(api.duplicates).toEqual([]);
    expect(api.refusedSignatures).toBe(0);
  });

  test('a malformed event is isolated and dead-lettered; the ones around it go through', async () => {
    const { api, store, sender } = await setup(8);
    const a = crypto.randomUUID();
    write(store, a, 8);
    api.poison = (e) => e.call_id === a && e.seq === 6;
    sender.start();
    sender.notify();
    await waitFor(() => store.outboxDepth() === 0, 3000, 'outbox empty');
    expect(api.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 7, 8]);
    expect(store.deadLetterCount()).toBe(1);
  });

  test('flush gives up after its timeout while the API is down; the events stay for later', async () => {
    const { api, store, sender } = await setup();
    await api.down();
    write(store, crypto.randomUUID(), 2);
    sender.start();
    const started = Date.now();
    expect(await sender.flush(200)).toBe(false);
    expect(Date.now() - started).toBeLessThan(500);
    expect(store.outboxDepth()).toBe(2);
  });
});
