import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { generateSigningJwk } from '../../api/shared/base/keys.ts';
import { freePort } from '../harness/util.ts';
import type { GoalResult } from './goals.ts';

/** Shared pieces of the benchmarks: wrk runs, child processes, memory readings, the results table. */

export const ROOT = join(import.meta.dir, '..', '..');
export const BUN = join(ROOT, 'node_modules', '.bin', 'bun');

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/**
 * Runs wrk against `url` and parses its latency distribution. It runs as a child process while this
 * event loop stays free (side loads, such as logins, keep going during the measurement).
 */
export async function wrk(
  url: string,
  options: { connections: number; threads?: number; seconds: number; headers?: Record<string, string> },
): Promise<LoadResult> {
  const args = [
    `-t${Math.min(options.threads ?? 2, options.connections)}`,
    `-c${options.connections}`,
    // wrk takes whole seconds only (`-d2.5s` is a usage error).
    `-d${Math.max(1, Math.round(options.seconds))}s`,
    '--latency',
    ...Object.entries(options.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    url,
  ];
  const proc = Bun.spawn(['wrk', ...args], { stdout: 'pipe', stderr: 'pipe' });
  const [text, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`wrk failed: ${err || text}`);
  const pct = (p: string) => toMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(text)?.[1] ?? '');
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50: pct('50'), p99: pct('99'), requests, errors };
}

export interface Child {
  proc: Subprocess;
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts a Bun program as a child process and waits until `readyPath` answers. */
export async function startChild(
  script: string,
  env: Record<string, string>,
  readyPath = '/health',
  bunArgs: string[] = [],
): Promise<Child> {
  const port = Number(env.PORT ?? (await freePort()));
  const proc = Bun.spawn([BUN, ...bunArgs, script], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdout: 'ignore',
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}${readyPath}`);
      if (res.status < 500) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${script} did not start`);
    await Bun.sleep(100);
  }
  return {
    proc,
    url,
    port,
    async stop() {
      proc.kill('SIGTERM');
      await proc.exited;
    },
  };
}

/** Resident memory of a process in MiB (from /proc). */
export function rssMiB(pid: number): number {
  try {
    const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string;
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

const CLOCK_TICKS_PER_S = 100;

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat; NaN if gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/** The pids of `parent`'s children (from /proc), e.g. the backends of a PostgreSQL postmaster. */
export function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) pids.push(Number(name));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

/** CPU used so far by the API, the sidecar and the database's processes (postmaster and backends), read together. */
export function stackCpuMs(api: Child, sidecar: Child, postmaster: number) {
  const db = [postmaster, ...childPids(postmaster)].reduce((sum, pid) => sum + (cpuMs(pid) || 0), 0);
  return { api: cpuMs(api.proc.pid), sidecar: cpuMs(sidecar.proc.pid), db };
}

/** The pid of a throwaway cluster's postmaster (its backends are its children). */
export function postmasterPid(cluster: { dir: string }): number {
  return Number(readFileSync(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** The `p`th percentile of `values` (nearest rank; NaN when there are none). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface Row {
  bench: string;
  measure: string;
  value: string;
  baseline?: string;
  ratio?: string;
  /** A goal's outcome (goals.ts): printed in the goals table, not among the figures. */
  goal?: GoalResult;
}

/** The row that carries a goal's outcome. */
export const goalRow = (goal: GoalResult): Row => ({ bench: '', measure: '', value: '', goal });

export const fmt = {
  rps: (n: number) => `${Math.round(n).toLocaleString('en-US')} req/s`,
  ms: (n: number) => `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`,
  mib: (n: number) => `${n.toFixed(0)} MiB`,
  ratio: (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '—'),
};

export function table(rows: Row[]): string {
  const head = ['bench', 'measure', 'value', 'baseline (same run)', 'ratio'];
  const cells = rows
    .filter((r) => !r.goal)
    .map((r) => [r.bench, r.measure, r.value, r.baseline ?? '', r.ratio ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** Writes the run's markdown and its JSON side by side in bench-results/; answers the markdown's path. */
export function writeResults(name: string, text: string, json?: unknown): string {
  const dir = join(ROOT, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  writeFileSync(`${file}.md`, text);
  if (json !== undefined) writeFileSync(`${file}.json`, `${JSON.stringify(json, null, 2)}\n`);
  return `${file}.md`;
}

/**
 * The environment of an API child process for a bench: production mode, a real PostgreSQL, fresh
 * keys, no sidecar behind it, rate and login limits out of the way; `extra` adds or overrides.
 */
export async function benchApiEnv(
  url: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  return {
    APP_ENV: 'production',
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    JWT_PRIVATE_KEY: JSON.stringify(await generateSigningJwk()),
    SIDECAR_PUBLIC_KEY: JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: (await generateSigningJwk()).x }),
    SIDECAR_URL: 'http://127.0.0.1:9',
    LOG_LEVEL: 'error',
    RATE_LIMIT_REQUESTS: '1000000',
    MAX_FAILED_LOGIN_ATTEMPTS: '1000',
    MAX_FAILED_LOGINS_PER_ADDRESS: '100000',
    ...extra,
  };
}
