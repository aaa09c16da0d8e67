import { startPostgresCluster } from '../harness/postgres.ts';
import { loginToken, seedReader } from './api.bench.ts';
import { LIMITS } from './goals.ts';
import {
  benchApiEnv,
  type Child,
  childPids,
  cpuMs,
  fmt,
  goalRow,
  type LoadResult,
  postmasterPid,
  type Row,
  startChild,
  wrk,
} from './lib.ts';

/**
 * Two API processes on one PostgreSQL against one. Both runs drive the same load (two wrk processes
 * of 25 connections each on GET /api/v2/calls/{id}): at one API process, or one wrk per process.
 *
 * On a machine with fewer cores than two APIs, PostgreSQL and the load generator want, the measured
 * ratio shows the machine, not the API: every process shares the same cores. So the per-core method:
 * the requests each API process serves per CPU-second it spends (from /proc), alone and beside the
 * other. If that holds when two run on one database (no shared lock, pool or row they queue on), two
 * processes on two cores serve 2 × (per-core figure beside / per-core figure alone) of one. The
 * database's CPU per request is shown too: it is what a larger fleet meets next.
 */
export async function benchScale(options: { seconds: number }): Promise<Row[]> {
  const cluster = await startPostgresCluster();
  const rows: Row[] = [];
  const children: Child[] = [];
  try {
    const url = cluster.url();
    const { call, password } = await seedReader(url);
    // Both processes sign and verify with the same key, as a fleet behind one balancer does.
    const env = await benchApiEnv(url);
    for (let i = 0; i < 2; i++) children.push(await startChild('api/entry/bun.ts', env));
    const [one, two] = children as [Child, Child];
    const token = await loginToken(one.url, password);
    const headers = { Authorization: `Bearer ${token}` };
    const target = (api: Child) => `${api.url}/api/v2/calls/${call.id}`;
    const postmaster = postmasterPid(cluster);
    const dbCpu = () =>
      [postmaster, ...childPids(postmaster)].reduce((sum, pid) => sum + (cpuMs(pid) || 0), 0);

    /** Two wrk of 25 connections at once on the given processes; CPU read around them. */
    const measure = async (apis: [Child, Child]) => {
      const procs = [...new Set(apis)];
      const apiBefore = procs.map((p) => cpuMs(p.proc.pid));
      const db = dbCpu();
      const results: LoadResult[] = await Promise.all(
        apis.map((api) =>
          wrk(target(api), { connections: 25, threads: 1, seconds: options.seconds, headers }),
        ),
      );
      const apiMs = procs.reduce((sum, p, i) => sum + cpuMs(p.proc.pid) - apiBefore[i]!, 0);
      const requests = results.reduce((sum, r) => sum + r.requests, 0);
      return {
        rps: results.reduce((sum, r) => sum + r.rps, 0),
        errors: results.reduce((sum, r) => sum + r.errors, 0),
        // Requests per CPU-second of one API process: what one core running it would serve.
        perCore: requests / (apiMs / 1000 / procs.length) / procs.length,
        dbMsPerRequest: (dbCpu() - db) / requests,
      };
    };
    // Warm both (JIT, pools, prepared statements), then alone and beside, twice each, alternating.
    await Promise.all([one, two].map((api) => wrk(target(api), { connections: 10, seconds: 1, headers })));
    const alone = [];
    const beside = [];
    for (let i = 0; i < 2; i++) {
      alone.push(await measure([one, one]));
      beside.push(await measure([one, two]));
    }
    const best = <T extends { rps: number }>(xs: T[]) => xs.reduce((a, b) => (b.rps > a.rps ? b : a));
    const a = best(alone);
    const b = best(beside);
    const name = 'GET /api/v2/calls/{id}, 50 conn, two API processes';
    rows.push({
      bench: name,
      measure: 'throughput (this machine)',
      value: fmt.rps(b.rps),
      baseline: `one process ${fmt.rps(a.rps)}`,
      ratio: fmt.ratio(b.rps, a.rps),
    });
    rows.push({
      bench: name,
      measure: 'per core: req per API CPU-second',
      value: `${Math.round(b.perCore).toLocaleString('en-US')} each`,
      baseline: `alone ${Math.round(a.perCore).toLocaleString('en-US')}`,
      ratio: fmt.ratio(b.perCore, a.perCore),
    });
    rows.push({
      bench: name,
      measure: 'PostgreSQL CPU per request',
      value: fmt.ms(b.dbMsPerRequest),
      baseline: `one process ${fmt.ms(a.dbMsPerRequest)}`,
      ratio: fmt.ratio(b.dbMsPerRequest, a.dbMsPerRequest),
    });
    if (a.errors + b.errors > 0)
      rows.push({ bench: name, measure: 'errors', value: String(a.errors + b.errors) });
    // Enough cores for two APIs, PostgreSQL and the generator: the measured ratio. Otherwise per core.
    const cores = navigator.hardwareConcurrency;
    const measured = cores >= 6;
    const projected = (2 * b.perCore) / a.perCore;
    rows.push(
      goalRow({
        id: 'scale',
        baseline: `one process ${fmt.rps(a.rps)} (${Math.round(a.perCore).toLocaleString('en-US')} per API core-s)`,
        figure: measured
          ? `two processes ${fmt.rps(b.rps)}`
          : `two: ${Math.round(b.perCore).toLocaleString('en-US')} per API core-s each; ${cores} cores, so per core (measured ${fmt.ratio(b.rps, a.rps)})`,
        ratio: measured ? fmt.ratio(b.rps, a.rps) : `${projected.toFixed(2)}×`,
        meets: (measured ? b.rps / a.rps : projected) >= LIMITS.scale && a.errors + b.errors === 0,
      }),
    );
  } finally {
    for (const child of children) await child.stop().catch(() => undefined);
    cluster.stop();
  }
  return rows;
}
