import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Subprocess, spawn } from 'bun';
import { freePort } from './util.ts';
import { startWsProxy, type WsProxy } from './ws-proxy.ts';

/**
 * The API under `wrangler dev` (workerd, the Workers runtime) for the contract tests: the Workers
 * entry of wrangler.toml, its configuration in an env file, its database the throwaway Postgres
 * reached through the loopback WebSocket proxy, everything wrangler keeps in a temporary directory.
 * A second request for the same configuration gets the running instance.
 */
export interface WorkerdApi {
  readonly url: string;
  stop(): Promise<void>;
}

const root = new URL('../..', import.meta.url).pathname;
const READY_TIMEOUT_MS = 60_000;

interface Instance {
  url: string;
  refs: number;
  stop(): Promise<void>;
}

const running = new Map<string, Promise<Instance>>();
/** wrangler processes not stopped yet: killed with their children when the test process exits. */
const live = new Set<number>();
process.on('exit', () => {
  for (const pid of live) {
    for (const child of [...descendants(pid), pid]) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

/** Starts (or shares) a workerd API with `env`; `databaseUrl` must be a loopback postgres:// URL. */
export async function startWorkerdApi(env: Record<string, string>, databaseUrl: string): Promise<WorkerdApi> {
  const key = JSON.stringify([databaseUrl, Object.entries(env).sort()]);
  let pending = running.get(key);
  if (!pending) {
    pending = launch(env, databaseUrl);
    running.set(key, pending);
    pending.catch(() => running.delete(key));
  }
  const instance = await pending;
  instance.refs++;
  let stopped = false;
  return {
    url: instance.url,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (--instance.refs > 0) return;
      running.delete(key);
      await instance.stop();
    },
  };
}

/** Every process below `root`, read from /proc (Linux). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name may hold spaces and parentheses: the fields after its closing one are fixed.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

function envFile(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([name, value]) => {
      if (value.includes("'") || value.includes('\n'))
        throw new Error(`${name}: cannot be written to an env file`);
      return `${name}='${value}'`;
    })
    .join('\n');
}

async function launch(env: Record<string, string>, databaseUrl: string): Promise<Instance> {
  const db = new URL(databaseUrl);
  const proxy: WsProxy = await startWsProxy({ targets: [`${db.hostname}:${db.port}`] });
  const dir = mkdtempSync(join(tmpdir(), 'outdial-workerd-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'test.env'),
    envFile({ ...env, DATABASE_URL: databaseUrl, NEON_WS_PROXY: proxy.address }),
    { mode: 0o600 },
  );
  const log = join(dir, 'wrangler.log');
  let proc: Subprocess;
  try {
    proc = spawn(
      [
        'node',
        join(root, 'node_modules/wrangler/bin/wrangler.js'),
        'dev',
        '--config',
        join(root, 'wrangler.toml'),
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--env-file',
        join(dir, 'test.env'),
        '--persist-to',
        join(dir, 'state'),
        '--show-interactive-dev-session=false',
        '--log-level',
        'warn',
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          // wrangler's own settings, logs and metrics consent stay in the temporary directory.
          XDG_CONFIG_HOME: dir,
          WRANGLER_LOG_PATH: join(dir, 'logs'),
          WRANGLER_SEND_METRICS: 'false',
          // No request.cf from Cloudflare: tests run offline, and a slow DNS answer would delay the start.
          CLOUDFLARE_CF_FETCH_ENABLED: 'false',
          CI: 'true',
        },
        stdin: 'ignore',
        stdout: Bun.file(log),
        stderr: Bun.file(join(dir, 'wrangler.err')),
      },
    );
  } catch (error) {
    await proxy.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = `http://127.0.0.1:${port}`;
  live.add(proc.pid);
  const stop = async () => {
    // wrangler runs its CLI, workerd and esbuild as children; none of them may outlive the tests.
    const family = descendants(proc.pid);
    proc.kill('SIGTERM');
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
    if (!exited) proc.kill('SIGKILL');
    await proc.exited;
    live.delete(proc.pid);
    for (const pid of family) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await proxy.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const started = performance.now();
  while (performance.now() - started < READY_TIMEOUT_MS) {
    if (proc.exitCode !== null) break;
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return { url, refs: 0, stop };
    } catch {
      // not listening yet
    }
    await Bun.sleep(100);
  }
  const output = [log, join(dir, 'wrangler.err')]
    .map((file) => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    })
    .join('\n')
    .slice(-4000);
  await stop();
  throw new Error(`wrangler dev did not become ready (exit code ${proc.exitCode}):\n${output}`);
}
