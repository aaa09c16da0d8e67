import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './util.ts';

/**
 * A throwaway PostgreSQL cluster for the tests: initdb into a temporary directory (as the
 * `postgres` user when run as root, since initdb refuses root), started on a free loopback port,
 * removed again by stop().
 */
export interface PostgresCluster {
  url: (database?: string) => string;
  port: number;
  dir: string;
  /**
   * `pg_ctl restart` without blocking this process: `fast` ends every session with an error
   * first, `immediate` stops the way a crash does. Resolves once the server accepts connections.
   */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  stop(): void;
}

function binDir(): string {
  const fromEnv = process.env.PG_BINDIR;
  if (fromEnv && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  const out = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (out.status === 0 && existsSync(join(out.stdout.trim(), 'initdb'))) return out.stdout.trim();
  for (const v of ['17', '16', '15', '14']) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  throw new Error(
    'PostgreSQL server programs (initdb, pg_ctl) not found; install postgresql or set PG_BINDIR',
  );
}

function run(asPostgres: boolean, cmd: string, args: string[]) {
  const full = asPostgres ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const out = spawnSync(full[0] as string, full[1] as string[], { encoding: 'utf8' });
  if (out.status !== 0) {
    throw new Error(`${cmd} failed (${out.status}): ${out.stderr || out.stdout}`);
  }
  return out.stdout;
}

export interface ClusterOptions {
  /** Loads pg_stat_statements (benchmarks count the statements a request makes). */
  statementStats?: boolean;
  /**
   * Commits are on disk before they are acknowledged (synchronous_commit=on), so that a crash
   * (`restart('immediate')`) loses none. Off by default: faster, and nothing else needs it.
   */
  durable?: boolean;
}

export async function startPostgresCluster(options: ClusterOptions = {}): Promise<PostgresCluster> {
  const bin = binDir();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'outdial-pg-'));
  chmodSync(dir, 0o777);
  if (asRoot) spawnSync('chown', ['postgres', dir]);
  const data = join(dir, 'data');
  run(asRoot, join(bin, 'initdb'), [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'outdial',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ]);
  const port = await freePort();
  run(asRoot, join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-t',
    '30',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=${options.durable ? 'on' : 'off'} -c full_page_writes=off -c max_connections=300${options.statementStats ? ' -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all' : ''}`,
    'start',
  ]);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run(asRoot, join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const restart = async (mode: 'fast' | 'immediate' = 'fast') => {
    const args = [
      join(bin, 'pg_ctl'),
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-m',
      mode,
      '-w',
      '-t',
      '30',
      'restart',
    ];
    const proc = Bun.spawn(asRoot ? ['runuser', '-u', 'postgres', '--', ...args] : args, {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [code, out, err] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    if (code !== 0) throw new Error(`pg_ctl restart failed (${code}): ${err || out}`);
  };
  return {
    url: (db = 'postgres') => `postgres://outdial@127.0.0.1:${port}/${db}`,
    port,
    dir,
    restart,
    stop,
  };
}

/**
 * Removes the cluster once this process is gone. `bun test` runs no exit handlers, so a small
 * watchdog shell stops it (immediate shutdown) and removes its folder after this process exits.
 * It runs in a session of its own: whatever ends this process's group must not end it first.
 */
export function removeWhenProcessEnds(cluster: PostgresCluster): PostgresCluster {
  const watchdog = Bun.spawn(
    [
      'setsid',
      'sh',
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; ' +
        'pid=$(head -n 1 "$2/data/postmaster.pid" 2>/dev/null); ' +
        '[ -n "$pid" ] && kill -QUIT "$pid"; sleep 1; rm -rf "$2"',
      'watchdog',
      String(process.pid),
      cluster.dir,
    ],
    { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
  );
  watchdog.unref();
  return cluster;
}
