import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { eq } from 'drizzle-orm';
import { base64url, SignJWT } from 'jose';
import { createBunPasswordHasher } from '../../api/auth/passwords.ts';
import { ACCESS_TOKEN_TYP } from '../../api/auth/tokens.ts';
import { requestToken } from '../../api/client/index.ts';
import { generateSigningJwk, loadSigningKey } from '../../api/shared/base/keys.ts';
import { listAudit } from '../../db/queries/misc.ts';
import { getUserByUsername } from '../../db/queries/users.ts';
import { auditLog, loginThrottle } from '../../db/schema.ts';
import { canonicalUsername } from '../../db/username.ts';
import { heldHasher, until } from '../harness/held-hasher.ts';
import {
  expectProblem,
  MODES,
  type Mode,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

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
});

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

/** Logs in from `address`, sent as X-Forwarded-For (the stack must trust a proxy for it to count). */
function loginFrom(s: TestStack, address: string, username: string, password: string, mode: Mode = 'http') {
  return s.request(mode, '/api/v2/token', {
    method: 'POST',
    headers: { ...FORM, 'X-Forwarded-For': address },
    body: new URLSearchParams({ username, password }).toString(),
  });
}

/** Which of `pending` have been answered so far, by index. */
function answeredOf(pending: Promise<Response>[]): Set<number> {
  const done = new Set<number>();
  for (const [i, p] of pending.entries()) {
    p.then(
      () => done.add(i),
      () => done.add(i),
    );
  }
  return done;
}

/** The client address the audit log recorded for the request that got `res`. */
async function auditedAddress(s: TestStack, res: Response): Promise<string | null> {
  const requestId = res.headers.get('x-request-id')!;
  for (let i = 0; i < 300; i++) {
    const [entry] = await s.database.db.select().from(auditLog).where(eq(auditLog.requestId, requestId));
    if (entry) return entry.clientAddress;
    await Bun.sleep(10);
  }
  throw new Error(`no audit entry for request ${requestId}`);
}

describe('a burst of guesses', () => {
  // Guesses are held inside the API's hasher until released, so a whole burst is in flight at once.
  const held = heldHasher(createBunPasswordHasher(4));
  const heldOnSecond = heldHasher(createBunPasswordHasher(4));
  let burst: TestStack;
  let second: TestStack;

  beforeAll(async () => {
    // Hashing slots for every guess let through: the throttle, not the hasher's queue, is what limits them.
    const env = { MAX_FAILED_LOGIN_ATTEMPTS: '5', PASSWORD_HASH_CONCURRENCY: '64' };
    burst = await startTestStack({ env, passwordHasher: held.hasher });
    second = await startTestStack({ env, database: burst.database, passwordHasher: heldOnSecond.hasher });
  }, 60_000);
  afterAll(async () => {
    held.release();
    heldOnSecond.release();
    await second?.stop();
    await burst?.stop();
  });

  const digestOf = async (u: TestUser) =>
    (await getUserByUsername(burst.database.db, u.username))!.passwordHash;

  test('30 wrong passwords at once: at most MAX_FAILED_LOGIN_ATTEMPTS are checked, and the right one sent among them is refused', async () => {
    const victim = await burst.user('operator');
    const digest = await digestOf(victim);
    held.watch(digest, { hold: true });
    heldOnSecond.watch(digest, { hold: true });
    const checked = () => held.started(digest) + heldOnSecond.started(digest);
    // Over two API instances sharing the database, in-process and over HTTP.
    const guess = (i: number) =>
      i % 3 === 0
        ? second.login(victim.username, `wrong-${i}`, 'http')
        : burst.login(victim.username, `wrong-${i}`, i % 3 === 1 ? 'in-process' : 'http');
    const guesses = Array.from({ length: 30 }, (_, i) => guess(i));
    const answered = answeredOf(guesses);
    await until(() => checked() + answered.size === 30, 'every guess is being checked or was answered');
    const checkedBefore = checked();
    const right = burst.login(victim.username, victim.password);
    const rightAnswered = answeredOf([right]);
    await until(
      () => rightAnswered.size === 1 || checked() > checkedBefore,
      'the right password was answered or checked',
    );
    held.release();
    heldOnSecond.release();
    const statuses = (await Promise.all(guesses)).map((r) => r.status);
    expect(checked()).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 401)).toHaveLength(checkedBefore);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30 - checkedBefore);
    await expectProblem(await right, 429, 'login_locked');
    // Every guess that was checked failed: the name is locked now, for the right password too.
    await expectProblem(await second.login(victim.username, victim.password), 429, 'login_locked');
  });

  test('a right password among guesses in flight lifts no lock and frees no slot for more guesses', async () => {
    const victim = await burst.user('operator');
    const digest = await digestOf(victim);
    held.watch(digest, { hold: true });
    const guesses = Array.from({ length: 4 }, (_, i) => burst.login(victim.username, `wrong-${i}`));
    const right = burst.login(victim.username, victim.password);
    await until(() => held.started(digest) === 5, 'five checks are in flight');
    // Every place of the window is taken: a sixth guess is refused without a check.
    const sixth = burst.login(victim.username, 'wrong-5', 'in-process');
    const sixthAnswered = answeredOf([sixth]);
    await until(() => sixthAnswered.size === 1 || held.started(digest) > 5, 'the sixth guess was answered');
    expect(held.started(digest)).toBe(5);
    held.release();
    await expectProblem(await sixth, 429, 'login_locked');
    for (const res of await Promise.all(guesses)) await expectProblem(res, 401, 'invalid_credentials');
    expect((await right).status).toBe(200);
    // The success gave back its own place only: the four failures still count, and a fifth locks.
    await expectProblem(await burst.login(victim.username, 'wrong-6'), 401, 'invalid_credentials');
    await expectProblem(await burst.login(victim.username, victim.password), 429, 'login_locked');
  });
});

describe('usernames', () => {
  test("a name's case and Unicode variants are that name: they log in as it and share its lock", async () => {
    const admin = await stack.user('admin');
    const tail = crypto.randomUUID().slice(0, 8); // hex digits: no k, no i
    const name = `kid-${tail}`;
    const password = 'a long enough password';
    const created = await stack.request('http', '/api/v2/users', {
      token: admin.token,
      json: { username: name, password },
    });
    expect(created.status).toBe(201);
    const fullwidth = (text: string) =>
      text.replace(/[!-~]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0));
    const same = [
      name.toUpperCase(),
      `\u212Aid-${tail}`, // KELVIN SIGN
      fullwidth(name),
      `k\u0131d-${tail}`, // dotless ı, whose capital is I
      `ki\u00ADd-${tail}`, // a soft hyphen, which is invisible
    ];
    // İ lowercases to i + U+0307 COMBINING DOT ABOVE, as Unicode's case folding has it: another name.
    const other = `k\u0130d-${tail}`;
    for (const variant of same)
      expect({ variant, status: (await stack.login(variant, password)).status }).toEqual({
        variant,
        status: 200,
      });
    await expectProblem(await stack.login(other, password), 401, 'invalid_credentials');
    // Five failures, each under another spelling, lock the name under every spelling.
    for (const variant of same) {
      await expectProblem(await stack.login(variant, 'wrong password'), 401, 'invalid_credentials');
    }
    for (const variant of [name, ...same]) {
      await expectProblem(await stack.login(variant, password), 429, 'login_locked');
    }
    await expectProblem(await stack.login(other, password), 401, 'invalid_credentials');
  });
  test('a name that folds to something long is counted like any other, under a digest of it', async () => {
    // U+FDFA is one character that NFKC turns into eighteen: folded names can be long, so long
    // throttle keys are stored as a SHA-256 of the name.
    const long = '\uFDFA'.repeat(150);
    for (let i = 0; i < 5; i++) await expectProblem(await stack.login(long, 'x'), 401, 'invalid_credentials');
    await expectProblem(await stack.login(long, 'x'), 429, 'login_locked');
    const digest = new Bun.CryptoHasher('sha256').update(canonicalUsername(long)).digest('hex');
    const [row] = await stack.database.db
      .select()
      .from(loginThrottle)
      .where(eq(loginThrottle.key, `user:sha256:${digest}`));
    expect(row?.failures).toBe(5);
  });
});

describe('a flood of logins', () => {
  test('keeps no one else out: other accounts log in from the flooding address and from others', async () => {
    const held = heldHasher(createBunPasswordHasher(4));
    const flood = await startTestStack({
      env: {
        TRUST_PROXY: 'true',
        PASSWORD_HASH_CONCURRENCY: '2',
        PASSWORD_HASH_QUEUE: '8',
        // Neither lock stops this flood: only the hashing queue's fair shares are left to.
        MAX_FAILED_LOGIN_ATTEMPTS: '1000',
        MAX_FAILED_LOGINS_PER_ADDRESS: '100000',
      },
      passwordHasher: held.hasher,
    });
    try {
      const victim = await flood.user('operator');
      const admin = await flood.user('admin');
      const colleague = await flood.user('operator');
      const digest = (await getUserByUsername(flood.database.db, victim.username))!.passwordHash;
      held.watch(digest, { hold: true });
      const attacker = '198.51.100.7';
      const guesses = Array.from({ length: 40 }, (_, i) =>
        loginFrom(flood, attacker, victim.username, `wrong-${i}`, i % 2 ? 'http' : 'in-process'),
      );
      const answered = answeredOf(guesses);
      await until(
        () => held.holding === 2 && answered.size >= 30,
        'the flood holds both hashing slots and every guess without a place was answered',
      );
      const fromElsewhere = loginFrom(flood, '203.0.113.9', admin.username, admin.password);
      const fromSameAddress = loginFrom(
        flood,
        attacker,
        colleague.username,
        colleague.password,
        'in-process',
      );
      // Refused at once, or waiting for a hashing slot (the flood holds both until released).
      const early = answeredOf([fromElsewhere, fromSameAddress]);
      await until(() => early.size === 2, 'both were answered', 500).catch(() => undefined);
      held.release();
      const elsewhere = await fromElsewhere;
      expect({
        status: elsewhere.status,
        body: elsewhere.status === 200 ? '' : await elsewhere.text(),
      }).toEqual({ status: 200, body: '' });
      expect((await fromSameAddress).status).toBe(200);
      const statuses = (await Promise.all(guesses)).map((r) => r.status);
      expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(30);
    } finally {
      held.release();
      await flood.stop();
    }
  });

  test('many failures from one address slow that address without locking it: another account gets in after Retry-After', async () => {
    // Four failures per 8 s window from one address, then one attempt every 2 s.
    const paced = await startTestStack({
      env: { TRUST_PROXY: 'true', MAX_FAILED_LOGINS_PER_ADDRESS: '4', LOGIN_FAILURE_WINDOW: '8' },
    });
    try {
      const u = await paced.user('operator');
      const sprayer = '198.51.100.8';
      const nobody = (i: number) => `spray-${i}-${crypto.randomUUID()}`;
      for (let i = 0; i < 4; i++) {
        await expectProblem(await loginFrom(paced, sprayer, nobody(i), 'x'), 401, 'invalid_credentials');
      }
      const slowed = await loginFrom(paced, sprayer, nobody(4), 'x');
      await expectProblem(slowed, 429, 'login_locked');
      const retryAfter = Number(slowed.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(2);
      // Another address is not slowed at all.
      expect((await loginFrom(paced, '203.0.113.10', u.username, u.password)).status).toBe(200);
      await Bun.sleep(retryAfter * 1000 + 100);
      expect((await loginFrom(paced, sprayer, u.username, u.password, 'in-process')).status).toBe(200);
      // And the address stays slowed: its next attempt waits again.
      await expectProblem(await loginFrom(paced, sprayer, nobody(5), 'x'), 429, 'login_locked');
    } finally {
      await paced.stop();
    }
  });
});

describe('client address', () => {
  const guess = (s: TestStack, forwardedFor?: string) =>
    s.request('http', '/api/v2/token', {
      method: 'POST',
      headers: { ...FORM, ...(forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {}) },
      body: new URLSearchParams({ username: `nobody-${crypto.randomUUID()}`, password: 'x' }).toString(),
    });

  test('without a trusted proxy, X-Forwarded-For is ignored', async () => {
    expect(await auditedAddress(stack, await guess(stack, '6.6.6.6'))).toMatch(/127\.0\.0\.1$/);
  });

  test('TRUST_PROXY takes the right-most X-Forwarded-For address, which the proxy wrote, not one the client wrote', async () => {
    const proxied = await startTestStack({ env: { TRUST_PROXY: 'true' } });
    try {
      expect(await auditedAddress(proxied, await guess(proxied, '6.6.6.6, 198.51.100.20'))).toBe(
        '198.51.100.20',
      );
      expect(await auditedAddress(proxied, await guess(proxied, '198.51.100.21'))).toBe('198.51.100.21');
      // Two proxies: TRUST_PROXY_HOPS says how many addresses from the right are theirs.
      const twoHops = await startTestStack({ env: { TRUST_PROXY_HOPS: '2' }, database: proxied.database });
      try {
        expect(await auditedAddress(twoHops, await guess(twoHops, '6.6.6.6, 198.51.100.22, 10.0.0.2'))).toBe(
          '198.51.100.22',
        );
      } finally {
        await twoHops.stop();
      }
    } finally {
      await proxied.stop();
    }
  });

  test('TRUSTED_PROXIES: the right-most address that is not one of them', async () => {
    const proxied = await startTestStack({
      env: { TRUSTED_PROXIES: '127.0.0.0/8, ::1, 10.0.0.0/8' },
    });
    try {
      expect(await auditedAddress(proxied, await guess(proxied, '6.6.6.6, 198.51.100.23, 10.0.0.2'))).toBe(
        '198.51.100.23',
      );
      expect(await auditedAddress(proxied, await guess(proxied, '6.6.6.6, 10.0.0.3'))).toBe('6.6.6.6');
      expect(await auditedAddress(proxied, await guess(proxied))).toMatch(/127\.0\.0\.1$/);
    } finally {
      await proxied.stop();
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

    test('the Bearer scheme is case-insensitive', async () => {
      const u = await stack.user('operator');
      for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
        const res = await stack.request(mode, '/api/v2/me', {
          headers: { Authorization: `${scheme} ${u.token}` },
        });
        expect({ scheme, status: res.status }).toEqual({ scheme, status: 200 });
      }
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
    const { createBunPasswordHasher, bcryptCost } = await import('../../api/auth/passwords.ts');
    const { generateSigningJwk: gen } = await import('../../api/shared/base/keys.ts');
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
    const held = heldHasher(createBunPasswordHasher(10));
    const tight = await startTestStack({
      env: {
        PASSWORD_HASH_CONCURRENCY: '1',
        PASSWORD_HASH_QUEUE: '1',
        BCRYPT_COST: '10',
        MAX_FAILED_LOGIN_ATTEMPTS: '3',
      },
      passwordHasher: held.hasher,
    });
    try {
      const users: TestUser[] = [];
      for (let i = 0; i < 8; i++) users.push(await tight.user('operator'));
      // Eight accounts at once, room for two checks: the rest are refused at once.
      const burst = await Promise.all(users.map((u) => tight.login(u.username, 'wrong password')));
      const statuses = burst.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(5);
      for (const r of burst.filter((x) => x.status === 503)) {
        await expectProblem(r, 503, 'busy');
        expect(r.headers.get('retry-after')).toBe('1');
      }
      // One account, eight guesses at once, its checks held: the three the window allows go to the
      // hasher, one gets the hashing slot and the others are refused busy.
      const u = await tight.user('operator');
      const digest = (await getUserByUsername(tight.database.db, u.username))!.passwordHash;
      held.watch(digest, { hold: true });
      const pending = Array.from({ length: 8 }, () => tight.login(u.username, 'wrong password'));
      const answered = answeredOf(pending);
      await until(() => answered.size === 7 && held.holding === 1, 'all but one guess were answered');
      held.release();
      const guesses = await Promise.all(pending);
      expect(guesses.filter((r) => r.status === 503).length).toBeGreaterThanOrEqual(1);
      expect(guesses.filter((r) => r.status === 401)).toHaveLength(1);
      // One failure was counted, the busy ones not at all: the user is not locked.
      expect((await tight.login(u.username, u.password)).status).toBe(200);
    } finally {
      held.release();
      await tight.stop();
    }
  });
});
