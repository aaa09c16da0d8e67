import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { eq, sql } from 'drizzle-orm';
import { createLogger } from '../../api/shared/base/log.ts';
import { API_KEY_PREFIX, type CallEventInput } from '../../api/shared/contract/index.ts';
import { apiKeys, auditLog, rateLimits } from '../../db/schema.ts';
import { readSse, type SseFrame, type SseReader } from '../harness/sse.ts';
import {
  expectProblem,
  MODES,
  type Mode,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

/** Every line the API logs, to look for keys in. */
const lines: string[] = [];
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    env: { SSE_HEARTBEAT_MS: '200', SSE_POLL_MS: '50', LOG_LEVEL: 'debug' },
    logger: createLogger({ level: 'debug', sink: (line) => lines.push(line) }),
  });
}, 60_000);
afterAll(() => stack.stop());

interface KeyAnswer {
  id: string;
  key: string;
  user_id: string;
  name: string;
  scopes: string[];
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
}

/** Every key this file was shown, to check that none comes back in an answer or a log line. */
const shown: string[] = [];

async function createKey(
  mode: Mode,
  by: TestUser | string,
  body: Record<string, unknown>,
): Promise<KeyAnswer> {
  const token = typeof by === 'string' ? by : by.token;
  const res = await stack.request(mode, '/api/v2/keys', { token, json: { name: 'test key', ...body } });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`key not created: ${res.status} ${text}`);
  const key = JSON.parse(text) as KeyAnswer;
  shown.push(key.key);
  return key;
}

/** The text of an answer, checked to hold no key this file was shown (nor any key at all). */
async function textWithoutKeys(res: Response): Promise<string> {
  const text = await res.text();
  for (const key of shown) expect(text).not.toContain(key.slice(API_KEY_PREFIX.length + 17));
  expect(text).not.toContain(API_KEY_PREFIX);
  return text;
}

const placeCall = (mode: Mode, token: string) =>
  stack.request(mode, '/api/v2/calls', { token, json: { phone_number: '5551234000' } });

let seq = 1000;
const ev = (
  callId: string,
  type: CallEventInput['type'],
  status: CallEventInput['status'],
): CallEventInput => ({
  event_id: `${callId}:${type}`,
  call_id: callId,
  seq: ++seq,
  type,
  status,
  occurred_at: new Date().toISOString(),
});

async function finish(callId: string) {
  const res = await stack.sidecar.sendEvents(stack.api.url, [
    ev(callId, 'ringing', 'ringing'),
    ev(callId, 'answered', 'answered'),
    { ...ev(callId, 'ended', 'completed'), reason: 'normal', hangup_cause: 16 },
  ]);
  expect(res.status).toBe(200);
}

async function untilEnd(sse: SseReader, withinMs: number): Promise<SseFrame[]> {
  const frames: SseFrame[] = [];
  const deadline = Date.now() + withinMs;
  for (;;) {
    const left = deadline - Date.now();
    const frame = left > 0 ? await sse.next(left).catch(() => undefined) : undefined;
    if (frame === undefined) throw new Error(`the stream was still open after ${withinMs} ms`);
    if (frame === null) return frames;
    frames.push(frame);
  }
}

for (const mode of MODES) {
  describe(`API keys (${mode})`, () => {
    test('a calls:read key reads calls but cannot place one (403 naming the scope)', async () => {
      const op = await stack.user('operator');
      const placed = await placeCall(mode, op.token);
      expect(placed.status).toBe(200);
      const { call_id } = (await placed.json()) as { call_id: string };
      const reader = await createKey(mode, op, { scopes: ['calls:read'] });
      expect(reader.key).toMatch(/^odk_live_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      expect(reader.key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + 16)).toBe(reader.id);

      const got = await stack.request(mode, `/api/v2/calls/${call_id}`, { token: reader.key });
      expect(got.status).toBe(200);
      const listed = await stack.request(mode, '/api/v2/calls', { token: reader.key });
      expect(listed.status).toBe(200);
      const refused = await expectProblem(await placeCall(mode, reader.key), 403, 'forbidden');
      expect(refused.detail).toContain('calls:write');
      const hangup = await stack.request(mode, `/api/v2/calls/${call_id}/hangup`, {
        method: 'POST',
        token: reader.key,
      });
      expect((await expectProblem(hangup, 403, 'forbidden')).detail).toContain('calls:write');
      // Nor anything of another scope, nor what only a session may do.
      expect(
        (await expectProblem(await stack.request(mode, '/api/v2/flows', { token: reader.key }), 403)).detail,
      ).toContain('flows:read');
      await expectProblem(
        await stack.request(mode, '/api/v2/token/revoke', { method: 'POST', token: reader.key }),
        403,
        'forbidden',
      );

      const writer = await createKey(mode, op, { scopes: ['calls:write', 'calls:read'] });
      const made = await placeCall(mode, writer.key);
      expect(made.status).toBe(200);
      const callId = ((await made.json()) as { call_id: string }).call_id;
      // The audit log names the key; the rate limit counts it in its user's window (calls.test.ts).
      const audited = await waitForAudit(callId);
      expect(audited.actorId).toBe(op.id);
      expect(audited.actorKeyId).toBe(writer.id);
      const windows = await stack.database.db
        .select()
        .from(rateLimits)
        .where(eq(rateLimits.key, `originate:${op.id}`));
      expect(windows).toHaveLength(1);
    });

    test('a revoked key is refused on the next request, and its open stream ends', async () => {
      const op = await stack.user('operator');
      const key = await createKey(mode, op, { scopes: ['calls:read', 'calls:write'] });
      const sse = readSse(await stack.request(mode, '/api/v2/events', { token: key.key }));
      expect((await sse.next())?.event).toBe('ready');
      const placed = await placeCall(mode, key.key);
      const callId = ((await placed.json()) as { call_id: string }).call_id;
      expect((await sse.events(2)).map((f) => (JSON.parse(f.data!) as { call_id: string }).call_id)).toEqual([
        callId,
        callId,
      ]);

      const revoked = await stack.request(mode, `/api/v2/keys/${key.id}`, {
        method: 'DELETE',
        token: op.token,
      });
      expect(revoked.status).toBe(200);
      expect(((await revoked.json()) as KeyAnswer).revoked_at).not.toBeNull();
      await expectProblem(
        await stack.request(mode, '/api/v2/calls', { token: key.key }),
        401,
        'invalid_token',
      );
      await finish(callId);
      const after = await untilEnd(sse, 8000);
      expect(after.filter((f) => f.event !== undefined)).toEqual([]);
      // The session that revoked it is untouched, and revoking again changes nothing.
      const again = await stack.request(mode, `/api/v2/keys/${key.id}`, {
        method: 'DELETE',
        token: op.token,
      });
      expect(((await again.json()) as KeyAnswer).revoked_at).toBe(
        (
          (await (
            await stack.request(mode, `/api/v2/keys/${key.id}`, { token: op.token })
          ).json()) as KeyAnswer
        ).revoked_at,
      );
    });

    test('an expired key is refused, and its open stream ends', async () => {
      const op = await stack.user('operator');
      const key = await createKey(mode, op, {
        scopes: ['calls:read'],
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
      });
      expect((await stack.request(mode, '/api/v2/calls', { token: key.key })).status).toBe(200);
      const sse = readSse(await stack.request(mode, '/api/v2/events', { token: key.key }));
      expect((await sse.next())?.event).toBe('ready');
      // Its expiry comes (moved, rather than waited for).
      await stack.database.db
        .update(apiKeys)
        .set({ expiresAt: sql`now() - interval '1 second'` })
        .where(eq(apiKeys.id, key.id));
      await expectProblem(
        await stack.request(mode, '/api/v2/calls', { token: key.key }),
        401,
        'invalid_token',
      );
      const placed = await placeCall(mode, op.token);
      await finish(((await placed.json()) as { call_id: string }).call_id);
      const after = await untilEnd(sse, 8000);
      expect(after.filter((f) => f.event !== undefined)).toEqual([]);
      // A key cannot be made already expired.
      const past = await stack.request(mode, '/api/v2/keys', {
        token: op.token,
        json: { name: 'late', scopes: ['calls:read'], expires_at: '2020-01-01T00:00:00Z' },
      });
      expect((await expectProblem(past, 422, 'validation_error')).errors?.[0]?.path).toBe('body.expires_at');
    });

    test('an operator cannot mint users:admin; an admin can, for itself, not for an operator', async () => {
      const op = await stack.user('operator');
      const admin = await stack.user('admin');
      const refused = await stack.request(mode, '/api/v2/keys', {
        token: op.token,
        json: { name: 'too much', scopes: ['calls:read', 'users:admin'] },
      });
      expect((await expectProblem(refused, 403, 'forbidden')).detail).toContain('users:admin');
      const forOther = await stack.request(mode, '/api/v2/keys', {
        token: op.token,
        json: { name: 'theirs', scopes: ['calls:read'], user_id: admin.id },
      });
      await expectProblem(forOther, 403, 'forbidden');

      const adminKey = await createKey(mode, admin, { scopes: ['users:admin'] });
      expect((await stack.request(mode, '/api/v2/users', { token: adminKey.key })).status).toBe(200);
      const beyondRole = await stack.request(mode, '/api/v2/keys', {
        token: admin.token,
        json: { name: 'op admin', scopes: ['users:admin'], user_id: op.id },
      });
      expect((await expectProblem(beyondRole, 422, 'validation_error')).errors?.[0]?.path).toBe(
        'body.scopes',
      );
      // A key hands out no more than it carries.
      const narrow = await createKey(mode, op, { scopes: ['calls:read'] });
      const widened = await stack.request(mode, '/api/v2/keys', {
        token: narrow.key,
        json: { name: 'wider', scopes: ['calls:write'] },
      });
      expect((await expectProblem(widened, 403, 'forbidden')).detail).toContain('calls:write');
    });

    test('a key of a demoted user loses what the role lost, at once', async () => {
      const admin = await stack.user('admin');
      const op = await stack.user('operator');
      const key = await createKey(mode, op, { scopes: ['calls:read', 'calls:write'] });
      expect((await placeCall(mode, key.key)).status).toBe(200);
      const demoted = await stack.request(mode, `/api/v2/users/${op.id}`, {
        method: 'PATCH',
        token: admin.token,
        json: { role: 'viewer' },
      });
      expect(demoted.status).toBe(200);
      expect((await expectProblem(await placeCall(mode, key.key), 403, 'forbidden')).detail).toContain(
        'calls:write',
      );
      expect((await stack.request(mode, '/api/v2/calls', { token: key.key })).status).toBe(200);
      // Deactivated, the user's keys stop working.
      await stack.request(mode, `/api/v2/users/${op.id}`, {
        method: 'PATCH',
        token: admin.token,
        json: { is_active: false },
      });
      await expectProblem(
        await stack.request(mode, '/api/v2/calls', { token: key.key }),
        401,
        'invalid_token',
      );
    });

    test('an admin makes a service user that cannot log in, and a key for it that works', async () => {
      const admin = await stack.user('admin');
      const username = `svc-${crypto.randomUUID().slice(0, 8)}`;
      const made = await stack.request(mode, '/api/v2/users', {
        token: admin.token,
        json: { username, role: 'operator', can_login: false },
      });
      expect(made.status).toBe(201);
      const svc = (await made.json()) as { id: string; can_login: boolean };
      expect(svc.can_login).toBe(false);
      const noPassword = await stack.request(mode, '/api/v2/users', {
        token: admin.token,
        json: { username: `${username}x`, role: 'operator' },
      });
      expect((await expectProblem(noPassword, 422)).errors?.[0]?.path).toBe('body.password');
      const key = await createKey(mode, admin, { scopes: ['calls:write', 'calls:read'], user_id: svc.id });
      expect(key.user_id).toBe(svc.id);
      expect((await placeCall(mode, key.key)).status).toBe(200);
      const listed = await stack.request(mode, `/api/v2/keys?user_id=${svc.id}`, { token: admin.token });
      const items = JSON.parse(await textWithoutKeys(listed)).items as KeyAnswer[];
      expect(items.map((k) => k.id)).toEqual([key.id]);
      // Its owner cannot log in, whatever is tried.
      await expectProblem(await stack.login(username, 'any-password-at-all'), 401, 'invalid_credentials');
    });

    test('after creation no answer holds the key or its hash; another user’s key is a 404', async () => {
      const op = await stack.user('operator');
      const other = await stack.user('operator');
      const key = await createKey(mode, op, { scopes: ['calls:read'] });
      const [row] = await stack.database.db.select().from(apiKeys).where(eq(apiKeys.id, key.id));
      expect(row!.secretHash).toMatch(/^[0-9a-f]{64}$/);
      expect(row!.secretHash).not.toContain(key.key.slice(-43));
      for (const path of ['/api/v2/keys', `/api/v2/keys/${key.id}`]) {
        for (const token of [op.token, key.key]) {
          const res = await stack.request(mode, path, { token });
          expect(res.status).toBe(200);
          const text = await textWithoutKeys(res);
          expect(text).not.toContain(row!.secretHash);
          expect(text).toContain(key.id);
        }
      }
      await expectProblem(
        await stack.request(mode, `/api/v2/keys/${key.id}`, { token: other.token }),
        404,
        'api_key_not_found',
      );
      await expectProblem(
        await stack.request(mode, `/api/v2/keys/${key.id}`, { method: 'DELETE', token: other.token }),
        404,
        'api_key_not_found',
      );
      await expectProblem(
        await stack.request(mode, `/api/v2/keys?user_id=${op.id}`, { token: other.token }),
        403,
        'forbidden',
      );
    });

    test('last use is recorded (time and address), once a minute, under many requests at once', async () => {
      const op = await stack.user('operator');
      const key = await createKey(mode, op, { scopes: ['calls:read'] });
      expect(key.last_used_at).toBeNull();
      const answers = await Promise.all(
        Array.from({ length: 40 }, () => stack.request(mode, '/api/v2/calls', { token: key.key })),
      );
      expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
      const read = async () =>
        (await (
          await stack.request(mode, `/api/v2/keys/${key.id}`, { token: op.token })
        ).json()) as KeyAnswer;
      let seen = await read();
      for (let i = 0; i < 200 && seen.last_used_at === null; i++) {
        await Bun.sleep(25);
        seen = await read();
      }
      expect(seen.last_used_at).not.toBeNull();
      // Over HTTP to Bun the peer is known; Workers take it from CF-Connecting-IP, which no proxy sets here.
      if (mode === 'http' && stack.target === 'bun') expect(seen.last_used_ip).toBe('127.0.0.1');
      // Within the minute, more use writes nothing.
      const first = seen.last_used_at;
      await stack.request(mode, '/api/v2/calls', { token: key.key });
      await Bun.sleep(100);
      expect((await read()).last_used_at).toBe(first);
    });

    test('hostile keys answer 401 problem+json, never 5xx', async () => {
      const op = await stack.user('operator');
      const good = await createKey(mode, op, { scopes: ['calls:read'] });
      const secret = good.key.slice(API_KEY_PREFIX.length + 17);
      const hostile = [
        good.key.replace('odk_live_', 'odk_test_'),
        good.key.replace('odk_live_', 'ODK_LIVE_'),
        good.key.slice(0, -1),
        good.key.slice(0, API_KEY_PREFIX.length + 10),
        API_KEY_PREFIX,
        `${good.key}A`,
        `${good.key}_${secret}`,
        `${API_KEY_PREFIX}${'0'.repeat(16)}_${secret}`,
        `${API_KEY_PREFIX}${good.id}_${'A'.repeat(43)}`,
        `${API_KEY_PREFIX}${good.id.toUpperCase()}_${secret}`,
        `${API_KEY_PREFIX}${good.id}_${secret.slice(0, -1)}é`,
        `${API_KEY_PREFIX}${'é'.repeat(16)}_${secret}`,
        `${API_KEY_PREFIX}${good.id}_${secret}${'x'.repeat(6000)}`,
        `${API_KEY_PREFIX}${'f'.repeat(7000)}`,
        `${API_KEY_PREFIX}${good.id}_${secret.replace(/./, '.')}`,
        `${API_KEY_PREFIX}${good.id}_${secret}\u00a0`,
      ];
      for (const value of hostile) {
        const res = await stack.request(mode, '/api/v2/calls', {
          headers: { Authorization: `Bearer ${value}` },
        });
        expect({ value: value.slice(0, 80), status: res.status }).toEqual({
          value: value.slice(0, 80),
          status: 401,
        });
        await expectProblem(res, 401, 'invalid_token');
      }
      // The good key still works after all that.
      expect((await stack.request(mode, '/api/v2/calls', { token: good.key })).status).toBe(200);
    });
  });
}

async function waitForAudit(callId: string) {
  for (let i = 0; i < 200; i++) {
    const [row] = await stack.database.db
      .select()
      .from(auditLog)
      .where(sql`${auditLog.action} = 'call.create' and ${auditLog.targetId} = ${callId}`);
    if (row) return row;
    await Bun.sleep(25);
  }
  throw new Error(`no audit entry for the call ${callId}`);
}

describe('logs', () => {
  test('no key this file was shown is in any log line; key requests are logged with their key id', () => {
    expect(shown.length).toBeGreaterThan(10);
    const all = lines.join('\n');
    for (const key of shown) {
      expect(all).not.toContain(key.slice(API_KEY_PREFIX.length + 17));
    }
    expect(all).not.toContain(API_KEY_PREFIX);
    const keyed = lines.map((l) => JSON.parse(l) as { msg: string; key_id?: string }).filter((l) => l.key_id);
    expect(keyed.length).toBeGreaterThan(0);
  });
});
