import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningJwk } from '../../api/shared/base/keys.ts';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { insertCall } from '../../db/queries/calls.ts';
import { createUser } from '../../db/queries/users.ts';
import { startPostgresCluster } from '../harness/postgres.ts';
import { startWorkerdApi } from '../harness/workerd.ts';
import { fmt, ROOT, type Row, wrk } from './lib.ts';

/**
 * The API on Workers, measured locally:
 *
 * - Bundle size: `wrangler deploy --dry-run --outdir` (what would be uploaded), raw and gzipped, as
 *   built by wrangler.toml and with --minify.
 * - CPU per request of GET /api/v2/calls/{id} in workerd under `wrangler dev`: the CPU time (user +
 *   system, from /proc/PID/stat) of the workerd process that runs the Worker, over a wrk run, minus
 *   what the same process burns idle for as long, divided by the requests wrk completed. The
 *   baseline is GET /health measured the same way in the same run (no database, no token). It
 *   includes what a request costs the Worker in the runtime: TLS-less HTTP from wrangler's local
 *   proxy, the per-request database pool over the loopback WebSocket proxy, JSON. It is a
 *   workerd-on-this-machine figure, not Cloudflare's billed CPU time.
 */

const TICKS_PER_SECOND = 100;

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function processes(): { pid: number; ppid: number; cmd: string }[] {
  const out: { pid: number; ppid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(entry), ppid, cmd });
    } catch {
      // gone
    }
  }
  return out;
}

/** The workerd processes started after `before` (wrangler runs its proxy and the Worker in separate ones). */
function workerdPids(before: Set<number>): number[] {
  return processes()
    .filter((p) => !before.has(p.pid) && /workerd(-linux-64)?\/bin\/workerd serve/.test(p.cmd))
    .map((p) => p.pid);
}

async function bundle(minify: boolean): Promise<{ raw: number; gzip: number }> {
  const out = mkdtempSync(join(tmpdir(), 'outdial-bundle-'));
  try {
    const proc = Bun.spawn(
      [
        'node',
        join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
        'deploy',
        '--dry-run',
        '--outdir',
        out,
        ...(minify ? ['--minify'] : []),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, XDG_CONFIG_HOME: out, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
        stdout: 'pipe',
        stderr: 'pipe',
      },
    );
    const [text, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    if (code !== 0) throw new Error(`wrangler deploy --dry-run failed: ${err || text}`);
    const file = join(out, 'worker.js');
    const bytes = readFileSync(file);
    return { raw: statSync(file).size, gzip: Bun.gzipSync(bytes, { level: 9 }).length };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

async function cpuPerRequest(
  pid: number,
  url: string,
  seconds: number,
  headers: Record<string, string> = {},
): Promise<{ cpuMs: number; requests: number; idleMs: number; rps: number }> {
  const idleStart = cpuSeconds(pid);
  await Bun.sleep(seconds * 1000);
  const idle = cpuSeconds(pid) - idleStart;
  const start = cpuSeconds(pid);
  const load = await wrk(url, { connections: 4, threads: 1, seconds, headers });
  const busy = cpuSeconds(pid) - start;
  if (load.errors > 0) throw new Error(`${url}: ${load.errors} errors under load`);
  return {
    cpuMs: (Math.max(0, busy - idle) * 1000) / load.requests,
    requests: load.requests,
    idleMs: idle * 1000,
    rps: load.rps,
  };
}

export async function benchWorkers(options: { seconds: number }): Promise<Row[]> {
  const rows: Row[] = [];
  const plain = await bundle(false);
  const minified = await bundle(true);
  rows.push({
    bench: 'Worker bundle (wrangler deploy --dry-run)',
    measure: 'gzip',
    value: kib(plain.gzip),
    baseline: `raw ${kib(plain.raw)}`,
    ratio: fmt.ratio(plain.gzip, plain.raw),
  });
  rows.push({
    bench: 'Worker bundle, --minify',
    measure: 'gzip',
    value: kib(minified.gzip),
    baseline: `raw ${kib(minified.raw)}`,
    ratio: fmt.ratio(minified.gzip, minified.raw),
  });

  const cluster = await startPostgresCluster();
  try {
    const url = cluster.url();
    const database = openPostgres(url, { max: 2 });
    await migrate(database.db);
    const password = 'benchmark password';
    const user = (await createUser(database.db, {
      username: 'bench',
      passwordHash: await Bun.password.hash(password, { algorithm: 'bcrypt', cost: 4 }),
      role: 'operator',
    }))!;
    const { call } = await insertCall(database.db, {
      id: crypto.randomUUID(),
      ownerId: user.id,
      phoneNumber: '+15551234000',
      context: 'outbound-ivr',
      extension: 's',
      priority: 1,
      timeoutMs: 30_000,
    });
    await database.close();

    const before = new Set(processes().map((p) => p.pid));
    const api = await startWorkerdApi(
      {
        APP_ENV: 'test',
        BCRYPT_COST: '4',
        LOG_LEVEL: 'error',
        JWT_PRIVATE_KEY: JSON.stringify(await generateSigningJwk()),
        SIDECAR_URL: 'http://127.0.0.1:9',
        RATE_LIMIT_REQUESTS: '1000000',
      },
      url,
    );
    try {
      const res = await fetch(`${api.url}/api/v2/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'bench', password }),
      });
      if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
      const { access_token } = (await res.json()) as { access_token: string };
      const headers = { Authorization: `Bearer ${access_token}` };
      const target = `${api.url}/api/v2/calls/${call.id}`;
      const check = await fetch(target, { headers });
      if (check.status !== 200) throw new Error(`GET answered ${check.status}`);

      // The Worker's process is the one whose CPU grows with the requests; the other is wrangler's proxy.
      const pids = workerdPids(before);
      const warm = Object.fromEntries(pids.map((pid) => [pid, cpuSeconds(pid)]));
      await wrk(target, { connections: 4, threads: 1, seconds: 1, headers });
      const grown = pids.map((pid) => ({ pid, cpu: cpuSeconds(pid) - warm[pid]! }));
      grown.sort((a, b) => b.cpu - a.cpu);
      if (grown.length === 0) throw new Error('no workerd process found');

      for (const [pid, label] of grown.map((g, i) => [g.pid, i === 0 ? 'worker' : 'proxy'] as const)) {
        const health = await cpuPerRequest(pid, `${api.url}/health`, options.seconds);
        const get = await cpuPerRequest(pid, target, options.seconds, headers);
        rows.push({
          bench: `workerd CPU per request (${label} process)`,
          measure: 'GET /api/v2/calls/{id}',
          value: fmt.ms(get.cpuMs),
          baseline: `GET /health ${fmt.ms(health.cpuMs)}`,
          ratio: fmt.ratio(get.cpuMs, health.cpuMs),
        });
        if (label === 'worker') {
          rows.push({
            bench: 'workerd CPU per request (worker process)',
            measure: 'sample',
            value: `${get.requests} requests at ${fmt.rps(get.rps)}`,
            baseline: `idle ${fmt.ms(get.idleMs)} CPU per ${options.seconds} s`,
          });
        }
      }
    } finally {
      await api.stop();
    }
  } finally {
    cluster.stop();
  }
  return rows;
}
