import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort } from '../harness/postgres.ts';

/**
 * `npm start` with no configuration at all: the launcher starts the ARI simulator, the API on the
 * embedded PGlite and the sidecar, creates the admin, prints how to log in; a call placed the way the
 * banner shows goes through to `completed`; a second start on the same data keeps the admin and keys.
 */
const ROOT = join(import.meta.dir, '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const dataDir = mkdtempSync(join(tmpdir(), 'outdial-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function launch(ports: { api: number; sidecar: number; sim: number }) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing from the test environment may configure it: the point is the defaults.
    if (v !== undefined && !/^(DATABASE_URL|JWT_|SIDECAR_|ARI_|ADMIN_|APP_ENV|TEST_)/.test(k)) env[k] = v;
  }
  const proc = Bun.spawn([BUN, 'api/entry/embedded.ts'], {
    cwd: ROOT,
    env: {
      ...env,
      DATA_DIR: dataDir,
      PORT: String(ports.api),
      SIDECAR_PORT: String(ports.sidecar),
      SIM_PORT: String(ports.sim),
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let out = '';
  void (async () => {
    const reader = proc.stdout.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
  })();
  void new Response(proc.stderr).text();
  const deadline = Date.now() + 60_000;
  while (!out.includes('Ctrl-C stops everything')) {
    if (Date.now() > deadline || proc.exitCode !== null)
      throw new Error(`npm start did not come up:\n${out}`);
    await Bun.sleep(50);
  }
  return { proc, banner: () => out };
}

async function stop(proc: Subprocess) {
  proc.kill('SIGTERM');
  return proc.exited;
}

describe('npm start on embedded defaults', () => {
  test('comes up, prints how to log in, places a call end to end, and keeps its data', async () => {
    const ports = { api: await freePort(), sidecar: await freePort(), sim: await freePort() };
    const first = await launch(ports);
    const base = `http://127.0.0.1:${ports.api}`;
    let password: string;
    try {
      const banner = first.banner();
      expect(banner).toContain(`${base}/console`);
      expect(banner).toContain(`${base}/docs`);
      expect(banner).toContain('ARI simulator');
      password = /Log in as "admin" with password: (\S+)/.exec(banner)?.[1] ?? '';
      expect(password).toMatch(/^[A-Za-z0-9_-]{20}$/);

      const login = await fetch(`${base}/api/v2/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'admin', password }),
      });
      expect(login.status).toBe(200);
      const token = ((await login.json()) as { access_token: string }).access_token;
      const placed = await fetch(`${base}/api/v2/calls`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ phone_number: '+15551234000' }),
      });
      expect(placed.status).toBe(200);
      const { call_id, status } = (await placed.json()) as { call_id: string; status: string };
      expect(status).toBe('dialing');
      // Real time: rings 1 s, answered, the IVR hangs up 2 s later.
      let call: { status: string; reason: string | null } = { status: '', reason: null };
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        call = (await (
          await fetch(`${base}/api/v2/calls/${call_id}`, { headers: { Authorization: `Bearer ${token}` } })
        ).json()) as typeof call;
        if (call.status === 'completed') break;
        await Bun.sleep(200);
      }
      expect(call).toMatchObject({ status: 'completed', reason: 'normal' });
      const ready = (await (await fetch(`${base}/readiness`)).json()) as { status: string };
      expect(ready.status).toBe('ready');
    } finally {
      expect(await stop(first.proc)).toBe(0);
    }

    const second = await launch(ports);
    try {
      expect(second.banner()).not.toContain('with password:');
      const login = await fetch(`${base}/api/v2/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'admin', password }),
      });
      expect(login.status).toBe(200);
      const token = ((await login.json()) as { access_token: string }).access_token;
      const list = (await (
        await fetch(`${base}/api/v2/calls`, { headers: { Authorization: `Bearer ${token}` } })
      ).json()) as {
        items: { status: string }[];
      };
      expect(list.items.map((c) => c.status)).toEqual(['completed']);
    } finally {
      expect(await stop(second.proc)).toBe(0);
    }
  }, 120_000);
});
