import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bcryptCost } from '../../api/auth/passwords.ts';
import { openPglite } from '../../db/driver/pglite.ts';
import { getUserByUsername } from '../../db/queries/users.ts';

/**
 * `npm run user:create` as people use it: a child process on an embedded database, with flags, and
 * interactively through a pseudo-terminal.
 */
const ROOT = join(import.meta.dir, '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'outdial-cli-'));
  dirs.push(d);
  return d;
}

async function run(args: string[], dir: string, stdin = '') {
  const proc = Bun.spawn([BUN, 'api/cli/user-create.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dir, DATABASE_URL: '' },
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

async function userIn(dir: string, username: string) {
  const database = await openPglite(join(dir, 'pglite'));
  try {
    return await getUserByUsername(database.db, username);
  } finally {
    await database.close();
  }
}

describe('npm run user:create', () => {
  test('with flags: the password from stdin, hashed with bcrypt at cost 12', async () => {
    const dir = dataDir();
    const created = await run(
      ['--username', 'alice', '--role', 'operator', '--password-stdin'],
      dir,
      'a strong password\n',
    );
    expect(created.code).toBe(0);
    expect(created.out).toContain('created operator "alice"');
    expect(created.out).not.toContain('a strong password');
    const user = await userIn(dir, 'alice');
    expect(user).toMatchObject({ username: 'alice', role: 'operator', isActive: true });
    expect(bcryptCost(user!.passwordHash)).toBe(12);
    expect(await Bun.password.verify('a strong password', user!.passwordHash)).toBe(true);
  });

  test('a generated password is printed once; taken names and bad input exit 2 with a reason', async () => {
    const dir = dataDir();
    const gen = await run(['--username', 'bob', '--role', 'viewer', '--generate-password'], dir);
    expect(gen.code).toBe(0);
    const password = /password: (\S+)/.exec(gen.out)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(await Bun.password.verify(password!, (await userIn(dir, 'bob'))!.passwordHash)).toBe(true);
    const taken = await run(['--username', 'BOB', '--generate-password'], dir);
    expect(taken.code).toBe(2);
    expect(taken.err).toContain('is taken');
    for (const [args, stdin, why] of [
      [['--username', 'ab', '--generate-password'], '', 'username'],
      [['--username', 'carol', '--role', 'root', '--generate-password'], '', 'role must be one of'],
      [['--username', 'carol', '--password-stdin'], 'short\n', 'password'],
      [['--username', 'carol'], '', '--password-stdin or --generate-password'],
      [['--bogus'], '', 'user:create'],
    ] as const) {
      const res = await run([...args], dir, stdin);
      expect(res.code).toBe(2);
      expect(res.err).toContain(why);
    }
    expect(await userIn(dir, 'carol')).toBeNull();
  });

  test('interactively, at a terminal: asks for each value and does not echo the password', async () => {
    const dir = dataDir();
    // `script` gives the CLI a pseudo-terminal, as when a person runs it.
    const proc = Bun.spawn(['script', '-qfec', `${BUN} api/cli/user-create.ts`, '/dev/null'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dir, DATABASE_URL: '' },
      stdin: 'pipe',
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
    const answer = async (prompt: string, reply: string) => {
      const deadline = Date.now() + 20_000;
      while (!out.includes(prompt)) {
        if (Date.now() > deadline) throw new Error(`no prompt "${prompt}"; got ${JSON.stringify(out)}`);
        await Bun.sleep(20);
      }
      proc.stdin.write(reply);
      proc.stdin.flush();
    };
    await answer('Username: ', 'dave\n');
    await answer('Role [operator]: ', 'viewer\n');
    await answer('Password (empty to generate one): ', 'hunter2 but longer\r');
    expect(await proc.exited).toBe(0);
    expect(out).toContain('created viewer "dave"');
    expect(out).not.toContain('hunter2');
    const user = await userIn(dir, 'dave');
    expect(await Bun.password.verify('hunter2 but longer', user!.passwordHash)).toBe(true);
  });
});
