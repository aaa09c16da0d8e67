import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { bcryptCost } from '../../api/auth/passwords.ts';
import { UserSchema } from '../../api/routes/users/schema.ts';
import { MIGRATIONS_FOLDER, migrate } from '../../db/migrate.ts';
import { listAudit } from '../../db/queries/misc.ts';
import { rowsOf } from '../../db/queries/prepared.ts';
import { countActiveAdmins, getUserByUsername } from '../../db/queries/users.ts';
import { canonicalUsername } from '../../db/username.ts';
import { createTestDatabase } from '../harness/database.ts';
import {
  expectProblem,
  MODES,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

let stack: TestStack;
let admin: TestUser;

beforeAll(async () => {
  stack = await startTestStack();
  admin = await stack.user('admin');
}, 60_000);
afterAll(() => stack.stop());

const UserList = z.object({ items: z.array(UserSchema), next_cursor: z.string().nullable() });

for (const mode of MODES) {
  describe(`users (${mode})`, () => {
    test('an admin creates a user who can then log in with the role given', async () => {
      const username = `new-${crypto.randomUUID().slice(0, 8)}`;
      const { data, response } = await stack.client(admin.token, mode).POST('/api/v2/users', {
        body: { username, password: 'a long enough password', role: 'viewer' },
      });
      expect(response.status).toBe(201);
      const user = UserSchema.parse(data);
      expect(user).toMatchObject({ username, role: 'viewer', is_active: true, last_login_at: null });
      expect(JSON.stringify(user)).not.toContain('password');
      const row = await getUserByUsername(stack.database.db, username);
      expect(row!.passwordHash).toStartWith('$2');
      expect(bcryptCost(row!.passwordHash)).toBe(stack.config.BCRYPT_COST);
      expect((await stack.login(username, 'a long enough password', mode)).status).toBe(200);
      const audit = await listAudit(stack.database.db, 200);
      expect(
        audit.some((a) => a.action === 'user.create' && a.targetId === user.id && a.actorId === admin.id),
      ).toBe(true);
    });

    test('the role defaults to operator; duplicate usernames (any case) are 409', async () => {
      const username = `dup-${crypto.randomUUID().slice(0, 8)}`;
      const first = await stack.client(admin.token, mode).POST('/api/v2/users', {
        body: { username, password: 'password-1234' },
      });
      expect(UserSchema.parse(first.data).role).toBe('operator');
      const again = await stack.request(mode, '/api/v2/users', {
        token: admin.token,
        json: { username: username.toUpperCase(), password: 'password-1234' },
      });
      await expectProblem(again, 409, 'username_taken');
    });

    test('a name that folds to a taken one is refused, naming the field, and creates nothing', async () => {
      const username = `fold-${crypto.randomUUID().slice(0, 8)}`;
      const first = await stack.request(mode, '/api/v2/users', {
        token: admin.token,
        json: { username, password: 'password-1234' },
      });
      expect(first.status).toBe(201);
      const taken = await expectProblem(
        await stack.request(mode, '/api/v2/users', {
          token: admin.token,
          json: { username: `FOLD-${username.slice(5)}`, password: 'password-1234' },
        }),
        409,
        'username_taken',
      );
      expect(taken.errors?.map((e) => e.path)).toEqual(['body.username']);
      // Spellings outside the username alphabet (fullwidth, modifier letters) never get that far.
      for (const variant of [username.replace('f', '\uff46'), username.replace('o', '\u1d52')]) {
        const bad = await expectProblem(
          await stack.request(mode, '/api/v2/users', {
            token: admin.token,
            json: { username: variant, password: 'password-1234' },
          }),
          422,
          'validation_error',
        );
        expect(bad.errors?.map((e) => e.path)).toEqual(['body.username']);
      }
      const rows = rowsOf<{ n: number | string }>(
        await stack.database.db.execute(
          sql`select count(*) as n from users where username_canonical = ${canonicalUsername(username)}`,
        ),
      );
      expect(Number(rows[0]!.n)).toBe(1);
    });

    test('bad user input is 422', async () => {
      for (const body of [
        { username: 'ab', password: 'password-1234' },
        { username: 'has space', password: 'password-1234' },
        { username: 'x'.repeat(151), password: 'password-1234' },
        { username: 'ok-name', password: 'short' },
        { username: 'ok-name', password: 'é'.repeat(40) },
        { username: 'ok-name', password: 'password-1234', role: 'root' },
        { password: 'password-1234' },
      ]) {
        await expectProblem(
          await stack.request(mode, '/api/v2/users', { token: admin.token, json: body }),
          422,
          'validation_error',
        );
      }
    });

    test('list pages through users by name; get one; 404 for unknown, 422 for non-UUID', async () => {
      for (let i = 0; i < 3; i++) await stack.user('viewer');
      const api = stack.client(admin.token, mode);
      const names: string[] = [];
      let cursor: string | null = null;
      do {
        const query: { limit: number; cursor?: string } = cursor ? { limit: 2, cursor } : { limit: 2 };
        const page = UserList.parse((await api.GET('/api/v2/users', { params: { query } })).data);
        names.push(...page.items.map((u) => u.username));
        cursor = page.next_cursor;
      } while (cursor);
      expect(names.length).toBeGreaterThanOrEqual(4);
      expect([...names].sort()).toEqual(names);
      const one = await api.GET('/api/v2/users/{user_id}', { params: { path: { user_id: admin.id } } });
      expect(UserSchema.parse(one.data).username).toBe(admin.username);
      await expectProblem(
        await stack.request(mode, `/api/v2/users/${crypto.randomUUID()}`, { token: admin.token }),
        404,
        'user_not_found',
      );
      await expectProblem(
        await stack.request(mode, '/api/v2/users/nope', { token: admin.token }),
        422,
        'validation_error',
      );
      await expectProblem(
        await stack.request(mode, '/api/v2/users?cursor=%25%25', { token: admin.token }),
        422,
        'validation_error',
      );
    });

    test('change role, deactivate, reactivate', async () => {
      const u = await stack.user('operator');
      const api = stack.client(admin.token, mode);
      const params = { path: { user_id: u.id } };
      const promote = await api.PATCH('/api/v2/users/{user_id}', { params, body: { role: 'admin' } });
      expect(UserSchema.parse(promote.data).role).toBe('admin');
      expect((await stack.client(u.token, mode).GET('/api/v2/users')).response.status).toBe(200);
      const off = await api.PATCH('/api/v2/users/{user_id}', { params, body: { is_active: false } });
      expect(UserSchema.parse(off.data).is_active).toBe(false);
      await expectProblem(await stack.request(mode, '/api/v2/me', { token: u.token }), 401);
      const on = await api.PATCH('/api/v2/users/{user_id}', { params, body: { is_active: true } });
      expect(UserSchema.parse(on.data).is_active).toBe(true);
      expect((await stack.login(u.username, u.password, mode)).status).toBe(200);
      await expectProblem(
        await stack.request(mode, `/api/v2/users/${u.id}`, { method: 'PATCH', token: admin.token, json: {} }),
        422,
        'validation_error',
      );
      await expectProblem(
        await stack.request(mode, `/api/v2/users/${crypto.randomUUID()}`, {
          method: 'PATCH',
          token: admin.token,
          json: { role: 'viewer' },
        }),
        404,
      );
    });

    test('reset password: a given or a generated one; every old token stops working', async () => {
      const u = await stack.user('operator');
      const api = stack.client(admin.token, mode);
      const params = { path: { user_id: u.id } };
      const given = await api.POST('/api/v2/users/{user_id}/password', {
        params,
        body: { password: 'brand new password' },
      });
      expect(given.response.status).toBe(200);
      expect(given.data!.generated_password).toBeNull();
      await expectProblem(await stack.request(mode, '/api/v2/me', { token: u.token }), 401);
      await expectProblem(await stack.login(u.username, u.password, mode), 401);
      expect((await stack.login(u.username, 'brand new password', mode)).status).toBe(200);
      const generated = await api.POST('/api/v2/users/{user_id}/password', { params });
      const password = generated.data!.generated_password!;
      expect(password).toMatch(/^[A-Za-z0-9_-]{20}$/);
      expect((await stack.login(u.username, password, mode)).status).toBe(200);
    });

    test('non-admins get 403 on every /api/v2/users route; no token gets 401', async () => {
      const target = await stack.user('viewer');
      for (const role of ['operator', 'viewer'] as const) {
        const u = await stack.user(role);
        for (const [method, path, json] of [
          ['GET', '/api/v2/users', undefined],
          ['POST', '/api/v2/users', { username: 'sneaky', password: 'password-1234', role: 'admin' }],
          ['GET', `/api/v2/users/${target.id}`, undefined],
          ['PATCH', `/api/v2/users/${u.id}`, { role: 'admin' }],
          ['POST', `/api/v2/users/${target.id}/password`, { password: 'password-1234' }],
        ] as const) {
          await expectProblem(
            await stack.request(mode, path, { method, token: u.token, json }),
            403,
            'forbidden',
          );
          await expectProblem(await stack.request(mode, path, { method, json }), 401, 'invalid_token');
        }
        const me = await stack.request(mode, '/api/v2/me', { token: u.token });
        expect(((await me.json()) as { role: string }).role).toBe(role);
      }
      expect(await getUserByUsername(stack.database.db, 'sneaky')).toBeNull();
    });
  });
}

describe('the last admin', () => {
  test('cannot be demoted or deactivated', async () => {
    const lone = await startTestStack();
    try {
      const only = await lone.user('admin');
      await expectProblem(
        await lone.request('http', `/api/v2/users/${only.id}`, {
          method: 'PATCH',
          token: only.token,
          json: { role: 'operator' },
        }),
        409,
        'last_admin',
      );
      await expectProblem(
        await lone.request('http', `/api/v2/users/${only.id}`, {
          method: 'PATCH',
          token: only.token,
          json: { is_active: false },
        }),
        409,
        'last_admin',
      );
      const second = await lone.user('admin');
      const res = await lone.request('http', `/api/v2/users/${only.id}`, {
        method: 'PATCH',
        token: second.token,
        json: { role: 'operator' },
      });
      expect(res.status).toBe(200);
    } finally {
      await lone.stop();
    }
  });
});

describe('two admins at once', () => {
  test('two admins demoting or deactivating each other at once always leave one', async () => {
    const lone = await startTestStack();
    try {
      const a = await lone.user('admin');
      const b = await lone.user('admin');
      const relogin = async (u: TestUser) => {
        const res = await lone.login(u.username, u.password);
        expect(res.status).toBe(200);
        u.token = ((await res.json()) as { access_token: string }).access_token;
      };
      for (let round = 0; round < 24; round++) {
        const change = round % 2 === 0 ? { role: 'operator' } : { is_active: false };
        const patch = (actor: TestUser, target: TestUser, mode: 'http' | 'in-process') =>
          lone.request(mode, `/api/v2/users/${target.id}`, {
            method: 'PATCH',
            token: actor.token,
            json: change,
          });
        const [byA, byB] = await Promise.all([
          patch(a, b, 'http'),
          patch(b, a, round % 4 < 2 ? 'http' : 'in-process'),
        ]);
        const admins = await countActiveAdmins(lone.database.db);
        expect({ round, admins }).toEqual({ round, admins: 1 });
        // The other request is refused: the last admin (409), or no longer an admin (401/403).
        const statuses = [byA.status, byB.status];
        expect({ round, succeeded: statuses.filter((s) => s === 200).length }).toEqual({
          round,
          succeeded: 1,
        });
        expect(statuses.every((s) => [200, 401, 403, 409].includes(s))).toBe(true);
        const [survivor, other] = byA.status === 200 ? [a, b] : [b, a];
        const restore = await lone.request('http', `/api/v2/users/${other.id}`, {
          method: 'PATCH',
          token: survivor.token,
          json: { role: 'admin', is_active: true },
        });
        expect(restore.status).toBe(200);
        await relogin(other);
      }
    } finally {
      await lone.stop();
    }
  });
});

describe('the canonical username migration', () => {
  test('existing users get their canonical names, and log in by any spelling of them', async () => {
    // The migrations as they were before usernames had a canonical form.
    const before = mkdtempSync(join(tmpdir(), 'outdial-migrations-'));
    try {
      cpSync(MIGRATIONS_FOLDER, before, { recursive: true });
      const journalPath = join(before, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
      const upTo = journal.entries.findIndex((e) => e.tag === '0001_webhooks');
      journal.entries = journal.entries.slice(0, upTo + 1);
      writeFileSync(journalPath, JSON.stringify(journal));
      const database = await createTestDatabase(undefined, { migrationsFolder: before });
      try {
        const tag = crypto.randomUUID().slice(0, 8);
        const names = [
          `Alice-${tag}`,
          `BOB.Smith@Example-${tag}`,
          `carol_${tag}`,
          `\uff24\uff21\uff36\uff25-${tag}`,
        ];
        for (const name of names) {
          await database.db.execute(
            sql`insert into users (username, password_hash, role) values (${name}, 'x', 'operator')`,
          );
        }
        await migrate(database.db);
        const rows = rowsOf<{ username: string; username_canonical: string }>(
          await database.db.execute(sql`select username, username_canonical from users order by username`),
        );
        expect(rows.map((r) => r.username_canonical).sort()).toEqual(names.map(canonicalUsername).sort());
        for (const name of names) {
          expect((await getUserByUsername(database.db, name.toUpperCase()))?.username).toBe(name);
        }
      } finally {
        await database.close();
      }
    } finally {
      rmSync(before, { recursive: true, force: true });
    }
  });
});
