import { join } from 'node:path';
import { SQL } from 'bun';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { keyPair } from '../harness/channel.ts';
import { startPostgresCluster } from '../harness/postgres.ts';
import { freePort, tempDir } from '../harness/util.ts';
import { sidecarConfig, sidecarEnv } from '../sidecar/harness.ts';
import { fmt, percentile, postmasterPid, type Row, stackCpuMs, startChild } from './lib.ts';

/**
 * The campaign engine keeping `rate` calls a second flowing: the API (a child process, PostgreSQL),
 * a sidecar (a child process) pulling due attempts over POST /api/v2/sidecar/lease, the ARI
 * simulator in this process timing each originate as it arrives. One running campaign (cps = rate,
 * max_concurrent 1,000) whose contacts answer and hang up at once (last digit 4). Over a steady
 * window after a warm-up: originates per second reaching the simulator, the lease → originate
 * latency (the call's created_at, set when it is leased, to its POST /channels at the simulator),
 * and CPU time per call of the API, the sidecar and PostgreSQL's backends. The baseline, in the same
 * run through the same processes: as many single calls, POST /api/v2/calls at the same rate (at most
 * MAX_IN_FLIGHT outstanding), whose latency runs from sending the request to its originate.
 */

const WARMUP_S = 5;
/**
 * Single calls outstanding at most: where this machine cannot place `rate` a second, the baseline
 * runs as fast as it can instead of piling up requests until they time out.
 */
const MAX_IN_FLIGHT = 32;
const PASSWORD = 'benchmark password';

interface Window {
  calls: number;
  /** Single calls refused or timed out (503 when the sidecar did not answer in time). */
  failed: number;
  seconds: number;
  apiMs: number;
  sidecarMs: number;
  dbMs: number;
  latencies: number[];
}

export async function benchEngine(options: { seconds: number; rate: number }): Promise<Row[]> {
  const { seconds, rate } = options;
  const cluster = await startPostgresCluster();
  const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
  const dir = tempDir('outdial-bench-engine-');
  const stops: (() => Promise<unknown> | unknown)[] = [];
  try {
    const url = cluster.url();
    const database = openPostgres(url, { max: 2 });
    await migrate(database.db);
    await database.close();
    const hash = await Bun.password.hash(PASSWORD, { algorithm: 'bcrypt', cost: 12 });
    const sql = new SQL(url, { max: 1 });
    stops.push(() => sql.close());
    const [user] = await sql`insert into users (username, username_canonical, password_hash, role)
      values ('bench', 'bench', ${hash}, 'operator') returning id`;
    // Enough contacts that the campaign is still dialling when the window ends.
    const contacts = rate * (WARMUP_S + seconds + 20);
    const [campaign] = await sql`insert into campaigns
        (owner_id, name, state, timezone, windows, cps, max_concurrent, next_lease_at)
      values (${user.id}, 'bench', 'paused', 'UTC',
        '[{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"23:59"}]'::jsonb,
        ${rate}, 1000, now()) returning id`;
    const campaignId = campaign.id as string;
    await sql`insert into campaign_contacts (campaign_id, phone_number, next_attempt_at, source_row)
      select ${campaignId}, '+131255' || lpad(g::text, 4, '0') || '4', now() - interval '1 minute', g
      from generate_series(1, ${contacts}) g`;
    await sql`insert into campaign_counters (campaign_id, name, value)
      values (${campaignId}, 'total', ${contacts}), (${campaignId}, 'pending', ${contacts})`;
    await sql`analyze`;

    const [apiKey, sidecarKey] = [await keyPair(), await keyPair()];
    const sidecarPort = await freePort();
    const config = sidecarConfig({
      sidecarKey,
      apiKey,
      apiUrl: '',
      ariHttpUrl: `${sim.url}/ari`,
      dataDir: dir.path,
      overrides: {
        port: sidecarPort,
        campaignPull: true,
        // The PBX allows more than the campaign asks: the campaign's pacing is what is measured.
        originateCps: rate * 2,
        maxConcurrentCalls: 2000,
        queueMax: 5000,
        ariMaxConnections: 64,
        logLevel: 'error',
      },
    });
    const api = await startChild('api/entry/bun.ts', {
      APP_ENV: 'production',
      HOST: '127.0.0.1',
      DATABASE_URL: url,
      JWT_PRIVATE_KEY: apiKey.privateJson,
      SIDECAR_ID: config.sidecarId,
      SIDECAR_URL: `http://127.0.0.1:${sidecarPort}`,
      SIDECAR_PUBLIC_KEY: sidecarKey.publicJson,
      LOG_LEVEL: 'error',
      RATE_LIMIT_REQUESTS: '1000000',
      DATA_DIR: join(dir.path, 'api'),
    });
    stops.push(() => api.stop());
    const sidecar = await startChild('sidecar/main.ts', {
      ...sidecarEnv({ ...config, apiUrl: api.url }),
      PORT: String(sidecarPort),
    });
    stops.push(() => sidecar.stop());
    const postmaster = postmasterPid(cluster);

    const login = await fetch(`${api.url}/api/v2/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'bench', password: PASSWORD }),
    });
    const token = ((await login.json()) as { access_token: string }).access_token;
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const originateAt = () =>
      new Map(sim.originates.map((o) => [o.channelId, performance.timeOrigin + o.at]));
    // The events socket is up before anything is dialled.
    for (let i = 0; sim.stats().sockets === 0; i++) {
      if (i > 100) throw new Error('the sidecar did not connect to the simulator');
      await Bun.sleep(100);
    }

    /** `count` single calls at `rate` a second; the ones from `skip` on are measured. */
    const singleCalls = async (count: number, skip: number): Promise<Window> => {
      const sent = new Map<string, number>();
      let failed = 0;
      let inFlight = 0;
      let before = stackCpuMs(api, sidecar, postmaster);
      let t0 = performance.now();
      const placing: Promise<void>[] = [];
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = start + (i * 1000) / rate - performance.now();
        if (wait > 0) await Bun.sleep(wait);
        while (inFlight >= MAX_IN_FLIGHT) await Bun.sleep(5);
        if (i === skip) {
          before = stackCpuMs(api, sidecar, postmaster);
          t0 = performance.now();
        }
        const at = Date.now();
        inFlight++;
        placing.push(
          fetch(`${api.url}/api/v2/calls`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ phone_number: `+1312777${String(i).padStart(4, '0')}` }),
          })
            .then(async (res) => {
              const body = (await res.json()) as { call_id?: string };
              if (res.status !== 200 || !body.call_id) throw new Error(`POST /calls: ${res.status}`);
              if (i >= skip) sent.set(body.call_id, at);
            })
            .catch(() => {
              if (i >= skip) failed++;
            })
            .finally(() => inFlight--),
        );
      }
      await Promise.all(placing);
      const after = stackCpuMs(api, sidecar, postmaster);
      const elapsed = (performance.now() - t0) / 1000;
      const arrived = originateAt();
      const latencies = [...sent].flatMap(([id, at]) => {
        const o = arrived.get(id);
        return o === undefined ? [] : [o - at];
      });
      return {
        calls: sent.size,
        failed,
        seconds: elapsed,
        apiMs: after.api - before.api,
        sidecarMs: after.sidecar - before.sidecar,
        dbMs: after.db - before.db,
        latencies,
      };
    };

    // Warm-up of the single-call path, then the baseline.
    await singleCalls(rate, rate);
    const baseline = await singleCalls(rate * (WARMUP_S + seconds), rate * WARMUP_S);
    await Bun.sleep(2000);

    // The campaign: running from now; the sidecar's next lease (at most 5 s away) starts it.
    await sql`update campaigns set state = 'running', started_at = now(), next_lease_at = now()
      where id = ${campaignId}`;
    const firstCall = Date.now() + 10_000;
    while (Date.now() < firstCall) {
      const [row] = await sql`select count(*)::int as n from calls where campaign_id = ${campaignId}`;
      if (row.n > 0) break;
      await Bun.sleep(50);
    }
    await Bun.sleep(WARMUP_S * 1000);
    const seen = new Set(sim.originates.map((o) => o.channelId));
    const before = stackCpuMs(api, sidecar, postmaster);
    const t0 = performance.now();
    await Bun.sleep(seconds * 1000);
    const after = stackCpuMs(api, sidecar, postmaster);
    const elapsed = (performance.now() - t0) / 1000;
    const inWindow = sim.originates.filter((o) => !seen.has(o.channelId)).map((o) => o.channelId);
    await sql`update campaigns set state = 'paused' where id = ${campaignId}`;
    const leased = new Map<string, number>();
    for (const row of await sql`select id, created_at from calls where campaign_id = ${campaignId}`) {
      leased.set(row.id as string, new Date(row.created_at as string).getTime());
    }
    const arrived = originateAt();
    const ids = inWindow.filter((id): id is string => id !== null && leased.has(id));
    // Calls of one lease share its created_at: how many leases gave the window its calls.
    const leases = new Set(ids.map((id) => leased.get(id)!)).size;
    const engine: Window = {
      calls: ids.length,
      failed: 0,
      seconds: elapsed,
      apiMs: after.api - before.api,
      sidecarMs: after.sidecar - before.sidecar,
      dbMs: after.db - before.db,
      latencies: ids.map((id) => arrived.get(id)! - leased.get(id)!),
    };
    return [
      ...rows(engine, baseline, rate),
      {
        bench: 'campaign engine',
        measure: 'leases in the window',
        value: `${leases} leases, ${(ids.length / Math.max(1, leases)).toFixed(1)} calls each, one every ${fmt.ms((elapsed * 1000) / Math.max(1, leases))}`,
      },
    ];
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    await sim.stop();
    cluster.stop();
    dir.remove();
  }
}

function rows(engine: Window, single: Window, rate: number): Row[] {
  const name = `campaign engine at cps ${rate} (sidecar pulling leases) vs POST /api/v2/calls at ${rate}/s`;
  const perCall = (ms: number, w: Window) => ms / Math.max(1, w.calls);
  const rps = (w: Window) => w.calls / w.seconds;
  const out: Row[] = [
    {
      bench: name,
      measure: `originates/s at the simulator over ${engine.seconds.toFixed(0)} s (goal ${rate})`,
      value: `${rps(engine).toFixed(1)}/s (${engine.calls} calls)`,
      baseline: `${rps(single).toFixed(1)}/s (${single.calls} calls, ${single.failed} failed)`,
      ratio: fmt.ratio(rps(engine), rps(single)),
    },
  ];
  for (const p of [50, 99]) {
    const e = percentile(engine.latencies, p);
    const s = percentile(single.latencies, p);
    out.push({
      bench: name,
      measure: `p${p} lease → originate (single: request → originate)`,
      value: fmt.ms(e),
      baseline: fmt.ms(s),
      ratio: fmt.ratio(e, s),
    });
  }
  for (const [what, key] of [
    ['API', 'apiMs'],
    ['sidecar', 'sidecarMs'],
    ['PostgreSQL', 'dbMs'],
  ] as const) {
    const e = perCall(engine[key], engine);
    const s = perCall(single[key], single);
    out.push({
      bench: name,
      measure: `CPU per call, ${what}`,
      value: fmt.ms(e),
      baseline: fmt.ms(s),
      ratio: fmt.ratio(e, s),
    });
  }
  return out;
}
