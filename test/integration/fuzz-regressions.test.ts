import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { count } from 'drizzle-orm';
import { API_EVENTS_PATH } from '../../api/shared/contract/index.ts';
import { calls } from '../../db/schema.ts';
import {
  expectProblem,
  MODES,
  startTestStack,
  type TestStack,
  type TestUser,
  test,
} from '../harness/stack.ts';

/** Requests the hostile-input suite (test/fuzz) found mishandled, kept as plain tests. */

let stack: TestStack;
let op: TestUser;

beforeAll(async () => {
  stack = await startTestStack();
  op = await stack.user('operator');
}, 60_000);
afterAll(() => stack.stop());

for (const mode of MODES) {
  describe(`found by the fuzzer (${mode})`, () => {
    test('a username with a NUL or another control character is refused, not a 500', async () => {
      for (const username of ['\u0000', 'admin\u0000', 'a\u0007b', 'x\u001b[31m', 'del\u007f']) {
        const res = await stack.request(mode, '/api/v2/token', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ username, password: 'whatever' }).toString(),
        });
        const problem = await expectProblem(res, 422, 'validation_error');
        expect(problem.errors?.[0]?.path).toBe('form.username');
      }
      // Ordinary logins are untouched.
      expect((await stack.login(op.username, op.password, mode)).status).toBe(200);
    });

    test('a status callback that is not a URI is refused, not trimmed and dialled', async () => {
      const before = stack.sidecar.originates.length;
      for (const status_callback of [
        ' https://example.com/hooks',
        'https://example.com/hooks\n',
        'https://example.com/a b',
        'https://exämple.com/hooks',
        'https://example.com/%zz',
      ]) {
        const res = await stack.request(mode, '/api/v2/calls', {
          token: op.token,
          json: { phone_number: '+15551234000', status_callback },
        });
        const problem = await expectProblem(res, 422, 'validation_error');
        expect(problem.errors?.[0]?.path).toBe('body.status_callback');
      }
      expect(stack.sidecar.originates.length).toBe(before);
      const ok = await stack.request(mode, '/api/v2/calls', {
        token: op.token,
        json: { phone_number: '+15551234000', status_callback: 'https://example.com/hooks?a=1&b=%20' },
      });
      expect(ok.status).toBe(200);
    });

    test('a sidecar batch under a media type that only starts like application/json is refused', async () => {
      for (const type of ['application/json-seq', 'application/json-patch+json', 'application/json.x']) {
        const body = JSON.stringify({
          sidecar_id: stack.sidecar.id,
          batch_id: crypto.randomUUID(),
          events: [],
        });
        const res = await stack.request(mode, API_EVENTS_PATH, {
          method: 'POST',
          headers: { 'Content-Type': type, Authorization: 'Bearer not-checked-before-the-media-type' },
          body,
        });
        await expectProblem(res, 415, 'unsupported_media_type');
      }
      // With parameters, application/json is still application/json.
      const res = await stack.request(mode, API_EVENTS_PATH, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: '{}',
      });
      await expectProblem(res, 401, 'invalid_signature');
    });
  });
}

describe('the document states the rules for channel variables', () => {
  test('a value pattern values can match, the name pattern and the count', async () => {
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as {
      components: { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> };
    };
    for (const name of ['CreateCallRequest', 'InteractionRequest']) {
      const variables = doc.components.schemas[name]!.properties.variables as {
        additionalProperties: { pattern: string };
        propertyNames: { pattern: string };
        maxProperties: number;
      };
      const value = new RegExp(variables.additionalProperties.pattern, 'u');
      expect(value.test('spring-2026')).toBe(true);
      expect(value.test('café ☎')).toBe(true);
      expect(value.test('line\nbreak')).toBe(false);
      expect(value.test('\u0085')).toBe(false);
      const key = new RegExp(variables.propertyNames.pattern, 'u');
      expect(key.test('CAMPAIGN_2')).toBe(true);
      expect(key.test('CALLERID(num)')).toBe(false);
      expect(variables.maxProperties).toBe(20);
    }
    // What the document allows, the API takes.
    const before = Number((await stack.database.db.select({ n: count() }).from(calls))[0]!.n);
    const res = await stack.request('http', '/api/v2/calls', {
      token: op.token,
      json: { phone_number: '+15551234000', variables: { CAMPAIGN: 'café ☎', CONTACT_ID: '7' } },
    });
    expect(res.status).toBe(200);
    expect(Number((await stack.database.db.select({ n: count() }).from(calls))[0]!.n)).toBe(before + 1);
  });
});
