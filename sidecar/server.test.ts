import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import {
  createPublicKeySet,
  generateSigningJwk,
  loadSigningKey,
  type SigningKey,
} from '../api/shared/base/keys.ts';
import { createLogger } from '../api/shared/base/log.ts';
import { signChannelMessage } from '../api/shared/base/signing.ts';
import { type OriginateReply, SIDECAR_PATHS, TYP_COMMAND, TYP_EVENTS } from '../api/shared/contract/index.ts';
import { AriError } from './errors.ts';
import { createMetrics } from './metrics.ts';
import { type CommandHandlers, startCommandServer } from './server.ts';

/**
 * The command server's answers, exactly: every route, status, header and body a client sees, with
 * handlers that do nothing but answer, so that the server itself is what is held.
 */

const MAX_BODY = 2048;
const SIDECAR_ID = 'server-test';
const ISSUER = 'outdial';

let apiKey: SigningKey;
let server: ReturnType<typeof startCommandServer>;
let base: string;
const metrics = createMetrics();
const seen = new Set<string>();
const state = {
  accepting: true,
  ready: true,
  originate: null as OriginateReply | null,
  hangupThrows: null as unknown,
  statusThrows: false,
};

const handlers: CommandHandlers = {
  accepting: () => state.accepting,
  originate: async (command) =>
    state.originate ?? { outcome: 'dialing', call_id: command.call_id, channel: 'Local/x;1' },
  recordingFile: async () => ({ status: 404, contentType: 'application/json', body: null, error: null }),
  recordingDelete: async (command) => ({ call_id: command.call_id, deleted: command.recordings, failed: [] }),
  hangup: async (command) => {
    if (state.hangupThrows) throw state.hangupThrows;
    return { call_id: command.call_id, outcome: 'hanging_up' };
  },
  status: async () => {
    if (state.statusThrows) throw new Error('boom: a secret that must not leak');
    return {
      sidecar_id: SIDECAR_ID,
      ari: { connected: true, breaker: 'closed', retry_after_s: null },
      live_calls: 0,
      queued_calls: 0,
      outbox_depth: 0,
    };
  },
  readiness: async () => ({ ready: state.ready, checks: { ari: { ok: state.ready } } }),
};

beforeAll(async () => {
  const jwk = await generateSigningJwk();
  apiKey = await loadSigningKey(JSON.stringify(jwk));
  server = startCommandServer({
    host: '127.0.0.1',
    port: 0,
    sidecarId: SIDECAR_ID,
    apiIssuer: ISSUER,
    apiKeys: await createPublicKeySet([apiKey.publicJwk]),
    claimJti: (jti) => {
      if (seen.has(jti)) return false;
      seen.add(jti);
      return true;
    },
    maxBodyBytes: MAX_BODY,
    handlers,
    metrics,
    log: createLogger({ level: 'silent' }),
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => {
  server.stop(true);
});

interface Answer {
  status: number;
  type: string | null;
  headers: Record<string, string>;
  body: unknown;
}

const HEADERS = ['allow', 'retry-after', 'www-authenticate'];

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  const headers: Record<string, string> = {};
  for (const name of HEADERS) {
    const value = res.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, type: res.headers.get('content-type'), headers, body };
}

async function signed(
  method: 'GET' | 'POST',
  path: string,
  body: string,
  options: { typ?: string; token?: string } = {},
): Promise<Answer> {
  const token =
    options.token ??
    (await signChannelMessage({
      key: apiKey,
      issuer: ISSUER,
      audience: `sidecar:${SIDECAR_ID}`,
      typ: options.typ ?? TYP_COMMAND,
      method,
      path,
      body,
    }));
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(method === 'POST' ? { body } : {}),
  });
  return answer(res);
}

const problem = (status: number, code: string, title: string, detail: string, extra = {}) => ({
  type: expect.stringMatching(/^urn:outdial:problem:/),
  title,
  status,
  detail,
  code,
  ...extra,
});

const command = () => ({
  call_id: crypto.randomUUID(),
  phone_number: '5551234000',
  context: 'outbound-ivr',
  extension: 's',
  priority: 1,
  timeout_ms: 30000,
  caller_id: null,
  variables: {},
  requested_at: new Date().toISOString(),
});

describe('the command server', () => {
  test('answers health, readiness and metrics without a signature', async () => {
    expect(await answer(await fetch(`${base}/health`))).toEqual({
      status: 200,
      type: 'application/json',
      headers: {},
      body: { status: 'ok' },
    });
    expect(await answer(await fetch(`${base}/readiness`))).toEqual({
      status: 200,
      type: 'application/json',
      headers: {},
      body: { status: 'ready', checks: { ari: { ok: true } } },
    });
    state.ready = false;
    try {
      expect(await answer(await fetch(`${base}/readiness`))).toEqual({
        status: 503,
        type: 'application/json',
        headers: {},
        body: { status: 'not_ready', checks: { ari: { ok: false } } },
      });
    } finally {
      state.ready = true;
    }
    const scrape = await fetch(`${base}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toBe(metrics.registry.contentType);
    expect(await scrape.text()).toContain('sidecar_commands_total');
  });

  test('an unknown path is 404 and a wrong method 405 with Allow, as problem+json', async () => {
    for (const [method, path] of [
      ['GET', '/v1/nothing'],
      ['POST', '/health'],
      ['DELETE', '/metrics'],
      ['GET', `${SIDECAR_PATHS.originate}/`],
    ] as const) {
      expect({ method, path, ...(await answer(await fetch(`${base}${path}`, { method }))) }).toEqual({
        method,
        path,
        status: 404,
        type: 'application/problem+json',
        headers: {},
        body: problem(404, 'not_found', 'Not found', 'no such endpoint'),
      });
    }
    for (const [method, path, allow] of [
      ['GET', SIDECAR_PATHS.originate, 'POST'],
      ['PUT', SIDECAR_PATHS.hangup, 'POST'],
      ['POST', SIDECAR_PATHS.status, 'GET'],
      ['DELETE', SIDECAR_PATHS.status, 'GET'],
    ] as const) {
      expect({ method, path, ...(await answer(await fetch(`${base}${path}`, { method }))) }).toEqual({
        method,
        path,
        status: 405,
        type: 'application/problem+json',
        headers: { allow },
        body: problem(405, 'method_not_allowed', 'Method not allowed', `use ${allow}`),
      });
    }
  });

  test('an unsigned, missigned or replayed command is 401 with WWW-Authenticate', async () => {
    const body = JSON.stringify(command());
    const unsigned = await answer(await fetch(`${base}${SIDECAR_PATHS.originate}`, { method: 'POST', body }));
    expect(unsigned).toEqual({
      status: 401,
      type: 'application/problem+json',
      headers: { 'www-authenticate': 'Bearer' },
      body: problem(
        401,
        'unauthorized',
        'Signature refused',
        'a signed command needs Authorization: Bearer <token>',
      ),
    });
    expect(await signed('POST', SIDECAR_PATHS.originate, body, { typ: TYP_EVENTS })).toEqual({
      status: 401,
      type: 'application/problem+json',
      headers: { 'www-authenticate': 'Bearer' },
      body: problem(
        401,
        'unauthorized',
        'Signature refused',
        'invalid signature (ERR_JWT_CLAIM_VALIDATION_FAILED)',
      ),
    });
    const token = await signChannelMessage({
      key: apiKey,
      issuer: ISSUER,
      audience: `sidecar:${SIDECAR_ID}`,
      typ: TYP_COMMAND,
      method: 'POST',
      path: SIDECAR_PATHS.originate,
      body,
    });
    expect((await signed('POST', SIDECAR_PATHS.originate, body, { token })).status).toBe(200);
    expect(await signed('POST', SIDECAR_PATHS.originate, body, { token })).toEqual({
      status: 401,
      type: 'application/problem+json',
      headers: { 'www-authenticate': 'Bearer' },
      body: problem(401, 'unauthorized', 'Signature refused', 'replayed message'),
    });
    expect(await signed('POST', SIDECAR_PATHS.hangup, body, { token })).toMatchObject({
      status: 401,
      body: { detail: 'signature is for another request' },
    });
  });

  test('a body over the limit is 413, whether it says its length or not', async () => {
    const big = JSON.stringify({ ...command(), caller_id: 'x'.repeat(MAX_BODY) });
    const expected = {
      status: 413,
      type: 'application/problem+json',
      headers: {},
      body: problem(413, 'payload_too_large', 'Body too large', `commands are at most ${MAX_BODY} bytes`),
    };
    expect(await signed('POST', SIDECAR_PATHS.originate, big)).toEqual(expected);
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(big);
        for (let i = 0; i < bytes.length; i += 512) controller.enqueue(bytes.slice(i, i + 512));
        controller.close();
      },
    });
    const chunked = await fetch(`${base}${SIDECAR_PATHS.originate}`, { method: 'POST', body: chunks });
    expect(await answer(chunked)).toEqual(expected);
    const scrape = await (await fetch(`${base}/metrics`)).text();
    expect(scrape).toContain('sidecar_commands_total{command="originate",result="too_large"} 2');
  });

  test('a signed body that is not JSON is 400; one that is not a command 422 with its errors', async () => {
    expect(await signed('POST', SIDECAR_PATHS.originate, '{not json')).toEqual({
      status: 400,
      type: 'application/problem+json',
      headers: {},
      body: problem(400, 'invalid_json', 'Body is not JSON', 'the command body must be JSON'),
    });
    const bad = { ...command(), phone_number: '+1-555', priority: 0 };
    expect(await signed('POST', SIDECAR_PATHS.originate, JSON.stringify(bad))).toEqual({
      status: 422,
      type: 'application/problem+json',
      headers: {},
      body: problem(
        422,
        'invalid_command',
        'Command does not match its schema',
        'the command does not match its schema',
        {
          errors: [
            { path: 'phone_number', message: expect.any(String) },
            { path: 'priority', message: expect.any(String) },
          ],
        },
      ),
    });
    expect(await signed('POST', SIDECAR_PATHS.hangup, JSON.stringify({ call_id: 'x' }))).toMatchObject({
      status: 422,
      body: { code: 'invalid_command', errors: [{ path: 'call_id' }, { path: 'requested_at' }] },
    });
  });

  test('signed commands get their handler’s reply, with Retry-After when unavailable', async () => {
    const originate = command();
    expect(await signed('POST', SIDECAR_PATHS.originate, JSON.stringify(originate))).toEqual({
      status: 200,
      type: 'application/json',
      headers: {},
      body: { outcome: 'dialing', call_id: originate.call_id, channel: 'Local/x;1' },
    });
    state.originate = {
      outcome: 'unavailable',
      call_id: originate.call_id,
      reason: 'queue_full',
      retry_after_s: 7,
    };
    try {
      expect(await signed('POST', SIDECAR_PATHS.originate, JSON.stringify(originate))).toEqual({
        status: 200,
        type: 'application/json',
        headers: { 'retry-after': '7' },
        body: state.originate,
      });
    } finally {
      state.originate = null;
    }
    state.accepting = false;
    try {
      expect(await signed('POST', SIDECAR_PATHS.originate, JSON.stringify(originate))).toEqual({
        status: 200,
        type: 'application/json',
        headers: { 'retry-after': '5' },
        body: {
          outcome: 'unavailable',
          call_id: originate.call_id,
          reason: 'shutting_down',
          retry_after_s: 5,
        },
      });
    } finally {
      state.accepting = true;
    }
    const hangup = { call_id: originate.call_id, requested_at: new Date().toISOString() };
    expect(await signed('POST', SIDECAR_PATHS.hangup, JSON.stringify(hangup))).toEqual({
      status: 200,
      type: 'application/json',
      headers: {},
      body: { call_id: originate.call_id, outcome: 'hanging_up' },
    });
    expect(await signed('GET', SIDECAR_PATHS.status, '')).toEqual({
      status: 200,
      type: 'application/json',
      headers: {},
      body: await handlers.status(),
    });
  });

  test('ARI down during a hang-up is 503 with Retry-After; any other failure 500 that reveals nothing', async () => {
    const hangup = JSON.stringify({ call_id: crypto.randomUUID(), requested_at: new Date().toISOString() });
    state.hangupThrows = new AriError('breaker open', {
      kind: 'breaker_open',
      retryable: true,
      countsForBreaker: false,
      retryAfterS: 9,
    });
    try {
      expect(await signed('POST', SIDECAR_PATHS.hangup, hangup)).toEqual({
        status: 503,
        type: 'application/problem+json',
        headers: { 'retry-after': '9' },
        body: problem(
          503,
          'ari_unavailable',
          'Asterisk is unavailable',
          'Asterisk could not be asked to hang up; try again',
        ),
      });
      state.hangupThrows = new Error('boom');
      expect(await signed('POST', SIDECAR_PATHS.hangup, hangup)).toEqual({
        status: 500,
        type: 'application/problem+json',
        headers: {},
        body: problem(500, 'internal', 'Internal error', 'the sidecar failed to handle the request'),
      });
    } finally {
      state.hangupThrows = null;
    }
    state.statusThrows = true;
    try {
      expect(await signed('GET', SIDECAR_PATHS.status, '')).toEqual({
        status: 500,
        type: 'application/problem+json',
        headers: {},
        body: problem(500, 'internal', 'Internal error', 'the sidecar failed to handle the request'),
      });
    } finally {
      state.statusThrows = false;
    }
  });
});
