import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort } from '../harness/util.ts';

/**
 * `npm start` with no configuration at all: the launcher starts the ARI simulator, the API on the
 * embedded PGlite and the sidecar, creates the admin, prints how to log in; a call placed the way the
 * banner shows goes through to `completed`; a second start on the same data keeps the admin and keys;
 * the README's curl examples run against it as written.
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
  const errors = new Response(proc.stderr).text();
  const deadline = Date.now() + 60_000;
  while (!out.includes('Ctrl-C stops everything')) {
    if (Date.now() > deadline || proc.exitCode !== null)
      throw new Error(`npm start did not come up:\n${out}`);
    await Bun.sleep(50);
  }
  return { proc, banner: () => out, everything: async () => out + (await errors) };
}

/**
 * Runs the README's "With curl" block with bash, real curl and jq against `base`, changing only the
 * lines that set `B` and `PASSWORD`. Every curl also reports its HTTP status on stderr; a last
 * request checks that the block's final step, revoking the token, took effect.
 */
async function runReadmeCurl(base: string, password: string) {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /### With curl\n\n```sh\n([\s\S]*?)\n```/.exec(readme)?.[1];
  if (!block) throw new Error('README has no "With curl" sh block');
  const script = block
    .replace(/^B=http:\/\/127\.0\.0\.1:8000$/m, `B=${base}`)
    .replace(/^PASSWORD=….*$/m, `PASSWORD='${password}'`);
  expect(script).toContain(`B=${base}\n`);
  expect(script).toContain(`PASSWORD='${password}'\n`);
  const requests = block.match(/\bcurl -s\b/g)?.length ?? 0;
  const proc = Bun.spawn(
    [
      'bash',
      '-c',
      [
        'set -euo pipefail',
        `curl() { command curl -w '%{stderr}%{http_code} %{method} %{url_effective}\\n' "$@"; echo; }`,
        script,
        'command curl -s -o /dev/null -w \'%{http_code}\' "$B/api/v2/me" -H "Authorization: Bearer $TOKEN" >&2',
      ].join('\n'),
    ],
    { cwd: mkdtempSync(join(tmpdir(), 'outdial-curl-')), stdout: 'pipe', stderr: 'pipe' },
  );
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code, requests };
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
    // The generated password is shown once, in the banner, and nowhere else (no log line).
    expect((await first.everything()).split(password).length - 1).toBe(1);

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

      const curl = await runReadmeCurl(base, password);
      expect(curl.code).toBe(0);
      const lines = curl.stderr.trim().split('\n');
      // One status line per request of the block, every one a success, then the revoked token's 401.
      expect(lines).toHaveLength(curl.requests + 1);
      expect(lines.slice(0, -1).filter((l) => !/^2\d\d /.test(l))).toEqual([]);
      expect(lines.at(-1)).toBe('401');
      const answers = curl.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(answers[0]).toMatchObject({ success: true, phone_number: '+15551234002', error: null });
      expect(answers[1]).toMatchObject({ success: true, phone_number: '5551234001' });
      expect(answers[2]).toMatchObject({
        call_id: answers[0]!.call_id,
        caller_id: 'Contact Center <5550001111>',
      });
      expect(answers).toContainEqual(expect.objectContaining({ username: 'alice', role: 'operator' }));
      expect(answers.at(-1)).toMatchObject({ revoked: true });
    } finally {
      expect(await stop(second.proc)).toBe(0);
    }
    expect(await second.everything()).not.toContain(password);
  }, 120_000);
});
