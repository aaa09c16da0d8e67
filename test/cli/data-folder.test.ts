import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { openPglite } from '../../db/driver/pglite.ts';
import { getUserByUsername } from '../../db/queries/users.ts';
import { freePort } from '../harness/util.ts';

/**
 * One process owns an embedded data folder. A real API server (`npm run api` on PGlite) holds it;
 * `npm run user:create` and `npm run db:migrate` beside it, and a second server on the same folder,
 * refuse with a clear message and a non-zero exit and change nothing. Once the server stops (or is
 * killed with kill -9) the folder is free again, and what the CLI creates then is durable and visible
 * through the API.
 */
const ROOT = join(import.meta.dir, '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const dirs: string[] = [];
const procs: Subprocess[] = [];
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'outdial-lock-'));
  dirs.push(d);
  return d;
}

function baseEnv(dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(DATABASE_URL|JWT_|SIDECAR_|ADMIN_|APP_ENV|TEST_)/.test(k)) env[k] = v;
  }
  return { ...env, DATA_DIR: dir };
}

async function run(cmd: string[], dir: string, stdin = '') {
  const proc = Bun.spawn([BUN, ...cmd], {
    cwd: ROOT,
    env: baseEnv(dir),
    stdin: new TextEncoder().encode(stdin),
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { out, err, code };
}

const createUser = (dir: string, username: string, role = 'operator') =>
  run(
    ['api/cli/user-create.ts', '--username', username, '--role', role, '--password-stdin'],
    dir,
    `${username} password 123\n`,
  );

/** Starts `bun api/entry/bun.ts` on the folder; resolves once it answers /health, or with its exit. */
async function startServer(dir: string) {
  const port = await freePort();
  const proc = Bun.spawn([BUN, 'api/entry/bun.ts'], {
    cwd: ROOT,
    env: {
      ...baseEnv(dir),
      APP_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  procs.push(proc);
  const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]).then(
    ([o, e]) => o + e,
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && proc.exitCode === null) {
    try {
      if ((await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  return { proc, base, output, listening: proc.exitCode === null };
}

async function login(base: string, username: string) {
  const res = await fetch(`${base}/api/v2/token`, {
    method: 'POST',
    body: new URLSearchParams({ username, password: `${username} password 123` }),
  });
  return {
    status: res.status,
    token: res.ok ? ((await res.json()) as { access_token: string }).access_token : '',
  };
}

async function usernames(base: string, token: string): Promise<string[]> {
  const res = await fetch(`${base}/api/v2/users?limit=100`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: { username: string }[] }).items.map((u) => u.username);
}

async function userIn(dir: string, username: string) {
  const database = await openPglite(join(dir, 'pglite'));
  try {
    return await getUserByUsername(database.db, username);
  } finally {
    await database.close();
  }
}

describe('one process owns an embedded data folder', () => {
  test('user:create and db:migrate beside a running server refuse and change nothing; afterwards the user is created, durable and visible', async () => {
    const dir = dataDir();
    expect((await createUser(dir, 'root', 'admin')).code).toBe(0);
    const server = await startServer(dir);
    expect(server.listening).toBe(true);

    // Several at once, as people (and scripts) do.
    const refused = await Promise.all([
      createUser(dir, 'alice'),
      createUser(dir, 'bob'),
      createUser(dir, 'carol'),
      run(['api/cli/migrate.ts'], dir),
    ]);
    for (const r of refused) {
      expect(r.code).not.toBe(0);
      expect(r.out).not.toContain('created');
      expect(r.out).not.toContain('applied');
      expect(r.err).toContain(`is in use by another Outdial process (pid ${server.proc.pid}`);
      expect(r.err).not.toMatch(/^\s+at /m);
    }
    expect(refused[0]!.err).toContain('POST /api/v2/users');
    expect(refused[0]!.err).toContain('stop');
    // The lock names the server, the owner.
    const lockFile = join(dir, 'outdial.lock');
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: server.proc.pid });

    const root = await login(server.base, 'root');
    expect(root.status).toBe(200);
    expect(await usernames(server.base, root.token)).toEqual(['root']);
    expect((await login(server.base, 'alice')).status).toBe(401);

    server.proc.kill('SIGTERM');
    expect(await server.proc.exited).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
    expect(await userIn(dir, 'alice')).toBeNull();

    const created = await createUser(dir, 'alice');
    expect(created.code).toBe(0);
    expect(created.out).toContain('created operator "alice"');
    const again = await startServer(dir);
    expect(again.listening).toBe(true);
    try {
      const alice = await login(again.base, 'alice');
      expect(alice.status).toBe(200);
      expect(await usernames(again.base, (await login(again.base, 'root')).token)).toEqual(['alice', 'root']);
    } finally {
      again.proc.kill('SIGTERM');
      expect(await again.proc.exited).toBe(0);
    }
  }, 120_000);

  test('a second server on the same folder refuses clearly; the first keeps serving', async () => {
    const dir = dataDir();
    expect((await createUser(dir, 'root', 'admin')).code).toBe(0);
    const first = await startServer(dir);
    expect(first.listening).toBe(true);
    try {
      const second = await startServer(dir);
      expect(second.listening).toBe(false);
      expect(await second.proc.exited).not.toBe(0);
      const said = await second.output;
      expect(said).toContain(`is in use by another Outdial process (pid ${first.proc.pid}`);
      expect(said).not.toMatch(/^\s+at /m);
      expect((await login(first.base, 'root')).status).toBe(200);
    } finally {
      first.proc.kill('SIGTERM');
      expect(await first.proc.exited).toBe(0);
    }
  }, 120_000);

  test('after the owner is killed with kill -9, its lock is recovered', async () => {
    const dir = dataDir();
    const server = await startServer(dir);
    expect(server.listening).toBe(true);
    server.proc.kill('SIGKILL');
    await server.proc.exited;
    expect(existsSync(join(dir, 'outdial.lock'))).toBe(true);

    const created = await createUser(dir, 'dave');
    expect(created.code).toBe(0);
    expect(await userIn(dir, 'dave')).toMatchObject({ username: 'dave' });
    expect(existsSync(join(dir, 'outdial.lock'))).toBe(false);
  }, 120_000);
});
