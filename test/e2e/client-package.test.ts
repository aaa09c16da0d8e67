import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningJwk, loadSigningKey } from '../../api/shared/base/keys.ts';
import { signWebhook } from '../../api/webhooks/signature.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';
import { ROOT } from '../harness/util.ts';

/**
 * The client as its users get it: `npm pack` of api/client/ (which builds it), installed from the
 * tarball into an empty project outside the repository (openapi-fetch from the registry, the npm
 * cache first), and the README's example run there as written, with plain `node` and with `bun`,
 * against the real API, sidecar and simulator: it places a call, follows it on the live stream to
 * `completed` and lists calls page by page. A TypeScript file using the package type-checks there
 * against its published types alone.
 */

const CLIENT_DIR = join(ROOT, 'api', 'client');
const work = mkdtempSync(join(tmpdir(), 'outdial-client-pack-'));
const project = join(work, 'project');
let stack: E2EStack;
let op: TestUser;

async function run(cmd: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 120_000) {
  const proc = Bun.spawn(cmd, {
    cwd,
    env: { ...process.env, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
  });
  const timer = setTimeout(() => proc.kill(), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function must(cmd: string[], cwd: string) {
  const r = await run(cmd, cwd);
  if (r.code !== 0) throw new Error(`${cmd.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The README's example, the first js block after its "Example" heading. */
function readmeExample(): string {
  const readme = readFileSync(join(CLIENT_DIR, 'README.md'), 'utf8');
  const code = /## Example[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!code) throw new Error('api/client/README.md has no js example under "## Example"');
  return code;
}

beforeAll(async () => {
  const [, started] = await Promise.all([
    (async () => {
      await must(['npm', 'pack', '--pack-destination', work], CLIENT_DIR);
      const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
      if (!tarball) throw new Error('npm pack made no tarball');
      await Bun.write(join(project, 'package.json'), '{ "name": "uses-outdial", "private": true }\n');
      await must(
        ['npm', 'install', '--prefer-offline', '--no-audit', '--no-fund', join(work, tarball)],
        project,
      );
      writeFileSync(join(project, 'example.mjs'), readmeExample());
    })(),
    startE2EStack(),
  ]);
  stack = started;
  op = await stack.user('operator');
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** What the example printed: the call it placed, the events it saw, how it ended, the calls listed. */
function checkRun(r: { code: number; stdout: string; stderr: string }) {
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const lines = r.stdout.trimEnd().split('\n');
  const placed = /^placed ([0-9a-f-]{36}) \((dialing|pending)\), idempotency key [0-9a-f-]{36}$/.exec(
    lines[0]!,
  );
  expect(placed).not.toBeNull();
  const callId = placed![1]!;
  expect(lines).toContain('ended completed (normal)');
  // Every event of the call once, in order: those before the stream opened from the call's log.
  expect(lines.filter((l) => l.includes(' → '))).toEqual([
    '  created → pending',
    '  dialing → dialing',
    '  ringing → ringing',
    '  answered → answered',
    '  ended → completed',
  ]);
  // The call just placed is the newest of the user's calls: the first the iterator gives.
  const listed = lines.slice(lines.indexOf('ended completed (normal)') + 1);
  expect(listed[0]).toContain(callId);
  return { callId, listed };
}

describe('the packed client in an empty project', () => {
  test('installs with openapi-fetch as its only dependency', () => {
    const installed = JSON.parse(
      readFileSync(join(project, 'node_modules', '@outdial', 'client', 'package.json'), 'utf8'),
    );
    expect(Object.keys(installed.dependencies)).toEqual(['openapi-fetch']);
    const modules = readdirSync(join(project, 'node_modules')).filter((name) => !name.startsWith('.'));
    expect(modules.sort()).toEqual(['@outdial', 'openapi-fetch', 'openapi-typescript-helpers'].sort());
  });

  test("the README's example on plain Node, with an API key", async () => {
    const res = await stack.request('/api/v2/keys', {
      token: op.token,
      json: { name: 'package example', scopes: ['calls:read', 'calls:write'] },
    });
    expect(res.status).toBe(201);
    const { key } = (await res.json()) as { key: string };
    expect(key.startsWith('odk_live_')).toBe(true);
    const r = await run(['node', 'example.mjs'], project, {
      OUTDIAL_URL: stack.apiUrl,
      OUTDIAL_API_KEY: key,
      PHONE_NUMBER: '+15551234000',
    });
    checkRun(r);
  }, 120_000);

  test("the README's example on Bun, logging in with a password; the iterator pages through", async () => {
    // More calls than one page of the example's `limit: 20`, so the listing crosses pages.
    for (let i = 0; i < 21; i++) {
      expect((await stack.placeCall(op, { phone_number: `+1555123410${i % 10}` })).status).toBe(200);
    }
    const r = await run([process.execPath, 'example.mjs'], project, {
      OUTDIAL_URL: stack.apiUrl,
      OUTDIAL_USERNAME: op.username,
      OUTDIAL_PASSWORD: op.password,
      PHONE_NUMBER: '+15551234000',
    });
    const { listed } = checkRun(r);
    // The 21 calls above, the example's calls from both runs: 23 listed, each once.
    expect(listed.length).toBe(23);
    expect(new Set(listed.map((l) => l.trim().split(/\s+/)[1])).size).toBe(23);
  }, 120_000);

  test('verifyWebhook on Node and on Bun checks what the API signs', async () => {
    const key = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
    const body = JSON.stringify({ type: 'call.status', call: { status: 'completed' } });
    const script = `import { verifyWebhook } from '@outdial/client';
const keys = JSON.parse(process.env.KEYS);
const { HEADER: header, BODY: body } = process.env;
const results = [
  await verifyWebhook({ header, body, keys }),
  await verifyWebhook({ header, body: body.replace('completed', 'failed'), keys }),
  await verifyWebhook({ header, body, keys: [] }),
];
console.log(JSON.stringify(results.map((r) => r.ok || r.reason)));
`;
    writeFileSync(join(project, 'verify.mjs'), script);
    const env = { KEYS: JSON.stringify([key.publicJwk]), HEADER: await signWebhook(key, body), BODY: body };
    for (const runtime of ['node', process.execPath]) {
      const r = await run([runtime, 'verify.mjs'], project, env);
      expect({ runtime, code: r.code, out: r.stdout.trim() }).toEqual({
        runtime,
        code: 0,
        out: JSON.stringify([true, 'bad signature', 'unknown key']),
      });
    }
  }, 60_000);

  test('a TypeScript user type-checks against the published types alone', async () => {
    writeFileSync(
      join(project, 'use.ts'),
      `import { createOutdialClient, listCalls, placeCall, type Call } from '@outdial/client';
const api = createOutdialClient({ baseUrl: 'http://127.0.0.1:8000', token: 'odk_live_x' });
const { call } = await placeCall(api, { phone_number: '+15551234000' });
let first: Call | undefined;
for await (const c of listCalls(api, { status: 'completed' })) first ??= c;
// @ts-expect-error: no such path
await api.GET('/api/v2/nowhere');
// @ts-expect-error: a status the API does not have
listCalls(api, { status: 'finished' });
export { call, first };
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          types: [],
          strict: true,
          noEmit: true,
        },
        files: ['use.ts'],
      }),
    );
    writeFileSync(
      join(project, 'package.json'),
      '{ "name": "uses-outdial", "private": true, "type": "module" }\n',
    );
    const r = await run([join(ROOT, 'node_modules', '.bin', 'tsc'), '-p', 'tsconfig.json'], project);
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: '' });
  }, 60_000);
});
