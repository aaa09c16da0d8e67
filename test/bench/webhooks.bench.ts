import { generateSigningJwk, loadSigningKey, type SigningKey } from '../../api/shared/base/keys.ts';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import { API_EVENTS_PATH, TYP_EVENTS } from '../../api/shared/contract/index.ts';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { insertCall } from '../../db/queries/calls.ts';
import { createUser } from '../../db/queries/users.ts';
import { startPostgresCluster } from '../harness/postgres.ts';
import { fmt, type Row, startChild } from './lib.ts';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const now = () => performance.timeOrigin + performance.now();

const FAST_ENDPOINTS = 4;
const STALL_MS = 10_000;

/** A receiver on its own port (its own endpoint) that notes when each call's webhook arrives. */
function receiver(holdMs: number) {
  const arrivals = new Map<string, number>();
  let inFlight = 0;
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      inFlight++;
      const body = (await req.json()) as { call: { call_id: string } };
      arrivals.set(body.call.call_id, now());
      if (holdMs > 0) await Bun.sleep(holdMs);
      inFlight--;
      return new Response('ok');
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/hooks`,
    arrivals,
    get inFlight() {
      return inFlight;
    },
    stop: () => server.stop(true),
  };
}

/**
 * Webhook delivery latency to fast endpoints: from a sidecar's signed event batch leaving for the API
 * to its webhook reaching the receiver, p50/p99 over `events` deliveries spread over four endpoints,
 * first with every endpoint answering at once (the baseline), then while a fifth endpoint holds every
 * request 10 s and has more deliveries waiting than it may take at once. The API is a child process
 * on PostgreSQL with the default webhook limits; the receivers run in this process.
 */
export async function benchWebhooks(options: { events: number }): Promise<Row[]> {
  const cluster = await startPostgresCluster();
  const fast = Array.from({ length: FAST_ENDPOINTS }, () => receiver(0));
  const slow = receiver(STALL_MS);
  const rows: Row[] = [];
  try {
    const url = cluster.url();
    const db = openPostgres(url, { max: 4 });
    await migrate(db.db);
    const user = (await createUser(db.db, {
      username: 'webhook-bench',
      passwordHash: 'x',
      role: 'operator',
    }))!;
    const newCall = async (statusCallback: string) =>
      (
        await insertCall(db.db, {
          id: crypto.randomUUID(),
          ownerId: user.id,
          phoneNumber: '+15551234000',
          context: 'outbound-ivr',
          extension: 's',
          priority: 1,
          timeoutMs: 30_000,
          sidecarId: 'bench',
          statusCallback,
        })
      ).call.id;
    const fastCalls = async () => {
      const ids: string[] = [];
      for (let i = 0; i < options.events; i++) ids.push(await newCall(fast[i % FAST_ENDPOINTS]!.url));
      return ids;
    };
    const undisturbedCalls = await fastCalls();
    const stalledCalls = await fastCalls();
    const slowCalls: string[] = [];
    for (let i = 0; i < 12; i++) slowCalls.push(await newCall(slow.url));
    await db.close();

    const sidecarKey = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
    const api = await startChild('api/entry/bun.ts', {
      APP_ENV: 'production',
      HOST: '127.0.0.1',
      DATABASE_URL: url,
      DATABASE_POOL_SIZE: '10',
      JWT_PRIVATE_KEY: JSON.stringify(await generateSigningJwk()),
      SIDECAR_ID: 'bench',
      SIDECAR_PUBLIC_KEY: JSON.stringify(sidecarKey.publicJwk),
      SIDECAR_URL: 'http://127.0.0.1:9',
      LOG_LEVEL: 'error',
      WEBHOOK_ALLOW_LOOPBACK: 'true',
      // Longer than the stall: the slow endpoint's attempts are held, not cut off, for the whole run.
      WEBHOOK_TIMEOUT_MS: '15000',
    });
    try {
      const send = (ids: string[]) => sendRinging(api.url, sidecarKey, ids);
      const undisturbed = await latencies(send, undisturbedCalls, fast);

      const slowSent = send(slowCalls);
      const deadline = Date.now() + 5000;
      while (slow.inFlight === 0 && Date.now() < deadline) await Bun.sleep(5);
      const stallStarted = Date.now();
      await slowSent;
      const stalled = await latencies(send, stalledCalls, fast);
      const withinStall = Date.now() - stallStarted < STALL_MS;

      const name = `webhooks, ${options.events} deliveries to ${FAST_ENDPOINTS} fast endpoints`;
      for (const p of [50, 99]) {
        const a = percentile(stalled.sorted, p);
        const b = percentile(undisturbed.sorted, p);
        rows.push({
          bench: name,
          measure: `event → delivery p${p}, one other endpoint stalling 10 s`,
          value: fmt.ms(a),
          baseline: `${fmt.ms(b)} undisturbed`,
          ratio: fmt.ratio(a, b),
        });
      }
      rows.push({
        bench: name,
        measure: 'deliveries',
        value: `${stalled.sorted.length} of ${options.events} while stalled (all within the stall: ${withinStall}, slow endpoint answered: ${slow.arrivals.size - slow.inFlight})`,
        baseline: `${undisturbed.sorted.length} of ${options.events} undisturbed`,
      });
    } finally {
      await api.stop();
    }
  } finally {
    for (const r of fast) r.stop();
    slow.stop();
    cluster.stop();
  }
  return rows;
}

/** One signed batch with a `ringing` event per call, sent one after another; when each left. */
async function sendRinging(apiUrl: string, key: SigningKey, ids: string[]): Promise<number[]> {
  const sent: number[] = [];
  for (const id of ids) {
    const body = JSON.stringify({
      sidecar_id: 'bench',
      batch_id: crypto.randomUUID(),
      events: [
        {
          event_id: `${id}:ringing`,
          call_id: id,
          seq: 2,
          type: 'ringing',
          status: 'ringing',
          occurred_at: new Date().toISOString(),
        },
      ],
    });
    const signature = await signChannelMessage({
      key,
      issuer: 'sidecar:bench',
      audience: 'outdial',
      typ: TYP_EVENTS,
      method: 'POST',
      path: API_EVENTS_PATH,
      body,
    });
    sent.push(now());
    const res = await fetch(`${apiUrl}${API_EVENTS_PATH}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${signature}`, 'Content-Type': 'application/json' },
      body,
    });
    if (res.status !== 200) throw new Error(`event batch answered ${res.status}`);
    await Bun.sleep(5);
  }
  return sent;
}

async function latencies(
  send: (ids: string[]) => Promise<number[]>,
  ids: string[],
  receivers: ReturnType<typeof receiver>[],
): Promise<{ sorted: number[] }> {
  const sent = await send(ids);
  const arrivedAt = (id: string) => receivers.find((r) => r.arrivals.has(id))?.arrivals.get(id);
  const deadline = Date.now() + 30_000;
  while (ids.some((id) => arrivedAt(id) === undefined) && Date.now() < deadline) await Bun.sleep(10);
  const sorted = ids
    .map((id, i) => (arrivedAt(id) ?? Number.NaN) - sent[i]!)
    .filter((ms) => !Number.isNaN(ms))
    .sort((a, b) => a - b);
  return { sorted };
}
