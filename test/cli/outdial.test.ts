import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { API_KEY_PATTERN, SCOPES, TERMINAL_STATUSES } from '../../api/shared/contract/index.ts';
import { auditLog } from '../../db/schema.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';
import { ROOT } from '../harness/util.ts';

/**
 * `outdial` as operators run it: a child process with its own home, against the real API (on
 * PostgreSQL), the real sidecar and the ARI simulator. It reaches the server only through the API
 * with the key it stored; every outcome is read back through the API.
 */
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const dirs: string[] = [];
let stack: E2EStack;
let admin: TestUser;
let operator: TestUser;

beforeAll(async () => {
  stack = await startE2EStack();
  admin = await stack.user('admin');
  operator = await stack.user('operator');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A home of its own: the config file goes under it ($XDG_CONFIG_HOME). */
function home(): string {
  const d = mkdtempSync(join(tmpdir(), 'outdial-home-'));
  dirs.push(d);
  return d;
}

interface Run {
  code: number;
  out: string;
  err: string;
}

async function outdial(
  args: string[],
  options: { home?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.OUTDIAL_URL;
  delete env.OUTDIAL_API_KEY;
  const dir = options.home ?? home();
  const proc = Bun.spawn([BUN, 'api/cli/outdial.ts', ...args], {
    cwd: ROOT,
    env: { ...env, HOME: dir, XDG_CONFIG_HOME: join(dir, '.config'), ...options.env },
    stdin: new TextEncoder().encode(options.stdin ?? ''),
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, out, err };
}

/** `outdial login` with a password on stdin, as a script does it. */
async function login(user: TestUser, dir = home()): Promise<string> {
  const res = await outdial(
    ['login', '--url', stack.apiUrl, '--username', user.username, '--password-stdin'],
    { home: dir, stdin: `${user.password}\n` },
  );
  expect(res).toMatchObject({ code: 0 });
  return dir;
}

const configFile = (dir: string) => join(dir, '.config', 'outdial', 'config.json');

async function apiKey(user: TestUser, scopes: string[]): Promise<{ id: string; key: string }> {
  const res = await stack.request('/api/v2/keys', { token: user.token, json: { name: 'test', scopes } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string };
}

async function callsOf(user: TestUser): Promise<{ call_id: string; status: string }[]> {
  const res = await stack.request('/api/v2/calls?limit=100', { token: user.token });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: { call_id: string; status: string }[] }).items;
}

describe('outdial login and logout', () => {
  test('login stores the server and a new key (never the password) owner-only; the key works and has the role’s scopes', async () => {
    const dir = home();
    // A file left readable by others is replaced by an owner-only one.
    mkdirSync(join(dir, '.config', 'outdial'), { recursive: true, mode: 0o700 });
    writeFileSync(configFile(dir), 'left over', { mode: 0o644 });
    const person = await stack.user('operator');
    const res = await outdial(
      ['login', '--url', stack.apiUrl, '--username', person.username, '--password-stdin', '--json'],
      { home: dir, stdin: `${person.password}\n` },
    );
    expect(res.code).toBe(0);
    const said = JSON.parse(res.out) as { url: string; username: string; key_id: string; scopes: string[] };
    expect(said).toMatchObject({ url: stack.apiUrl, username: person.username });

    const file = configFile(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, '.config', 'outdial')).mode & 0o777).toBe(0o700);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(person.password);
    const stored = JSON.parse(text) as { url: string; key: string };
    expect(stored.url).toBe(stack.apiUrl);
    expect(stored.key).toMatch(API_KEY_PATTERN);
    expect(stored.key).toContain(said.key_id);
    // The key is shown nowhere: not on stdout, not on stderr.
    expect(res.out + res.err).not.toContain(stored.key);

    const me = await stack.request('/api/v2/me', { token: stored.key });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { username: string }).username).toBe(person.username);
    const keys = await outdial(['keys', 'list', '--json'], { home: dir });
    expect(keys.code).toBe(0);
    const listed = (JSON.parse(keys.out) as { items: { id: string; name: string; scopes: string[] }[] })
      .items;
    const mine = listed.find((k) => k.id === said.key_id)!;
    expect(mine.name).toStartWith('outdial CLI on ');
    expect(mine.scopes.toSorted()).toEqual(SCOPES.filter((s) => s !== 'users:admin').toSorted());
    // The login that minted the key was ended at once: the key is the only credential left.
    const revokes = await stack.database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.actorId, person.id), eq(auditLog.action, 'auth.revoke')));
    expect(revokes.length).toBe(1);
  }, 60_000);

  test('a wrong password exits 1 with the problem and writes no file', async () => {
    const dir = home();
    const res = await outdial(
      ['login', '--url', stack.apiUrl, '--username', operator.username, '--password-stdin'],
      { home: dir, stdin: 'not the password\n' },
    );
    expect(res.code).toBe(1);
    expect(res.err).toContain('error: 401');
    expect(existsSync(configFile(dir))).toBe(false);
  }, 60_000);

  test('login --key stores that key; logout revokes it on the server and deletes the file', async () => {
    const dir = home();
    const { id, key } = await apiKey(operator, ['calls:read']);
    const res = await outdial(['login', '--url', stack.apiUrl, '--key', key], { home: dir });
    expect(res.code).toBe(0);
    expect(res.out).toContain(`as ${operator.username}`);
    expect(JSON.parse(readFileSync(configFile(dir), 'utf8'))).toEqual({ url: stack.apiUrl, key });

    const out = await outdial(['logout'], { home: dir });
    expect(out.code).toBe(0);
    expect(out.out).toContain(`API key ${id} revoked`);
    expect(existsSync(configFile(dir))).toBe(false);
    expect((await stack.request('/api/v2/me', { token: key })).status).toBe(401);
    // Logged out, a command is a usage error that says how to log in.
    const after = await outdial(['calls', 'list'], { home: dir });
    expect(after.code).toBe(2);
    expect(after.err).toContain('outdial login');
  }, 60_000);
});

describe('outdial refuses as the API does', () => {
  test('a calls:read key cannot place a call: exit 1 with the 403 problem, and no call is made', async () => {
    const viewerOf = await stack.user('operator');
    const { key } = await apiKey(viewerOf, ['calls:read']);
    const res = await outdial(['calls', 'place', '+15551234000'], {
      env: { OUTDIAL_URL: stack.apiUrl, OUTDIAL_API_KEY: key },
    });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^error: 403 Forbidden: .+/m);
    expect(res.err).toContain('calls:write');
    expect(res.err).toMatch(/\(request [^)]+\)/);
    expect(res.out).toBe('');
    expect(await callsOf(viewerOf)).toEqual([]);
  }, 60_000);

  test('a revoked key: exit 1 with the 401 problem and what to do', async () => {
    const { id, key } = await apiKey(operator, ['calls:read']);
    const env = { OUTDIAL_URL: stack.apiUrl, OUTDIAL_API_KEY: key };
    expect((await outdial(['calls', 'list'], { env })).code).toBe(0);
    const revoked = await outdial(['keys', 'revoke', id], { home: await login(operator) });
    expect(revoked.code).toBe(0);
    expect(revoked.out).toContain(`API key ${id}`);
    const res = await outdial(['calls', 'list'], { env });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^error: 401 /m);
    expect(res.err).toContain('run outdial login again');
    expect(res.out).toBe('');
  }, 60_000);

  test('a key revoked while it follows a call: the stream ends and follow exits 1 saying so', async () => {
    const dir = await login(operator);
    const { key } = JSON.parse(readFileSync(configFile(dir), 'utf8')) as { key: string };
    // Ends in 2: it rings until its ring timeout (ten minutes here), long after the key is gone.
    const placed = await outdial(['calls', 'place', '+15551234002', '--timeout', '600000', '--json'], {
      home: dir,
    });
    expect(placed.code).toBe(0);
    const { call_id } = JSON.parse(placed.out) as { call_id: string };

    const proc = Bun.spawn([BUN, 'api/cli/outdial.ts', 'calls', 'follow', call_id], {
      cwd: ROOT,
      env: {
        ...process.env,
        OUTDIAL_URL: '',
        OUTDIAL_API_KEY: '',
        HOME: dir,
        XDG_CONFIG_HOME: join(dir, '.config'),
      },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const err = new Response(proc.stderr).text();
    let out = '';
    const reader = proc.stdout.getReader();
    while (!/ ringing\s*$/m.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`follow ended before the call rang: ${out} ${await err}`);
      out += new TextDecoder().decode(value);
    }
    const keyId = API_KEY_PATTERN.exec(key)![1]!;
    const revoked = await stack.request(`/api/v2/keys/${keyId}`, { method: 'DELETE', token: operator.token });
    expect(revoked.status).toBe(200);
    expect(await proc.exited).toBe(1);
    expect(await err).toMatch(/^error: 401 /m);
    expect(await err).toContain('run outdial login again');
    expect((await stack.getCall(operator, call_id)).status).toBe('ringing');
    await stack.hangup(operator, call_id);
  }, 60_000);

  test('a field the API refuses is named', async () => {
    const dir = await login(admin);
    const res = await outdial(['users', 'create', '--username', 'x', '--generate-password'], { home: dir });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^error: 422 /m);
    expect(res.err).toMatch(/^ {2}body\.username: .+/m);
  }, 60_000);

  test('an unknown command, a missing argument or a bad option exits 2 with the usage', async () => {
    for (const [args, said, usage] of [
      [[], 'no command given', 'Usage: outdial <command>'],
      [['dial'], 'unknown command "dial"', 'Usage: outdial <command>'],
      [['calls'], 'calls: no command given', 'Usage: outdial calls <command>'],
      [['calls', 'ring'], 'unknown command "calls ring"', 'Usage: outdial calls <command>'],
      [['calls', 'show'], 'missing CALL_ID', 'Usage: outdial calls show CALL_ID'],
      [['campaigns', 'import', 'c1'], 'missing FILE.csv', 'Usage: outdial campaigns import'],
      [['calls', 'list', '--bogus'], '--bogus', 'Usage: outdial calls list'],
      [['calls', 'show', 'a', 'b'], 'unexpected argument "b"', 'Usage: outdial calls show'],
      [['login'], '--url', ''],
    ] as const) {
      const res = await outdial([...args]);
      expect({ args, code: res.code }).toEqual({ args, code: 2 });
      expect(res.err).toContain(said);
      expect(res.err).toContain(usage);
      expect(res.err).not.toMatch(/^\s+at /m);
    }
    const help = await outdial(['campaigns', 'import', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: outdial campaigns import CAMPAIGN_ID FILE.csv');
  }, 60_000);
});

describe('outdial at work', () => {
  test('--json prints what the API answered, and it parses', async () => {
    const dir = await login(admin);
    const users = await outdial(['users', 'list', '--json', '--limit', '100'], { home: dir });
    expect(users.code).toBe(0);
    const names = (JSON.parse(users.out) as { items: { username: string }[] }).items.map((u) => u.username);
    expect(names).toContain(admin.username);
    const table = await outdial(['users', 'list', '--limit', '100'], { home: dir });
    expect(table.out.split('\n')[0]).toMatch(/^ID\s+USERNAME\s+ROLE\s+ACTIVE/);
    expect(table.out).toContain(admin.username);

    const created = await outdial(
      ['users', 'create', '--username', `svc-${crypto.randomUUID().slice(0, 6)}`, '--no-login', '--json'],
      { home: dir },
    );
    expect(created.code).toBe(0);
    const user = JSON.parse(created.out) as { id: string; can_login: boolean };
    expect(user.can_login).toBe(false);
    const disabled = await outdial(['users', 'disable', user.id, '--json'], { home: dir });
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.out)).toMatchObject({ id: user.id, is_active: false });

    const flowFile = join(dir, 'flow.json');
    writeFileSync(flowFile, JSON.stringify({ name: 'bye', steps: [{ verb: 'hangup', cause: 16 }] }));
    const flow = await outdial(['flows', 'create', '--file', flowFile, '--json'], { home: dir });
    expect(flow.code).toBe(0);
    const { flow_id } = JSON.parse(flow.out) as { flow_id: string };
    const flowShown = await outdial(['flows', 'show', flow_id, '--json'], { home: dir });
    expect(JSON.parse(flowShown.out)).toMatchObject({ flow_id, name: 'bye', steps: [{ verb: 'hangup' }] });

    for (const args of [
      ['calls', 'list'],
      ['flows', 'list'],
      ['campaigns', 'list'],
      ['keys', 'list'],
    ]) {
      const res = await outdial([...args, '--json'], { home: dir });
      expect({ args, code: res.code }).toEqual({ args, code: 0 });
      expect(Array.isArray((JSON.parse(res.out) as { items: unknown[] }).items)).toBe(true);
    }
  }, 60_000);

  test('calls follow prints each event and ends at the call’s final status', async () => {
    const dir = await login(operator);
    const placed = await outdial(['calls', 'place', '+15551234000', '--json'], { home: dir });
    expect(placed.code).toBe(0);
    const { call_id } = JSON.parse(placed.out) as { call_id: string };

    const followed = await outdial(['calls', 'follow', call_id], { home: dir });
    expect(followed.code).toBe(0);
    const lines = followed.out.trim().split('\n');
    expect(lines.at(-1)).toStartWith(`Call ${call_id} ended completed`);
    // Every event of the call's log, in order, once.
    const log = await stack.events(operator, call_id);
    expect(lines.slice(0, -1).map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual(
      log.map((e) => e.sequence),
    );
    expect((await stack.getCall(operator, call_id)).status).toBe('completed');

    // Placed and followed in one go, as JSON: one document with the final call and its events.
    const both = await outdial(['calls', 'place', '+15551234001', '--follow', '--json'], { home: dir });
    expect(both.code).toBe(0);
    const doc = JSON.parse(both.out) as { call: { status: string }; events: { status: string }[] };
    expect(TERMINAL_STATUSES).toContain(doc.call.status as (typeof TERMINAL_STATUSES)[number]);
    expect(doc.events.at(-1)!.status).toBe(doc.call.status);

    const shown = await outdial(['calls', 'show', call_id], { home: dir });
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/^status:\s+completed$/m);

    // A call that is not there: the API's refusal, at once, not a stream that never speaks.
    const missing = await outdial(['calls', 'follow', crypto.randomUUID()], { home: dir });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('404');
  }, 60_000);

  test('campaigns create, import with progress and rejected rows, show, cancel and results', async () => {
    const dir = await login(operator);
    const spec = join(dir, 'campaign.json');
    writeFileSync(
      spec,
      JSON.stringify({
        name: 'cli import',
        timezone: 'UTC',
        windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' }],
      }),
    );
    const created = await outdial(['campaigns', 'create', '--file', spec, '--json'], { home: dir });
    expect(created.code).toBe(0);
    const { campaign_id } = JSON.parse(created.out) as { campaign_id: string };

    // Large enough to go up in several chunks, with bad rows among the good.
    const rows: string[] = [];
    const rejected: Record<number, string> = {};
    for (let i = 0; i < 4000; i++) {
      rows.push(`+1555300${String(i).padStart(4, '0')},,${'x'.repeat(40)}${i}`);
      if (i === 10) {
        rejected[rows.length + 1] = 'phone_number';
        rows.push('555-CALL-NOW,,bad');
      }
      if (i === 3000) {
        rejected[rows.length + 1] = 'Mars/Olympus';
        rows.push('+15553999999,Mars/Olympus,bad');
      }
    }
    const csv = join(dir, 'contacts.csv');
    writeFileSync(csv, `phone_number,timezone,NOTE\r\n${rows.join('\r\n')}\r\n`);
    const size = statSync(csv).size;

    const res = await outdial(['campaigns', 'import', campaign_id, csv], { home: dir });
    expect(res.code).toBe(0);
    const progress = res.err.split('\n').filter((l) => l.startsWith('sent '));
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toStartWith(`sent ${size} of ${size} bytes`);
    const sent = progress.map((l) => Number(/^sent (\d+)/.exec(l)![1]));
    expect(sent).toEqual(sent.toSorted((a, b) => a - b));
    expect(res.out).toContain('accepted 4000, merged 0, rejected 2');
    const table = res.out.slice(res.out.indexOf('rejected rows:'));
    for (const [row, why] of Object.entries(rejected)) {
      expect(table).toMatch(new RegExp(`^${row}\\s+.*${why.replace('/', '\\/')}`, 'm'));
    }

    // The same file again, as JSON: every row merged, the same two rejected.
    const again = await outdial(['campaigns', 'import', campaign_id, csv, '--json'], { home: dir });
    expect(again.code).toBe(0);
    const report = JSON.parse(again.out) as { merged: number; rejected: { row: number }[] };
    expect(report.merged).toBe(4000);
    expect(report.rejected.map((r) => r.row)).toEqual(Object.keys(rejected).map(Number));

    const shown = await outdial(['campaigns', 'show', campaign_id], { home: dir });
    expect(shown.out).toMatch(/^state:\s+draft$/m);
    expect(shown.out).toMatch(/^total\s+4000$/m);
    const canceled = await outdial(['campaigns', 'cancel', campaign_id], { home: dir });
    expect(canceled.code).toBe(0);
    expect(canceled.out).toBe(`Campaign ${campaign_id} is canceled.\n`);
    const results = await outdial(['campaigns', 'results', campaign_id], { home: dir });
    expect(results.code).toBe(0);
    const lines = results.out.trim().split('\r\n');
    expect(lines[0]).toStartWith('phone_number,state,attempts');
    expect(lines.length).toBe(4001);
    // A missing file is the command line's fault.
    const missing = await outdial(['campaigns', 'import', campaign_id, join(dir, 'nope.csv')], { home: dir });
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('nope.csv');
  }, 60_000);

  test('dnc add, check, list, import in batches (a refused line named, its batch left out) and remove', async () => {
    const dir = await login(operator);
    const added = await outdial(['dnc', 'add', '+15550700000', '--note', 'asked on the phone'], {
      home: dir,
    });
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/^number:\s+\+15550700000$/m);
    expect(added.out).toMatch(/^note:\s+asked on the phone$/m);
    const yes = await outdial(['dnc', 'check', '+15550700000', '--json'], { home: dir });
    expect(JSON.parse(yes.out)).toMatchObject({ listed: true, entry: { phone_number: '+15550700000' } });
    const no = await outdial(['dnc', 'check', '+15550799999'], { home: dir });
    expect(no).toMatchObject({ code: 0, out: '+15550799999 is not on the do-not-call list.\n' });

    // 10,001 numbers (the first already listed), a comment and a blank line: two batches.
    const file = join(dir, 'dnc.txt');
    const numbers = Array.from({ length: 10_001 }, (_, i) => `+155507${String(i).padStart(5, '0')}`);
    writeFileSync(
      file,
      `# from the complaints desk\n\n${numbers.map((n, i) => (i === 5 ? `${n}, by letter` : n)).join('\n')}\n`,
    );
    const imported = await outdial(['dnc', 'import', file, '--json'], { home: dir });
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.out)).toEqual({ received: 10_001, added: 10_000, already_listed: 1 });
    const fifth = await outdial(['dnc', 'check', numbers[5]!, '--json'], { home: dir });
    expect((JSON.parse(fifth.out) as { entry: { note: string } }).entry.note).toBe('by letter');
    const progress = await outdial(['dnc', 'import', file], { home: dir });
    expect(progress.err).toContain('10000 of 10001 rows sent');
    expect(progress.out).toBe('0 added, 10001 already listed, of 10001 rows.\n');

    // A refused row: its line named, and nothing of its batch added.
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, '+15550780001\nnot a number\n+15550780002\n');
    const refused = await outdial(['dnc', 'import', bad], { home: dir });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('line 2: not a number:');
    const none = await outdial(['dnc', 'check', '+15550780001', '--json'], { home: dir });
    expect(JSON.parse(none.out)).toEqual({ listed: false });

    const listed = await outdial(['dnc', 'list', '--limit', '3', '--json'], { home: dir });
    const page = JSON.parse(listed.out) as { items: { phone_number: string }[]; next_cursor: string | null };
    expect(page.items).toHaveLength(3);
    expect(page.next_cursor).not.toBeNull();

    // Only an admin takes a number off.
    const forbidden = await outdial(['dnc', 'remove', '+15550700000'], { home: dir });
    expect(forbidden.code).toBe(1);
    expect(forbidden.err).toContain('403');
    const adminDir = await login(admin);
    const removed = await outdial(['dnc', 'remove', '+15550700000'], { home: adminDir });
    expect(removed).toMatchObject({ code: 0, out: '+15550700000 is no longer on the do-not-call list.\n' });
    const gone = await outdial(['dnc', 'check', '+15550700000', '--json'], { home: dir });
    expect(JSON.parse(gone.out)).toEqual({ listed: false });
  }, 60_000);

  test('calls hangup cancels a ringing call, which ends canceled', async () => {
    const dir = await login(operator);
    // Ends in 2: it rings until its ring timeout (ten minutes here).
    const placed = await outdial(['calls', 'place', '+15551234002', '--timeout', '600000', '--json'], {
      home: dir,
    });
    expect(placed.code).toBe(0);
    const { call_id } = JSON.parse(placed.out) as { call_id: string };
    const hung = await outdial(['calls', 'hangup', call_id], { home: dir });
    expect(hung.code).toBe(0);
    expect(hung.out).toStartWith(`Hang-up requested for call ${call_id}: `);
    const followed = await outdial(['calls', 'follow', call_id, '--json'], { home: dir });
    expect((JSON.parse(followed.out) as { call: { status: string } }).call.status).toBe('canceled');
    const again = await outdial(['calls', 'hangup', crypto.randomUUID()], { home: dir });
    expect(again.code).toBe(1);
    expect(again.err).toContain('404');
  }, 60_000);
});
