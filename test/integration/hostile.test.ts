import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { count } from 'drizzle-orm';
import { encodeBase64Url } from '../../api/lib/base64url.ts';
import { createApiLogger } from '../../api/lib/logger.ts';
import { callEvents, calls, idempotencyKeys } from '../../db/schema.ts';
import {
  expectProblem,
  MODES,
  type RequestOptions,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

let stack: TestStack;
let op: TestUser;
let admin: TestUser;
/** What the API logged (the Bun API only: workerd logs in its own process). */
const logs: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({
    logger: createApiLogger({ level: 'info', sink: (line) => logs.push(line) }),
  });
  op = await stack.user('operator');
  admin = await stack.user('admin');
}, 60_000);
afterAll(() => stack.stop());

async function nothingStored() {
  const db = stack.database.db;
  const [c] = await db.select({ n: count() }).from(calls);
  const [e] = await db.select({ n: count() }).from(callEvents);
  const [k] = await db.select({ n: count() }).from(idempotencyKeys);
  expect(Number(c!.n)).toBe(0);
  expect(Number(e!.n)).toBe(0);
  expect(Number(k!.n)).toBe(0);
  expect(stack.sidecar.originates).toHaveLength(0);
  expect(stack.sidecar.hangups).toHaveLength(0);
}

const BAD_NUMBERS = [
  '555abc1234',
  '5551234@evil',
  '555/1234000',
  '555&1234000',
  '555;1234000',
  '+1-555-12;34@x',
  '555 1234000',
  ' 5551234000',
  '5551234000 ',
  '５５５１２３４０００', // full-width digits
  '٥٥٥١٢٣٤٠٠٠', // Arabic-Indic digits
  '55512340\u0000',
  '123456', // too short
  '+12345', // 6 characters with the +
  '1'.repeat(21), // too long
  '++5551234000',
  '5551234000+',
  '',
  '0x5551234',
  '5551234000\n',
];

for (const mode of MODES) {
  describe(`hostile input (${mode})`, () => {
    test('bad numbers in the body of POST /api/v2/calls', async () => {
      for (const phone_number of BAD_NUMBERS) {
        const res = await stack.request(mode, '/api/v2/calls', { token: op.token, json: { phone_number } });
        const problem = await expectProblem(res, 422, 'validation_error');
        expect(problem.errors?.[0]?.path).toBe('body.phone_number');
      }
      for (const phone_number of [5551234000, null, ['5551234000'], { n: 1 }, true]) {
        await expectProblem(
          await stack.request(mode, '/api/v2/calls', { token: op.token, json: { phone_number } }),
          422,
          'validation_error',
        );
      }
      await nothingStored();
    });

    test('bad numbers in the path of POST /api/v2/interaction/{number}', async () => {
      for (const n of BAD_NUMBERS.filter((x) => x.length > 0)) {
        const res = await stack.request(mode, `/api/v2/interaction/${encodeURIComponent(n)}`, {
          method: 'POST',
          token: op.token,
        });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.headers.get('content-type')).toStartWith('application/problem+json');
      }
      for (const raw of [
        '555/1234000',
        '..%2F..%2Fetc%2Fpasswd',
        '%2e%2e/%2e%2e/admin',
        '5551234000%00',
        '555%201234000',
      ]) {
        const res = await stack.request(mode, `/api/v2/interaction/${raw}`, {
          method: 'POST',
          token: op.token,
        });
        expect([404, 422]).toContain(res.status);
        expect(res.headers.get('content-type')).toStartWith('application/problem+json');
      }
      await nothingStored();
    });

    test('a context outside the allow-list, unsafe extension, caller id, variables, priority, timeout', async () => {
      const bodies: Record<string, unknown>[] = [
        { context: 'from-internal' },
        { context: 'default' },
        { context: 'outbound-ivr,s,1' },
        { context: 'outbound-ivr@evil' },
        { context: '' },
        { extension: 's;Dial(x)' },
        { extension: 's@other' },
        { extension: 'x'.repeat(51) },
        { priority: 0 },
        { priority: 11 },
        { priority: 1.5 },
        { priority: '1' },
        { timeout: 0 },
        { timeout: 600_001 },
        { timeout: -1 },
        { timeout: 2.5 },
        { caller_id: '' },
        { caller_id: 'x'.repeat(51) },
        { caller_id: 'evil\r\nVariable: X=1' },
        { caller_id: 'a;b' },
        { variables: { 'CALLERID(num)': '1' } },
        { variables: { 'A B': '1' } },
        { variables: { _INHERIT: '1' } },
        // An own `__proto__` member, which a record schema would drop without a word.
        { variables: JSON.parse('{"A":"1","__proto__":"1"}') },
        { variables: { A: 'line\nbreak' } },
        { variables: { A: 'x'.repeat(257) } },
        { variables: { A: 1 } },
        { variables: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`V${i}`, 'x'])) },
        { variables: ['A=1'] },
        { status_callback: 'ftp://example.com/x' },
        { status_callback: 'not a url' },
        { status_callback_events: ['exploded'] },
      ];
      for (const extra of bodies) {
        const res = await stack.request(mode, '/api/v2/calls', {
          token: op.token,
          json: { phone_number: '5551234000', ...extra },
        });
        const problem = await expectProblem(res, 422, 'validation_error');
        expect(problem.errors?.length).toBeGreaterThan(0);
      }
      const interaction = await stack.request(mode, '/api/v2/interaction/5551234000', {
        token: op.token,
        json: { context: 'from-internal' },
      });
      expect((await expectProblem(interaction, 422, 'validation_error')).errors?.[0]?.path).toBe(
        'body.context',
      );
      await nothingStored();
    });

    test('malformed JSON, wrong content types, bodies that are not objects', async () => {
      const post = (body: string, type?: string) =>
        stack.request(mode, '/api/v2/calls', {
          method: 'POST',
          token: op.token,
          body,
          headers: type ? { 'Content-Type': type } : {},
        });
      await expectProblem(
        await post('{"phone_number": "5551234000"', 'application/json'),
        400,
        'malformed_request',
      );
      await expectProblem(
        await post("{'phone_number': '5551234000'}", 'application/json'),
        400,
        'malformed_request',
      );
      await expectProblem(await post('', 'application/json'), 400, 'malformed_request');
      await expectProblem(await post('[]', 'application/json'), 422, 'validation_error');
      await expectProblem(await post('"5551234000"', 'application/json'), 422, 'validation_error');
      await expectProblem(await post('null', 'application/json'), 422, 'validation_error');
      await expectProblem(await post('phone_number=5551234000', 'application/x-www-form-urlencoded'), 415);
      await expectProblem(await post('{"phone_number":"5551234000"}', 'text/plain'), 415);
      await expectProblem(await post('<call/>', 'application/xml'), 415);
      await expectProblem(await post('{"phone_number":"5551234000"}'), 415);
      const interaction = await stack.request(mode, '/api/v2/interaction/5551234000', {
        method: 'POST',
        token: op.token,
        body: '{"context": "x"}',
        headers: { 'Content-Type': 'text/plain' },
      });
      await expectProblem(interaction, 415);
      await expectProblem(
        await stack.request(mode, '/api/v2/interaction/5551234000', {
          method: 'POST',
          token: op.token,
          body: '{nope',
          headers: { 'Content-Type': 'application/json' },
        }),
        400,
        'malformed_request',
      );
      await nothingStored();
    });

    test('every v2 JSON body refuses fields it does not define with a 400 naming them', async () => {
      const id = admin.id;
      const bodies: Array<[method: string, path: string, token: string, body: Record<string, unknown>]> = [
        ['POST', '/api/v2/calls', op.token, { phone_number: '5551234000', tiemout: 5000 }],
        [
          'POST',
          '/api/v2/users',
          admin.token,
          { username: 'someone', password: 'long enough', rol: 'admin' },
        ],
        ['PATCH', `/api/v2/users/${id}`, admin.token, { role: 'admin', active: false }],
        ['POST', `/api/v2/users/${id}/password`, admin.token, { password: 'long enough', notify: true }],
        ['POST', '/api/v2/token/revoke', op.token, { al: true }],
      ];
      for (const [method, path, token, body] of bodies) {
        const res = await stack.request(mode, path, { method, token, json: body });
        const problem = await expectProblem(res, 400, 'unknown_field');
        const unknown = Object.keys(body).at(-1)!;
        expect({ path, pointers: problem.errors?.map((e) => e.pointer) }).toEqual({
          path,
          pointers: [`/${unknown}`],
        });
        expect(problem.detail).toContain(unknown);
      }
      // Nothing changed: the admin is still an admin, the operator's token still works.
      expect((await stack.request(mode, '/api/v2/me', { token: admin.token })).status).toBe(200);
      expect((await stack.request(mode, '/api/v2/me', { token: op.token })).status).toBe(200);
      await nothingStored();
    });

    test('every refusal says in plain words what is wrong and names the field', async () => {
      const id = crypto.randomUUID();
      const call = (extra: unknown) => ({ json: extra, token: op.token });
      const form = (body: string, type = 'application/x-www-form-urlencoded') => ({
        method: 'POST',
        body,
        headers: { 'Content-Type': type },
      });
      // path, request, status, where the answer must point (a JSON Pointer into the body, or a parameter)
      const table: Array<
        [string, RequestOptions, number, { pointer: string } | { parameter: string } | null]
      > = [
        ['/api/v2/calls', call({ phone_number: 5551234000 }), 422, { pointer: '/phone_number' }],
        ['/api/v2/calls', call({}), 422, { pointer: '/phone_number' }],
        ['/api/v2/calls', call({ phone_number: '555' }), 422, { pointer: '/phone_number' }],
        ['/api/v2/calls', call({ phone_number: '5551234000', priority: '1' }), 422, { pointer: '/priority' }],
        ['/api/v2/calls', call({ phone_number: '5551234000', priority: 1.5 }), 422, { pointer: '/priority' }],
        ['/api/v2/calls', call({ phone_number: '5551234000', timeout: 0 }), 422, { pointer: '/timeout' }],
        [
          '/api/v2/calls',
          call({ phone_number: '5551234000', caller_id: '' }),
          422,
          { pointer: '/caller_id' },
        ],
        [
          '/api/v2/calls',
          call({ phone_number: '5551234000', status_callback_events: ['exploded'] }),
          422,
          { pointer: '/status_callback_events/0' },
        ],
        [
          '/api/v2/calls',
          call({ phone_number: '5551234000', variables: { A: 1 } }),
          422,
          { pointer: '/variables/A' },
        ],
        [
          '/api/v2/calls',
          call({ phone_number: '5551234000', variables: { 'CALLERID(num)': '1' } }),
          422,
          { pointer: '/variables/CALLERID(num)' },
        ],
        [
          '/api/v2/calls',
          call({ phone_number: '5551234000', variables: ['A=1'] }),
          422,
          { pointer: '/variables' },
        ],
        ['/api/v2/calls', call([]), 422, { pointer: '' }],
        [
          '/api/v2/calls',
          { ...form('{"phone_number": "5551234000"', 'application/json'), token: op.token },
          400,
          null,
        ],
        ['/api/v2/calls', { ...form('', 'application/json'), token: op.token }, 400, null],
        ['/api/v2/calls', { ...form('phone_number=5551234000'), token: op.token }, 415, null],
        [
          '/api/v2/calls',
          { ...call({ phone_number: '5551234000' }), headers: { 'Idempotency-Key': 'has space' } },
          422,
          { parameter: 'idempotency-key' },
        ],
        ['/api/v2/calls?limit=0', { token: op.token }, 422, { parameter: 'limit' }],
        ['/api/v2/calls?limit=5&limit=6', { token: op.token }, 422, { parameter: 'limit' }],
        ['/api/v2/calls?status=exploded', { token: op.token }, 422, { parameter: 'status' }],
        ['/api/v2/calls?created_after=yesterday', { token: op.token }, 422, { parameter: 'created_after' }],
        ['/api/v2/calls/not-a-uuid', { token: op.token }, 422, { parameter: 'call_id' }],
        ['/api/v2/token', form('password=x'), 422, { pointer: '/username' }],
        ['/api/v2/token', { json: { username: 'a', password: 'b' } }, 415, null],
        [
          '/api/v2/users',
          { json: { username: 'ab', password: 'long enough' }, token: admin.token },
          422,
          { pointer: '/username' },
        ],
        [
          `/api/v2/users/${id}`,
          { method: 'PATCH', json: { role: 'god' }, token: admin.token },
          422,
          { pointer: '/role' },
        ],
      ];
      const RAW =
        /Invalid input|Invalid option|Too (?:small|big)|expected|received|Unexpected token|JSON Parse|ZodError|Malformed/;
      for (const [path, options, status, where] of table) {
        const res = await stack.request(mode, path, options);
        const problem = await expectProblem(res, status);
        const said = [problem.detail, ...(problem.errors ?? []).map((e) => e.message)].join(' | ');
        expect({ path, status, said, raw: RAW.test(said) }).toEqual({ path, status, said, raw: false });
        if (where) {
          const item = problem.errors?.find((e) =>
            'pointer' in where ? e.pointer === where.pointer : e.parameter === where.parameter,
          );
          expect({ path, said, where, found: item !== undefined }).toEqual({
            path,
            said,
            where,
            found: true,
          });
          const name = 'pointer' in where ? where.pointer.split('/').pop() || 'body' : where.parameter;
          expect(problem.detail).toContain(name);
        }
        for (const e of problem.errors ?? [])
          expect(e.pointer !== undefined || e.parameter !== undefined).toBe(true);
      }
      // The media types: what the route takes, and what was sent.
      const token = await stack.request(mode, '/api/v2/token', { json: { username: 'a', password: 'b' } });
      const detail = (await expectProblem(token, 415, 'unsupported_media_type')).detail;
      expect(detail).toContain('application/x-www-form-urlencoded');
      expect(detail).toContain('application/json');
      await nothingStored();
    });

    test('bodies over 64 KiB: with Content-Length and chunked', async () => {
      const big = JSON.stringify({ phone_number: '5551234000', variables: { A: 'x'.repeat(70 * 1024) } });
      await expectProblem(
        await stack.request(mode, '/api/v2/calls', {
          method: 'POST',
          token: op.token,
          body: big,
          headers: { 'Content-Type': 'application/json' },
        }),
        413,
        'payload_too_large',
      );
      const chunks = [new TextEncoder().encode('{"phone_number":"5551234000","variables":{"A":"')];
      for (let i = 0; i < 80; i++) chunks.push(new TextEncoder().encode('x'.repeat(1024)));
      chunks.push(new TextEncoder().encode('"}}'));
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      });
      const chunked = await stack.request(mode, '/api/v2/calls', {
        method: 'POST',
        token: op.token,
        body: stream,
        headers: { 'Content-Type': 'application/json' },
      });
      await expectProblem(chunked, 413, 'payload_too_large');
      // A Content-Length that lies low does not let a large body through either.
      const login = await stack.request(mode, '/api/v2/token', {
        method: 'POST',
        body: `username=a&password=${'x'.repeat(70 * 1024)}`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      await expectProblem(login, 413, 'payload_too_large');
      await nothingStored();
    });

    test('non-UUID and path-traversal ids on every call route', async () => {
      // Bare `..` and `%2e%2e` segments never reach a server: URL parsing resolves them before sending.
      const ids = [
        'not-a-uuid',
        '1',
        '..%2F..%2Fusers',
        '..%5c..%5cusers',
        '00000000-0000-0000-0000-00000000000g',
        "1' or '1'='1",
        'a'.repeat(300),
      ];
      for (const id of ids) {
        for (const [method, path] of [
          ['GET', `/api/v2/calls/${id}`],
          ['POST', `/api/v2/calls/${id}/hangup`],
          ['GET', `/api/v2/calls/${id}/events`],
          ['GET', `/api/v2/status/${id}`],
          ['GET', `/api/v2/interaction/${id}/status`],
        ] as const) {
          const res = await stack.request(mode, path, { method, token: op.token });
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(res.headers.get('content-type')).toStartWith('application/problem+json');
        }
      }
      // A well-formed id that does not exist is a plain 404.
      await expectProblem(
        await stack.request(mode, `/api/v2/calls/${crypto.randomUUID()}`, { token: op.token }),
        404,
        'call_not_found',
      );
      await nothingStored();
    });

    test('crafted cursors and dates on the listings: 422 naming the parameter, and no query in the log', async () => {
      const cursor = (o: unknown) => encodeBase64Url(JSON.stringify(o));
      const id = crypto.randomUUID();
      const cases: Array<[path: string, parameter: string, token: string]> = [
        // Dates JavaScript parses and PostgreSQL has no room for (it has no year 0).
        ['/api/v2/calls?created_after=0000-01-01T00:00:00Z', 'created_after', op.token],
        ['/api/v2/calls?created_before=0001-01-01T00:00:00%2B14:00', 'created_before', op.token],
        [`/api/v2/calls?cursor=${cursor({ t: '0000-01-01T00:00:00Z', i: id })}`, 'cursor', op.token],
        [`/api/v2/calls?cursor=${cursor({ t: '+275760-09-13T00:00:00.000Z', i: id })}`, 'cursor', op.token],
        [
          `/api/v2/calls?cursor=${cursor({ t: '2026-01-01T00:00:00Z', i: '-'.repeat(36) })}`,
          'cursor',
          op.token,
        ],
        [
          `/api/v2/calls?cursor=${cursor({ t: '2026-01-01T00:00:00Z', i: 'g'.repeat(36) })}`,
          'cursor',
          op.token,
        ],
        [`/api/v2/calls?cursor=${cursor({ t: 1, i: id })}`, 'cursor', op.token],
        ['/api/v2/events?last_event_id=-1', 'last_event_id', op.token],
        // A NUL, which no text column can hold.
        [`/api/v2/users?cursor=${encodeBase64Url('a\u0000b')}`, 'cursor', admin.token],
      ];
      const logged = logs.length;
      for (const [path, parameter, token] of cases) {
        const problem = await expectProblem(
          await stack.request(mode, path, { token }),
          422,
          'validation_error',
        );
        expect(problem.errors?.map((e) => e.path)).toEqual([`query.${parameter}`]);
        expect(problem.detail).toContain(parameter);
      }
      const written = logs.slice(logged).join('\n');
      expect(written).not.toMatch(/select|from "|params:/i);
      expect(written).not.toContain('"level":"error"');
    });

    test('unknown routes answer 404; a method a route does not have answers 405 with Allow', async () => {
      await expectProblem(await stack.request(mode, '/api/v2/nope', { token: op.token }), 404, 'not_found');
      await expectProblem(
        await stack.request(mode, '/api/v2/nope', { method: 'DELETE', token: op.token }),
        404,
        'not_found',
      );
      await expectProblem(await stack.request(mode, '/../../etc/passwd'), 404, 'not_found');
      await expectProblem(await stack.request(mode, '/api/v2/calls/', { token: op.token }), 404, 'not_found');
      const id = crypto.randomUUID();
      const wrong: Array<[method: string, path: string, allow: string]> = [
        ['DELETE', '/api/v2/calls', 'GET, HEAD, POST, OPTIONS'],
        ['PUT', '/api/v2/calls', 'GET, HEAD, POST, OPTIONS'],
        ['GET', '/api/v2/token', 'POST, OPTIONS'],
        ['DELETE', `/api/v2/calls/${id}`, 'GET, HEAD, OPTIONS'],
        ['GET', `/api/v2/calls/${id}/hangup`, 'POST, OPTIONS'],
        ['POST', `/api/v2/calls/${id}/events`, 'GET, HEAD, OPTIONS'],
        ['GET', '/api/v2/interaction/5551234000', 'POST, OPTIONS'],
        ['PUT', `/api/v2/users/${id}`, 'GET, HEAD, PATCH, OPTIONS'],
        ['POST', '/health', 'GET, HEAD, OPTIONS'],
        ['DELETE', '/openapi.json', 'GET, HEAD, OPTIONS'],
        ['PATCH', '/api/v2/sidecar/events', 'POST, OPTIONS'],
      ];
      for (const [method, path, allow] of wrong) {
        // With a token or none: the method is wrong for everyone, and says nothing about anyone's data.
        for (const token of [op.token, undefined]) {
          const res = await stack.request(mode, path, { method, ...(token ? { token } : {}) });
          expect({ method, path, allow: res.headers.get('allow') }).toEqual({ method, path, allow });
          const problem = await expectProblem(res, 405, 'method_not_allowed');
          expect(problem.detail).toContain(method);
          expect(problem.detail).toContain(allow);
        }
      }
      // HEAD is GET without the body: where there is no GET, HEAD is a 405 too.
      const head = await stack.request(mode, '/api/v2/token', { method: 'HEAD' });
      expect(head.status).toBe(405);
      expect(head.headers.get('allow')).toBe('POST, OPTIONS');
      expect(await head.text()).toBe('');
      expect((await stack.request(mode, '/health', { method: 'HEAD' })).status).toBe(200);
      // OPTIONS (without CORS configured) says what the path allows.
      const options = await stack.request(mode, '/api/v2/calls', { method: 'OPTIONS' });
      expect(options.status).toBe(204);
      expect(options.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
      await expectProblem(await stack.request(mode, '/api/v2/nope', { method: 'OPTIONS' }), 404, 'not_found');
      await nothingStored();
    });
  });
}
