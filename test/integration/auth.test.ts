import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { base64url, SignJWT } from 'jose';
import { ACCESS_TOKEN_TYP } from '../../api/auth/tokens.ts';
import { generateSigningJwk, loadSigningKey } from '../../api/channel/keys.ts';
import { requestToken } from '../../api/client/index.ts';
import { listAudit } from '../../db/queries/misc.ts';
import { expectProblem, MODES, startTestStack, type TestStack, test } from '../harness/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ env: { MAX_FAILED_LOGIN_ATTEMPTS: '5', LOGIN_LOCKOUT_DURATION: '900' } });
}, 60_000);
afterAll(() => stack.stop());

const now = () => Math.floor(Date.now() / 1000);

/** Signs arbitrary claims with the API's own key (or another), to probe each check on its own. */
async function forge(
  claims: Record<string, unknown>,
  options: { kid?: string | null; typ?: string; key?: CryptoKey; omit?: string[] } = {},
): Promise<string> {
  const signing = stack.keys.signing;
  const cfg = stack.config;
  const payload: Record<string, unknown> = {
    iss: cfg.JWT_ISSUER,
    aud: cfg.JWT_AUDIENCE,
    iat: now(),
    nbf: now(),
    exp: now() + 600,
    jti: crypto.randomUUID(),
    ver: 1,
    ...claims,
  };
  for (const k of options.omit ?? []) delete payload[k];
  const header: Record<string, unknown> = { alg: 'EdDSA', typ: options.typ ?? ACCESS_TOKEN_TYP };
  if (options.kid !== null) header.kid = options.kid ?? signing.kid;
  return new SignJWT(payload)
    .setProtectedHeader(header as { alg: string })
    .sign(options.key ?? (signing.privateKey as CryptoKey));
}

for (const mode of MODES) {
  describe(`login (${mode})`, () => {
    test('the right password gets a bearer token that works', async () => {
      const u = await stack.user('operator');
      const { data, response: res } = await requestToken(
        stack.client(undefined, mode),
        u.username,
        u.password,
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = data!;
      expect(body.token_type).toBe('bearer');
      expect(body.expires_in).toBe(30 * 60);
      const header = JSON.parse(new TextDecoder().decode(base64url.decode(body.access_token.split('.')[0]!)));
      expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: stack.keys.signing.kid });
      const { data: me, response: meRes } = await stack.client(body.access_token, mode).GET('/api/v2/me');
      expect(meRes.status).toBe(200);
      expect(me).toMatchObject({
        id: u.id,
        username: u.username,
        role: 'operator',
        is_active: true,
      });
      // Usernames are case-insensitive.
      expect((await stack.login(u.username.toUpperCase(), u.password, mode)).status).toBe(200);
    });

    test('wrong password, unknown user and inactive user all answer 401 Invalid credentials', async () => {
      const u = await stack.user('operator');
      const wrong = await stack.login(u.username, 'not-the-password', mode);
      const p = await expectProblem(wrong, 401, 'invalid_credentials');
      expect(p.detail).toBe('Invalid credentials');
      expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
      await expectProblem(
        await stack.login(`nobody-${crypto.randomUUID()}`, 'whatever', mode),
        401,
        'invalid_credentials',
      );
      await expectProblem(await stack.login(u.username, 'x'.repeat(80), mode), 401, 'invalid_credentials');
    });

    test('missing fields are 422, a JSON body is 415, junk form is 4xx', async () => {
      const form = (body: string, type = 'application/x-www-form-urlencoded') =>
        stack.request(mode, '/api/v2/token', { method: 'POST', headers: { 'Content-Type': type }, body });
      await expectProblem(await form('username=alice'), 422, 'validation_error');
      await expectProblem(await form('password=x'), 422, 'validation_error');
      await expectProblem(await form(''), 422, 'validation_error');
      await expectProblem(
        await form('username=a&password=b&grant_type=client_credentials'),
        422,
        'validation_error',
      );
      await expectProblem(
        await form('{"username":"a","password":"b"}', 'application/json'),
        415,
        'unsupported_media_type',
      );
      await expectProblem(await form('username=a&password=b', 'text/plain'), 415, 'unsupported_media_type');
    });
  });
}

describe('brute force', () => {
  test('the 6th wrong password answers 429; the right one stays 429 during the lockout; others are unaffected', async () => {
    const victim = await stack.user('operator');
    const bystander = await stack.user('operator');
    for (let i = 1; i <= 5; i++) {
      await expectProblem(await stack.login(victim.username, `wrong-${i}`), 401, 'invalid_credentials');
    }
    const sixth = await stack.login(victim.username, 'wrong-6');
    await expectProblem(sixth, 429, 'login_locked');
    const retryAfter = Number(sixth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(890);
    expect(retryAfter).toBeLessThanOrEqual(900);
    await expectProblem(await stack.login(victim.username, victim.password), 429, 'login_locked');
    await expectProblem(
      await stack.login(victim.username.toUpperCase(), victim.password),
      429,
      'login_locked',
    );
    expect((await stack.login(bystander.username, bystander.password)).status).toBe(200);
    // The victim's existing token still works: the lock is on logging in, not on the account.
    expect((await stack.request('http', '/api/v2/me', { token: victim.token })).status).toBe(200);
    const audit = await listAudit(stack.database.db, 500);
    expect(
      audit.filter((a) => a.action === 'auth.login_failed' && a.targetId === victim.username).length,
    ).toBe(5);
  });

  test('the lock holds across API instances sharing the database', async () => {
    const victim = await stack.user('operator');
    for (let i = 0; i < 5; i++) await stack.login(victim.username, 'nope');
    const second = await startTestStack({ database: stack.database });
    try {
      await expectProblem(await second.login(victim.username, victim.password), 429, 'login_locked');
    } finally {
      await second.stop();
    }
  });

  test('failures spread over time: only those inside the window count', async () => {
    const short = await startTestStack({
      env: { LOGIN_FAILURE_WINDOW: '1', MAX_FAILED_LOGIN_ATTEMPTS: '3' },
    });
    try {
      const u = await short.user('operator');
      await short.login(u.username, 'x');
      await short.login(u.username, 'x');
      await Bun.sleep(1200);
      await short.login(u.username, 'x');
      expect((await short.login(u.username, u.password)).status).toBe(200);
    } finally {
      await short.stop();
    }
  });

  test('many failures from one address lock that address', async () => {
    const perAddr = await startTestStack({ env: { MAX_FAILED_LOGINS_PER_ADDRESS: '4' } });
    try {
      const u = await perAddr.user('operator');
      for (let i = 0; i < 4; i++) await perAddr.login(`spray-${i}-${crypto.randomUUID()}`, 'x');
      await expectProblem(await perAddr.login(u.username, u.password), 429, 'login_locked');
    } finally {
      await perAddr.stop();
    }
  });
});

for (const mode of MODES) {
  describe(`token checks (${mode})`, () => {
    const expect401 = async (token: string) => {
      const res = await stack.request(mode, '/api/v2/me', { token });
      await expectProblem(res, 401, 'invalid_token');
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    };

    test('a correctly forged token works (the probes below change one thing each)', async () => {
      const u = await stack.user('operator');
      const { response } = await stack.client(await forge({ sub: u.id }), mode).GET('/api/v2/me');
      expect(response.status).toBe(200);
    });

    test('alg none', async () => {
      const u = await stack.user('operator');
      const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
      const claims = {
        sub: u.id,
        iss: 'outdial',
        aud: 'outdial-api',
        exp: now() + 600,
        iat: now(),
        jti: 'x',
        ver: 1,
      };
      await expect401(`${enc({ alg: 'none', typ: 'at+jwt', kid: stack.keys.signing.kid })}.${enc(claims)}.`);
    });

    test('HS256 signed with the public key', async () => {
      const u = await stack.user('operator');
      const pub = stack.keys.signing.publicJwk;
      const payload = {
        sub: u.id,
        iss: 'outdial',
        aud: 'outdial-api',
        exp: now() + 600,
        iat: now(),
        jti: crypto.randomUUID(),
        ver: 1,
      };
      for (const secret of [base64url.decode(pub.x!), new TextEncoder().encode(JSON.stringify(pub))]) {
        const token = await new SignJWT(payload)
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: pub.kid! })
          .sign(secret);
        await expect401(token);
      }
    });

    test('unknown kid, missing kid, and our kid on another key', async () => {
      const u = await stack.user('operator');
      const other = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
      await expect401(await forge({ sub: u.id }, { kid: other.kid, key: other.privateKey as CryptoKey }));
      await expect401(await forge({ sub: u.id }, { kid: null }));
      await expect401(await forge({ sub: u.id }, { key: other.privateKey as CryptoKey }));
    });

    test('expired, not yet valid, wrong iss, wrong aud, missing jti/exp/iss/aud, wrong typ', async () => {
      const u = await stack.user('operator');
      await expect401(await forge({ sub: u.id, iat: now() - 3600, nbf: now() - 3600, exp: now() - 60 }));
      await expect401(await forge({ sub: u.id, nbf: now() + 600 }));
      await expect401(await forge({ sub: u.id, iss: 'someone-else' }));
      await expect401(await forge({ sub: u.id, aud: 'another-api' }));
      for (const claim of ['jti', 'exp', 'iss', 'aud', 'sub', 'ver']) {
        await expect401(await forge({ sub: u.id }, { omit: [claim] }));
      }
      await expect401(await forge({ sub: u.id }, { typ: 'JWT' }));
    });

    test('a tampered payload', async () => {
      const a = await stack.user('operator');
      const b = await stack.user('admin');
      const [h, p, s] = a.token.split('.') as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
      claims.sub = b.id;
      await expect401(`${h}.${base64url.encode(JSON.stringify(claims))}.${s}`);
      await expect401(`${h}.${p}.${s.slice(0, -4)}AAAA`);
      await expect401('not-a-token');
      const res = await stack.request(mode, '/api/v2/me', {
        headers: { Authorization: `Basic ${btoa('a:b')}` },
      });
      await expectProblem(res, 401, 'invalid_token');
    });

    test('a token for a user that does not exist', async () => {
      await expect401(await forge({ sub: crypto.randomUUID() }));
    });

    test('revoked: the next request fails; other tokens of the user still work', async () => {
      const u = await stack.user('operator');
      const second = (await (await stack.login(u.username, u.password)).json()) as { access_token: string };
      const { data, response } = await stack.client(u.token, mode).POST('/api/v2/token/revoke');
      expect(response.status).toBe(200);
      expect(data).toEqual({ revoked: true, scope: 'token' });
      await expect401(u.token);
      expect((await stack.client(second.access_token, mode).GET('/api/v2/me')).response.status).toBe(200);
    });

    test('revoke another token of yours by value, and refuse a token of someone else', async () => {
      const u = await stack.user('operator');
      const other = await stack.user('operator');
      const second = (await (await stack.login(u.username, u.password)).json()) as { access_token: string };
      const { response } = await stack.client(u.token, mode).POST('/api/v2/token/revoke', {
        body: { token: second.access_token },
      });
      expect(response.status).toBe(200);
      await expect401(second.access_token);
      expect((await stack.client(u.token, mode).GET('/api/v2/me')).response.status).toBe(200);
      const foreign = await stack.request(mode, '/api/v2/token/revoke', {
        token: u.token,
        json: { token: other.token },
      });
      await expectProblem(foreign, 422, 'validation_error');
      expect((await stack.request(mode, '/api/v2/me', { token: other.token })).status).toBe(200);
    });

    test('revoke all: every token of the user dies, new logins work', async () => {
      const u = await stack.user('operator');
      const second = (await (await stack.login(u.username, u.password)).json()) as { access_token: string };
      const { data } = await stack
        .client(u.token, mode)
        .POST('/api/v2/token/revoke', { body: { all: true } });
      expect(data).toEqual({ revoked: true, scope: 'all' });
      await expect401(u.token);
      await expect401(second.access_token);
      const fresh = (await (await stack.login(u.username, u.password)).json()) as { access_token: string };
      expect((await stack.client(fresh.access_token, mode).GET('/api/v2/me')).response.status).toBe(200);
    });

    test('a deactivated user: tokens fail at once and login fails', async () => {
      const admin = await stack.user('admin');
      const u = await stack.user('operator');
      const { response } = await stack.client(admin.token, mode).PATCH('/api/v2/users/{user_id}', {
        params: { path: { user_id: u.id } },
        body: { is_active: false },
      });
      expect(response.status).toBe(200);
      await expect401(u.token);
      await expectProblem(await stack.login(u.username, u.password), 401, 'invalid_credentials');
    });

    test('a role change takes effect on the next request', async () => {
      const admin = await stack.user('admin');
      const u = await stack.user('operator');
      await stack.client(admin.token, mode).PATCH('/api/v2/users/{user_id}', {
        params: { path: { user_id: u.id } },
        body: { role: 'viewer' },
      });
      const res = await stack.request(mode, '/api/v2/calls', {
        token: u.token,
        json: { phone_number: '5551234000' },
      });
      await expectProblem(res, 403, 'forbidden');
    });
  });
}

describe('passwords', () => {
  test('hashes use bcrypt at the configured cost; production refuses a cost below 12', async () => {
    const { loadConfig } = await import('../../api/config.ts');
    const { createBunPasswordHasher } = await import('../../api/entry/bun-runtime.ts');
    const { bcryptCost } = await import('../../api/auth/passwords.ts');
    const { generateSigningJwk: gen } = await import('../../api/channel/keys.ts');
    const base = {
      APP_ENV: 'production',
      JWT_PRIVATE_KEY: JSON.stringify(await gen()),
      SIDECAR_PUBLIC_KEY: JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'a'.repeat(43) }),
    };
    expect(loadConfig(base).BCRYPT_COST).toBe(12);
    expect(() => loadConfig({ ...base, BCRYPT_COST: '10' })).toThrow(/BCRYPT_COST: must be at least 12/);
    const hasher = createBunPasswordHasher(12);
    const digest = await hasher.hash('correct horse');
    expect(bcryptCost(digest)).toBe(12);
    expect(await hasher.verify('correct horse', digest)).toBe(true);
    expect(await hasher.verify('wrong horse', digest)).toBe(false);
  });

  test('a hash in progress does not stall other requests', async () => {
    const slow = await startTestStack({ env: { BCRYPT_COST: '12' } });
    try {
      const u = await slow.user('operator');
      const logins = Array.from({ length: 4 }, () => slow.login(u.username, u.password));
      const started = performance.now();
      const health: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t = performance.now();
        expect((await slow.request('http', '/health')).status).toBe(200);
        health.push(performance.now() - t);
      }
      const healthDone = performance.now() - started;
      const results = await Promise.all(logins);
      const loginsDone = performance.now() - started;
      expect(results.every((r) => r.status === 200)).toBe(true);
      // Ten health checks finish well before four cost-12 hashes do: the hashes run off the event loop.
      expect(healthDone).toBeLessThan(loginsDone);
      expect(Math.max(...health)).toBeLessThan(loginsDone / 2);
    } finally {
      await slow.stop();
    }
  });

  test('a burst of logins beyond the hashing capacity answers 503 busy, and busy logins do not count as failures', async () => {
    const tight = await startTestStack({
      env: {
        PASSWORD_HASH_CONCURRENCY: '1',
        PASSWORD_HASH_QUEUE: '1',
        BCRYPT_COST: '10',
        MAX_FAILED_LOGIN_ATTEMPTS: '3',
      },
    });
    try {
      const u = await tight.user('operator');
      const burst = await Promise.all(
        Array.from({ length: 8 }, () => tight.login(u.username, 'wrong password')),
      );
      const statuses = burst.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(5);
      for (const r of burst.filter((x) => x.status === 503)) {
        await expectProblem(r, 503, 'busy');
        expect(r.headers.get('retry-after')).toBe('1');
      }
      // At most two failures were counted (the ones that were checked), so the user is not locked.
      expect((await tight.login(u.username, u.password)).status).toBe(200);
    } finally {
      await tight.stop();
    }
  });
});
