import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { createApp } from '../../api/app.ts';
import { DOC, OPERATIONS, SCHEMAS } from './harness.ts';
import { RequestGenerator } from './requests.ts';
import type { JsonSchema } from './schema.ts';

/**
 * The generators and the validator the hostile-input suite relies on, checked against the
 * document and against the routes' own zod schemas: what the document calls invalid, the route
 * refuses too (else an invalid request could pass for a valid one), and every generator ends.
 */

const SEED = 7;
const components = Object.entries(DOC.components?.schemas ?? {});

describe('the validator', () => {
  test('formats and patterns as JSON Schema means them', () => {
    const s = SCHEMAS;
    expect(s.conforms({ type: 'string', format: 'uuid' }, '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b')).toBe(true);
    expect(s.conforms({ type: 'string', format: 'uuid' }, '5b0f8c1e4d0a4a539f0e0c8a4f1f6a2b')).toBe(false);
    expect(s.conforms({ type: 'string', format: 'date-time' }, '2026-11-01T01:00:00+01:00')).toBe(true);
    for (const bad of [
      '2026-11-01T00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-11-01 00:00:00Z',
      '2026-11-01T24:00:00Z',
    ])
      expect(s.conforms({ type: 'string', format: 'date-time' }, bad)).toBe(false);
    expect(s.conforms({ type: 'string', format: 'uri' }, 'https://example.com/a?b=c')).toBe(true);
    for (const bad of [
      ' https://example.com',
      'https://example.com\n',
      'https://example.com/a b',
      'not a url',
    ])
      expect(s.conforms({ type: 'string', format: 'uri' }, bad)).toBe(false);
    // Lengths count characters, not UTF-16 units.
    expect(s.conforms({ type: 'string', maxLength: 2 }, '😀😀')).toBe(true);
    expect(s.conforms({ type: 'integer' }, 1.5)).toBe(false);
    expect(s.conforms({ type: ['integer', 'null'] }, null)).toBe(true);
    expect(s.conforms({ type: 'object', required: ['constructor'] }, {})).toBe(false);
    expect(
      s.conforms({ type: 'object', properties: { a: { type: 'string' } } }, JSON.parse('{"__proto__":1}')),
    ).toBe(true);
  });

  test("the document's examples fit their own schemas", () => {
    const misfits: string[] = [];
    for (const [name, schema] of components) {
      for (const [prop, sub] of Object.entries(schema.properties ?? {})) {
        if (sub.example !== undefined && !SCHEMAS.conforms(sub, sub.example))
          misfits.push(`${name}.${prop}: ${SCHEMAS.violation(sub, sub.example)}`);
      }
      if (schema.example !== undefined && !SCHEMAS.conforms(schema, schema.example)) misfits.push(name);
    }
    for (const op of OPERATIONS)
      for (const p of op.params)
        if (p.schema.example !== undefined && !SCHEMAS.conforms(p.schema, p.schema.example))
          misfits.push(`${op.id} ${p.in}.${p.name}`);
    expect(misfits).toEqual([]);
  });
});

describe('value generators', () => {
  for (const [name, schema] of components) {
    test(`${name}: valid values conform, invalid ones do not`, () => {
      for (const v of fc.sample(SCHEMAS.valid(schema), { numRuns: 60, seed: SEED }))
        expect(SCHEMAS.violation(schema, v)).toBeNull();
      for (const v of fc.sample(SCHEMAS.invalid(schema), { numRuns: 60, seed: SEED }))
        expect(SCHEMAS.violation(schema, v)).not.toBeNull();
    });
  }
});

// The routes' request body schemas (zod), as registered with the app.
const app = createApp({
  services: () => {
    throw new Error('no requests are served');
  },
});
const bodySchemas = new Map<string, { safeParse(v: unknown): { success: boolean } }>();
for (const d of app.openAPIRegistry.definitions) {
  if (d.type !== 'route') continue;
  const content = d.route.request?.body?.content as Record<string, { schema?: unknown }> | undefined;
  const schema = content ? Object.values(content)[0]?.schema : undefined;
  if (schema && typeof (schema as { safeParse?: unknown }).safeParse === 'function')
    bodySchemas.set(
      `${d.route.method.toUpperCase()} ${d.route.path}`,
      schema as { safeParse(v: unknown): { success: boolean } },
    );
}

describe('the document against the routes', () => {
  const withBodies = OPERATIONS.filter((op) => op.body && bodySchemas.has(op.id));

  test('every operation with a body has its route schema here', () => {
    expect(withBodies.map((op) => op.id).sort()).toEqual(
      OPERATIONS.filter((op) => op.body)
        .map((op) => op.id)
        .sort(),
    );
  });

  for (const op of withBodies) {
    test(`${op.id}: a body the document calls invalid, the route refuses`, () => {
      const schema = Object.values(op.body!.content)[0] as JsonSchema;
      const zod = bodySchemas.get(op.id)!;
      const form = Object.keys(op.body!.content)[0] === 'application/x-www-form-urlencoded';
      const accepted: string[] = [];
      for (const v of fc.sample(SCHEMAS.invalid(schema), { numRuns: 400, seed: SEED })) {
        // A form carries only strings: what the route sees is the value as text.
        const seen =
          form && typeof v === 'object' && v !== null && !Array.isArray(v)
            ? Object.fromEntries(
                Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]),
              )
            : v;
        if (SCHEMAS.conforms(schema, seen)) continue;
        if (zod.safeParse(seen).success) accepted.push(JSON.stringify(seen).slice(0, 400));
      }
      expect(accepted).toEqual([]);
    });
  }
});

describe('request generators', () => {
  const generator = new RequestGenerator({
    schemas: SCHEMAS,
    pools: {
      call_id: [crypto.randomUUID()],
      user_id: [crypto.randomUUID()],
      flow_id: [crypto.randomUUID()],
      campaign_id: [crypto.randomUUID()],
      key_id: ['0123456789abcdef'],
      name: ['message'],
      phone_number: ['+15551234000'],
      version: ['1'],
      logins: [{ username: 'someone', password: 'a password' }],
      sidecarId: 'sidecar',
    },
  });

  test('every operation gets valid and invalid requests, over fetch and over a raw socket', () => {
    const thin: string[] = [];
    for (const op of OPERATIONS) {
      const sample = fc.sample(generator.forOperation(op), { numRuns: 300, seed: SEED });
      const valid = sample.filter((r) => r.flaws.length === 0 && r.unsure.length === 0).length;
      const invalid = sample.filter((r) => r.flaws.length > 0).length;
      const raw = sample.filter((r) => r.transport === 'raw').length;
      if (valid < 30 || invalid < 20 || raw < 3)
        thin.push(`${op.id}: ${valid} valid, ${invalid} invalid, ${raw} raw`);
    }
    expect(thin).toEqual([]);
  });
});
