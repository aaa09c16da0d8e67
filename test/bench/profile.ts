/**
 * Where a GET /api/v2/calls/{id} spends its time: `bun test/bench/profile.ts` (or `npm run bench --
 * --only profile`). Against a throwaway PostgreSQL it counts the database round trips per request
 * (the server's transaction counter around a wrk run: every statement outside a transaction is one),
 * prints EXPLAIN ANALYZE of the statements the read runs, and writes Bun's CPU profile of the API
 * process under load (`--cpu-prof-md`) to bench-results/, printing its heaviest functions.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SQL } from 'bun';
import { verifyAccessToken } from '../../api/auth/tokens.ts';
import { presentCall } from '../../api/calls/present.ts';
import { startApi } from '../../api/entry/bun.ts';
import { getCallForReader } from '../../db/queries/calls.ts';
import { getAuthSubject } from '../../db/queries/users.ts';
import { startPostgresCluster } from '../harness/postgres.ts';
import { loginToken, seedReader } from './api.bench.ts';
import { benchApiEnv, childPids, cpuMs, fmt, postmasterPid, ROOT, type Row, startChild, wrk } from './lib.ts';

/** Mean µs of `n` runs of `fn`, one after another (after a warm-up). */
async function timeEach(n: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < Math.min(200, n); i++) await fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return ((performance.now() - t) * 1000) / n;
}

/**
 * The read's parts timed one at a time in this process, on an API started here (startApi) on the
 * same database: signature and claims, each statement's round trip, presenting and encoding the
 * call, and the whole request through app.request (Hono and every middleware, no socket).
 */
async function partsOfRead(env: Record<string, string>, callId: string, password: string) {
  const api = await startApi({ ...env, PORT: '0' });
  try {
    const { services } = api;
    const token = await loginToken(api.url, password);
    const claims = await verifyAccessToken(token, {
      keys: services.keys.verify,
      issuer: services.config.JWT_ISSUER,
      audience: services.config.JWT_AUDIENCE,
    });
    const call = (await getCallForReader(services.db, callId, claims.sub))!;
    const headers = { Authorization: `Bearer ${token}` };
    const n = 2000;
    const parts: [string, number][] = [
      [
        'JWT verify (jose, Ed25519)',
        await timeEach(n, () =>
          verifyAccessToken(token, {
            keys: services.keys.verify,
            issuer: services.config.JWT_ISSUER,
            audience: services.config.JWT_AUDIENCE,
          }),
        ),
      ],
      [
        'auth lookup round trip',
        await timeEach(n, () => getAuthSubject(services.db, claims.sub, claims.jti)),
      ],
      ['call read round trip', await timeEach(n, () => getCallForReader(services.db, callId, claims.sub))],
      ['present + JSON.stringify', await timeEach(n, () => JSON.stringify(presentCall(call)))],
      [
        'the same GET without a token (Hono, middleware, 401 problem; no database)',
        await timeEach(n, async () => {
          const res = await api.app.request(`/api/v2/calls/${callId}`);
          await res.arrayBuffer();
        }),
      ],
      [
        'whole GET through app.request',
        await timeEach(n, async () => {
          const res = await api.app.request(`/api/v2/calls/${callId}`, { headers });
          await res.arrayBuffer();
        }),
      ],
    ];
    return parts;
  } finally {
    await api.stop();
  }
}

/** Transactions committed or rolled back in the database so far (the statistics collector's count). */
async function transactions(sql: SQL): Promise<number> {
  // The counters are per backend until its transaction ends; this snapshot sees every backend's.
  await sql`select pg_stat_clear_snapshot()`;
  const [row] =
    await sql`select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`;
  return Number(row.n);
}

export async function benchProfile(options: { seconds: number }): Promise<Row[]> {
  const cluster = await startPostgresCluster();
  const rows: Row[] = [];
  const dir = join(ROOT, 'bench-results', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  try {
    const url = cluster.url();
    const { user, call, password } = await seedReader(url);
    const env = await benchApiEnv(url);
    for (const [part, us] of await partsOfRead(env, call.id, password)) {
      rows.push({ bench: 'profile: one at a time, in process', measure: part, value: `${us.toFixed(0)} µs` });
    }
    const api = await startChild('api/entry/bun.ts', env, '/health', [
      '--cpu-prof-md',
      `--cpu-prof-dir=${dir}`,
    ]);
    const sql = new SQL(url, { max: 1 });
    try {
      const token = await loginToken(api.url, password);
      const target = `${api.url}/api/v2/calls/${call.id}`;
      const headers = { Authorization: `Bearer ${token}` };
      await wrk(target, { connections: 10, seconds: 1, headers });
      // The statistics are sent at transaction end and at most every second or so: wait them out.
      await Bun.sleep(1500);
      const postmaster = postmasterPid(cluster);
      const dbCpu = () =>
        [postmaster, ...childPids(postmaster)].reduce((sum, pid) => sum + (cpuMs(pid) || 0), 0);
      const before = await transactions(sql);
      const [apiCpu, pgCpu] = [cpuMs(api.proc.pid), dbCpu()];
      const load = await wrk(target, { connections: 50, seconds: options.seconds, headers });
      const [apiMs, pgMs] = [cpuMs(api.proc.pid) - apiCpu, dbCpu() - pgCpu];
      await Bun.sleep(1500);
      // Less the two readings' own transactions (the snapshot clear and the count).
      const perRequest = ((await transactions(sql)) - before - 2) / load.requests;
      const name = 'profile: GET /api/v2/calls/{id}, 50 conn';
      const measured = `${fmt.rps(load.rps)}, p99 ${fmt.ms(load.p99)}`;
      rows.push({
        bench: name,
        measure: 'database round trips per request',
        value: perRequest.toFixed(2),
        baseline: measured,
      });
      rows.push({
        bench: name,
        measure: 'API CPU per request',
        value: `${((apiMs * 1000) / load.requests).toFixed(0)} µs`,
      });
      rows.push({
        bench: name,
        measure: 'PostgreSQL CPU per request',
        value: `${((pgMs * 1000) / load.requests).toFixed(0)} µs`,
      });
      for (const [name, text, params] of [
        [
          'auth lookup',
          `select id, username, role, is_active, token_version,
             exists (select 1 from revoked_tokens where jti = $2) as revoked
           from users where id = $1`,
          [user.id, crypto.randomUUID()],
        ],
        [
          'auth lookup with the call (one statement)',
          `select u.id, u.username, u.role, u.is_active, u.token_version,
             exists (select 1 from revoked_tokens where jti = $2) as revoked, c.*
           from users u left join calls c on c.id = $3::uuid where u.id = $1`,
          [user.id, crypto.randomUUID(), call.id],
        ],
        [
          'call for reader',
          `select * from calls where id = $1 and ($2::uuid is null or owner_id = $2::uuid)`,
          [call.id, user.id],
        ],
      ] as const) {
        const plan = (await sql.unsafe(`explain (analyze, buffers) ${text}`, [...params])) as {
          'QUERY PLAN': string;
        }[];
        console.error(`\nEXPLAIN ANALYZE ${name}:\n${plan.map((r) => `  ${r['QUERY PLAN']}`).join('\n')}`);
        // Run again: the first plan reads the catalogue into this session's caches.
        const again = (await sql.unsafe(`explain (analyze, buffers) ${text}`, [...params])) as {
          'QUERY PLAN': string;
        }[];
        const time = (what: string) =>
          again
            .map((r) => r['QUERY PLAN'])
            .find((l) => l.startsWith(what))
            ?.replace(/^.*: /, '') ?? '?';
        rows.push({
          bench: 'profile: EXPLAIN ANALYZE (second run)',
          measure: name,
          value: `planning ${time('Planning Time')}, execution ${time('Execution Time')}`,
        });
      }
    } finally {
      await sql.close();
      await api.stop();
    }
    const md = readdirSync(dir).find((f) => f.endsWith('.md'));
    if (md) {
      console.error(`\nCPU profile of the API under load: ${join(dir, md)}`);
      // The profile's first table is the functions by self time; show its head.
      const lines = readFileSync(join(dir, md), 'utf8').split('\n');
      console.error(lines.slice(0, 60).join('\n'));
    }
  } finally {
    cluster.stop();
  }
  return rows;
}

if (import.meta.main) {
  const { table } = await import('./lib.ts');
  console.log(table(await benchProfile({ seconds: Number(process.env.BENCH_SECONDS ?? 5) })));
}
