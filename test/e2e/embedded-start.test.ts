import { afterAll, describe, expect, test } from 'bun:test';
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { sharedTestDatabase } from '../harness/database.ts';
import { freePort } from '../harness/util.ts';

/**
 * `npm start` on a fresh data folder, as seen from outside: the first admin can log in at the very
 * moment the API first answers /health and /readiness (fresh starts, a password from ADMIN_PASSWORD
 * that is never printed); what it writes in the data folder is owner-only even under `umask 000`;
 * a second `npm start` on the same folder refuses and leaves the first one serving. With DATABASE_URL,
 * `npm run user:create` beside it works as before: Postgres takes care of concurrent use.
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

interface Ports {
  api: number;
  sidecar: number;
  sim: number;
}

const freePorts = async (): Promise<Ports> => ({
  api: await freePort(),
  sidecar: await freePort(),
  sim: await freePort(),
});

/** Starts the launcher under `umask 000`, so that every mode it gets is one it set itself. */
function launch(dataDir: string, ports: Ports, adminPassword: string, extra: Record<string, string> = {}) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(DATABASE_URL|JWT_|SIDECAR_|ARI_|ADMIN_|APP_ENV|TEST_)/.test(k)) env[k] = v;
  }
  const proc = Bun.spawn(['sh', '-c', 'umask 000; exec "$0" api/entry/embedded.ts', BUN], {
    cwd: ROOT,
    env: {
      ...env,
      DATA_DIR: dataDir,
      PORT: String(ports.api),
      SIDECAR_PORT: String(ports.sidecar),
      SIM_PORT: String(ports.sim),
      ADMIN_PASSWORD: adminPassword,
      ...extra,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  procs.push(proc);
  let out = '';
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  return {
    proc,
    base: `http://127.0.0.1:${ports.api}`,
    output: () => out,
    async stop() {
      proc.kill('SIGTERM');
      const code = await proc.exited;
      await drained;
      return code;
    },
  };
}

/** Polls `url` as fast as the API can answer until it gives `status`; gives up after 60 s. */
async function firstAnswer(url: string, status: number) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === status) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(2);
  }
  throw new Error(`${url} never answered ${status}`);
}

async function loginStatuses(base: string, password: string, n: number) {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(`${base}/api/v2/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'admin', password }),
      });
      await res.arrayBuffer();
      return res.status;
    }),
  );
}

/** Every folder and file under `dir` whose mode is not owner-only, with its mode. */
function notOwnerOnly(dir: string): string[] {
  const wrong: string[] = [];
  const visit = (path: string) => {
    const st = lstatSync(path);
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      if (mode !== 0o700) wrong.push(`${path} ${mode.toString(8)}`);
      for (const name of readdirSync(path)) visit(join(path, name));
    } else if (mode !== 0o600) {
      wrong.push(`${path} ${mode.toString(8)}`);
    }
  };
  visit(dir);
  return wrong;
}

async function waitForBanner(stack: ReturnType<typeof launch>) {
  const deadline = Date.now() + 60_000;
  while (!stack.output().includes('Ctrl-C stops everything')) {
    if (Date.now() > deadline || stack.proc.exitCode !== null)
      throw new Error(`npm start did not come up:\n${stack.output()}`);
    await Bun.sleep(20);
  }
}

describe('npm start on a fresh data folder', () => {
  test('the first admin logs in the moment /health and /readiness first answer; ADMIN_PASSWORD is never printed', async () => {
    for (let start = 0; start < 3; start++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'outdial-fresh-'));
      dirs.push(dataDir);
      const password = `secret-${crypto.randomUUID()}`;
      const stack = launch(dataDir, await freePorts(), password);
      try {
        await firstAnswer(`${stack.base}/health`, 200);
        expect({ start, at: 'health', logins: await loginStatuses(stack.base, password, 3) }).toEqual({
          start,
          at: 'health',
          logins: [200, 200, 200],
        });
        await firstAnswer(`${stack.base}/readiness`, 200);
        expect({ start, at: 'readiness', logins: await loginStatuses(stack.base, password, 3) }).toEqual({
          start,
          at: 'readiness',
          logins: [200, 200, 200],
        });
        await waitForBanner(stack);
        expect(stack.output()).toContain('Log in as "admin" with the password in ADMIN_PASSWORD');
      } finally {
        expect(await stack.stop()).toBe(0);
      }
      expect(stack.output()).not.toContain(password);
    }
  }, 240_000);

  test('the data folder is owner-only under umask 000, and a second npm start on it refuses', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outdial-modes-'));
    dirs.push(dataDir);
    const password = `secret-${crypto.randomUUID()}`;
    const first = launch(dataDir, await freePorts(), password);
    try {
      await waitForBanner(first);
      const names = readdirSync(dataDir).sort();
      // The keys, the database and the sidecar's outbox (and the lock): all of it checked below.
      expect(names).toEqual(expect.arrayContaining(['keys', 'pglite', 'sidecar-default.sqlite']));
      expect(notOwnerOnly(dataDir)).toEqual([]);
      expect(names).toContain('outdial.lock');

      const secondPorts = await freePorts();
      const second = launch(dataDir, secondPorts, password);
      const exited = await Promise.race([second.proc.exited, Bun.sleep(60_000).then(() => 'still running')]);
      await second.stop();
      expect(exited).not.toBe('still running');
      expect(exited).not.toBe(0);
      expect(second.output()).toContain(`is in use by another Outdial process (pid ${first.proc.pid}`);
      expect(second.output()).not.toMatch(/^\s+at /m);
      // It started nothing: no simulator on its port, and the first stack still serves its admin.
      await expect(fetch(`http://127.0.0.1:${secondPorts.sim}/ari/asterisk/ping`)).rejects.toThrow();
      expect(await loginStatuses(first.base, password, 1)).toEqual([200]);
      expect((await fetch(`${first.base}/readiness`)).status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    expect(notOwnerOnly(dataDir)).toEqual([]);
  }, 120_000);

  test('with DATABASE_URL, user:create beside a running npm start creates a user it serves at once', async () => {
    const database = await sharedTestDatabase();
    const dataDir = mkdtempSync(join(tmpdir(), 'outdial-pg-'));
    dirs.push(dataDir);
    const password = `secret-${crypto.randomUUID()}`;
    const stack = launch(dataDir, await freePorts(), password, { DATABASE_URL: database.url! });
    try {
      await waitForBanner(stack);
      const cli = (env: Record<string, string>) => {
        const proc = Bun.spawn(
          [BUN, 'api/cli/user-create.ts', '--username', 'alice', '--role', 'operator', '--password-stdin'],
          {
            cwd: ROOT,
            env: { ...process.env, DATA_DIR: dataDir, ...env },
            stdin: new TextEncoder().encode('alice password 123\n'),
            stdout: 'pipe',
            stderr: 'pipe',
          },
        );
        return Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      };
      // Without DATABASE_URL it would open the folder's embedded database, which npm start owns.
      const [, refusedErr, refusedCode] = await cli({ DATABASE_URL: '' });
      expect(refusedCode).toBe(1);
      expect(refusedErr).toContain('is in use by another Outdial process');
      const [out, err, code] = await cli({ DATABASE_URL: database.url! });
      expect({ out, err, code }).toMatchObject({ code: 0, err: '' });
      expect(out).toContain('created operator "alice"');
      const login = await fetch(`${stack.base}/api/v2/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'alice', password: 'alice password 123' }),
      });
      expect(login.status).toBe(200);
    } finally {
      expect(await stack.stop()).toBe(0);
      await database.close();
    }
    expect(stack.output()).not.toContain(password);
  }, 120_000);
});
