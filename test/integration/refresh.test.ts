import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { and, eq, sql } from 'drizzle-orm';
import { listAudit } from '../../db/queries/misc.ts';
import { refreshTokens } from '../../db/schema.ts';
import {
  expectProblem,
  MODES,
  type Mode,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

/**
 * Refresh tokens (RFC 9700 §4.14): rotation, reuse revoking the whole family with its access tokens,
 * concurrent uses of one token, the family's absolute end, and every way a session ends.
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 60_000);
afterAll(() => stack.stop());

interface Pair {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
}

function refreshRequest(mode: Mode, refreshToken: string, extra: Record<string, string> = {}) {
  return stack.request(mode, '/api/v2/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': 'refresh-test/1' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      ...extra,
    }).toString(),
  });
}

async function refreshOk(mode: Mode, refreshToken: string): Promise<Pair> {
  const res = await refreshRequest(mode, refreshToken);
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return (await res.json()) as Pair;
}

async function meStatus(mode: Mode, token: string): Promise<number> {
  return (await stack.request(mode, '/api/v2/me', { token })).status;
}

async function familyRows(refreshTokenOwner: TestUser) {
  return stack.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, refreshTokenOwner.id));
}

for (const mode of MODES) {
  describe(`refresh (${mode})`, () => {
    test('a login answers a refresh token; refreshing rotates it and gives a working access token', async () => {
      const u = await stack.user('operator');
      const res = await stack.login(u.username, u.password, mode);
      const login = (await res.json()) as Pair;
      expect(login.refresh_token).toMatch(/^odrt_[A-Za-z0-9_-]{43}$/);
      expect(login.refresh_expires_in).toBe(stack.config.REFRESH_TOKEN_TTL);
      expect(login.expires_in).toBe(stack.config.ACCESS_TOKEN_EXPIRE_MINUTES * 60);

      const next = await refreshOk(mode, login.refresh_token);
      expect(next.token_type).toBe('bearer');
      expect(next.refresh_token).not.toBe(login.refresh_token);
      expect(next.access_token).not.toBe(login.access_token);
      // The family's end stays where the login put it.
      expect(next.refresh_expires_in).toBeLessThanOrEqual(login.refresh_expires_in);
      expect(await meStatus(mode, next.access_token)).toBe(200);
      const third = await refreshOk(mode, next.refresh_token);
      expect(await meStatus(mode, third.access_token)).toBe(200);

      // Stored hashed, with who asked for it; one family, a chain of parents.
      const rows = (await familyRows(u)).sort((a, b) => a.issuedAt.getTime() - b.issuedAt.getTime());
      // Two families: the harness's own login (one row), and this one (three).
      expect(new Set(rows.map((r) => r.familyId)).size).toBe(2);
      const chain = rows.filter((r) => rows.filter((o) => o.familyId === r.familyId).length === 3);
      expect(chain).toHaveLength(3);
      expect(chain[0]!.id).toBe(chain[0]!.familyId);
      expect(chain[0]!.parentId).toBeNull();
      expect(chain[1]!.parentId).toBe(chain[0]!.id);
      expect(chain[2]!.parentId).toBe(chain[1]!.id);
      expect(chain[0]!.usedAt).not.toBeNull();
      expect(chain[2]!.usedAt).toBeNull();
      expect(chain[1]!.userAgent).toBe('refresh-test/1');
      const stored = JSON.stringify(rows);
      for (const t of [login.refresh_token, next.refresh_token, third.refresh_token]) {
        expect(stored).not.toContain(t);
        expect(stored).not.toContain(t.slice(5));
      }
    });

    test('reuse of a used refresh token revokes the whole family and its access tokens, and is audited', async () => {
      const u = await stack.user('operator');
      const login = (await (await stack.login(u.username, u.password, mode)).json()) as Pair;
      const second = await refreshOk(mode, login.refresh_token);
      const third = await refreshOk(mode, second.refresh_token);
      expect(await meStatus(mode, third.access_token)).toBe(200);

      // The first token again: someone holds a copy.
      const reuse = await refreshRequest(mode, login.refresh_token);
      const p = await expectProblem(reuse, 401, 'invalid_token');
      expect(p.detail).toContain('log in again');

      // The newest token of the family and every access token issued in it are refused.
      await expectProblem(await refreshRequest(mode, third.refresh_token), 401, 'invalid_token');
      await expectProblem(await refreshRequest(mode, second.refresh_token), 401, 'invalid_token');
      for (const access of [login.access_token, second.access_token, third.access_token]) {
        expect(await meStatus(mode, access)).toBe(401);
      }
      // Another session of the same person (the harness's login) goes on.
      expect(await meStatus(mode, u.token)).toBe(200);
      expect((await refreshOk(mode, u.refreshToken)).access_token).toBeTruthy();

      const audit = (await listAudit(stack.database.db, 500)).find(
        (a) => a.action === 'auth.refresh_reuse' && a.targetId === u.id,
      );
      expect(audit).toBeDefined();
      expect(audit!.details).toMatchObject({ revoked_access_tokens: 3 });
      expect(JSON.stringify(audit)).not.toContain(login.refresh_token);
    });

    test('logging out (revoking the access token) ends its session; a refresh token can be revoked itself', async () => {
      const u = await stack.user('operator');
      const a = await refreshOk(mode, u.refreshToken);
      const revoke = await stack.request(mode, '/api/v2/token/revoke', { token: a.access_token, json: {} });
      expect(revoke.status).toBe(200);
      await expectProblem(await refreshRequest(mode, a.refresh_token), 401, 'invalid_token');
      // The login's first access token came from the same session.
      expect(await meStatus(mode, u.token)).toBe(401);

      const b = (await (await stack.login(u.username, u.password, mode)).json()) as Pair;
      const byRefresh = await stack.request(mode, '/api/v2/token/revoke', {
        token: b.access_token,
        json: { token: b.refresh_token },
      });
      expect(byRefresh.status).toBe(200);
      await expectProblem(await refreshRequest(mode, b.refresh_token), 401, 'invalid_token');
      expect(await meStatus(mode, b.access_token)).toBe(401);
    });

    test("another user's refresh token cannot be revoked by you, and a shaped but unknown one is not yours either", async () => {
      const me = await stack.user('operator');
      const other = await stack.user('viewer');
      for (const token of [other.refreshToken, `odrt_${'A'.repeat(43)}`]) {
        const res = await stack.request(mode, '/api/v2/token/revoke', { token: me.token, json: { token } });
        const p = await expectProblem(res, 422, 'validation_error');
        expect(p.errors?.[0]?.path).toBe('body.token');
      }
      expect((await refreshOk(mode, other.refreshToken)).access_token).toBeTruthy();
    });

    test('hostile refresh tokens answer 4xx problem+json, never 5xx', async () => {
      const u = await stack.user('viewer');
      const hostile = [
        'garbage',
        'odrt_',
        `odrt_${'A'.repeat(42)}`,
        `odrt_${'A'.repeat(44)}`,
        `odrt_${'A'.repeat(43)}`,
        `odrt_${'+'.repeat(43)}`,
        u.token, // an access token is not a refresh token
        u.refreshToken.toUpperCase(),
        `${u.refreshToken} `,
        `${u.refreshToken}\u0000`,
        'x'.repeat(60_000),
        "' or 1=1 --",
        '\u{1F600}'.repeat(100),
      ];
      for (const token of hostile) {
        await expectProblem(await refreshRequest(mode, token), 401, 'invalid_token');
      }
      const form = (body: string) =>
        stack.request(mode, '/api/v2/token', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body,
        });
      const missing = await expectProblem(await form('grant_type=refresh_token'), 422, 'validation_error');
      expect(missing.errors?.[0]).toMatchObject({ path: 'form.refresh_token' });
      await expectProblem(await form('grant_type=refresh_token&refresh_token='), 422, 'validation_error');
      await expectProblem(
        await form(`grant_type=password&refresh_token=${u.refreshToken}`),
        422,
        'validation_error',
      );
      await expectProblem(
        await form(`grant_type=implicit&refresh_token=${u.refreshToken}`),
        422,
        'validation_error',
      );
      const huge = await form(`grant_type=refresh_token&refresh_token=${'A'.repeat(70_000)}`);
      await expectProblem(huge, 413, 'payload_too_large');
      // None of it spent the real token.
      expect((await refreshOk(mode, u.refreshToken)).access_token).toBeTruthy();
    });
  });
}

describe('refresh races and endings', () => {
  test('20 refreshes with one token at once: exactly one succeeds, then the family is revoked', async () => {
    const u = await stack.user('operator');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => refreshRequest(MODES[i % MODES.length]!, u.refreshToken)),
    );
    const ok = answers.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of answers.filter((a) => a.status !== 200)) await expectProblem(r, 401, 'invalid_token');
    const winner = (await ok[0]!.json()) as Pair;

    // The others were reuse: the winner's new tokens are revoked with the family.
    await expectProblem(await refreshRequest('http', winner.refresh_token), 401, 'invalid_token');
    expect(await meStatus('http', winner.access_token)).toBe(401);
    expect(await meStatus('http', u.token)).toBe(401);

    // Never two children: the login's row and at most one child, all revoked.
    const rows = await familyRows(u);
    expect(rows).toHaveLength(2);
    expect(rows.filter((r) => r.parentId !== null)).toHaveLength(1);
    expect(rows.every((r) => r.revokedAt !== null)).toBe(true);
  });

  test('a family past its end is refused, however recently refreshed', async () => {
    const u = await stack.user('operator');
    const next = await refreshOk('http', u.refreshToken);
    await stack.database.db
      .update(refreshTokens)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(refreshTokens.userId, u.id));
    await expectProblem(await refreshRequest('http', next.refresh_token), 401, 'invalid_token');
    // An expired family is not reuse: nothing was revoked.
    expect(await meStatus('http', next.access_token)).toBe(200);
  });

  test('log out everywhere ends every session of the user', async () => {
    const u = await stack.user('operator');
    const other = (await (await stack.login(u.username, u.password)).json()) as Pair;
    const res = await stack.request('http', '/api/v2/token/revoke', { token: u.token, json: { all: true } });
    expect(res.status).toBe(200);
    for (const t of [u.refreshToken, other.refresh_token]) {
      await expectProblem(await refreshRequest('http', t), 401, 'invalid_token');
    }
    const rows = await familyRows(u);
    expect(rows.every((r) => r.revokedAt !== null)).toBe(true);
  });

  test('a password reset, a role change and a deactivation end the sessions; a deactivated user cannot refresh', async () => {
    const admin = await stack.user('admin');
    const patch = (id: string, json: unknown) =>
      stack.request('http', `/api/v2/users/${id}`, { method: 'PATCH', token: admin.token, json });

    const reset = await stack.user('operator');
    const r = await stack.request('http', `/api/v2/users/${reset.id}/password`, {
      token: admin.token,
      json: {},
    });
    expect(r.status).toBe(200);
    await expectProblem(await refreshRequest('http', reset.refreshToken), 401, 'invalid_token');

    const demoted = await stack.user('operator');
    expect((await patch(demoted.id, { role: 'viewer' })).status).toBe(200);
    await expectProblem(await refreshRequest('http', demoted.refreshToken), 401, 'invalid_token');

    const gone = await stack.user('operator');
    expect((await patch(gone.id, { is_active: false })).status).toBe(200);
    await expectProblem(await refreshRequest('http', gone.refreshToken), 401, 'invalid_token');
    // Back again, the old session stays ended: a new login is needed.
    expect((await patch(gone.id, { is_active: true })).status).toBe(200);
    await expectProblem(await refreshRequest('http', gone.refreshToken), 401, 'invalid_token');

    // Refused even when the families were not marked: the user's state is checked on each refresh.
    const sneaky = await stack.user('operator');
    await stack.database.db.execute(sql`update users set is_active = false where id = ${sneaky.id}::uuid`);
    await expectProblem(await refreshRequest('http', sneaky.refreshToken), 401, 'invalid_token');
    const unmarked = await stack.database.db
      .select()
      .from(refreshTokens)
      .where(and(eq(refreshTokens.userId, sneaky.id), sql`${refreshTokens.revokedAt} is not null`));
    expect(unmarked.length).toBeGreaterThan(0);
  });
});
