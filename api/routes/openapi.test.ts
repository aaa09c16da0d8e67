import { describe, expect, test } from 'bun:test';
import { createRoute, z } from '@hono/zod-openapi';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import { createApp } from '../app.ts';
import { CallWebhookSchema } from '../calls/bodies.ts';
import { buildOpenApiDocument } from '../client/spec.ts';
import { CAMPAIGN_WEBHOOK_KINDS, CampaignWebhook, WEBHOOK_KINDS } from '../shared/contract/index.ts';
import { openApiDocument } from './openapi.ts';

/**
 * The document /openapi.json serves answers every question a client has: it is valid OpenAPI 3.1,
 * every answer of every operation has a schema and an example (each error one per code it may carry,
 * a 422 naming the field), and the webhooks the API sends are in its `webhooks` section.
 */

interface Media {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, { value?: { errors?: { path?: string }[] } }>;
}
interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { content?: Record<string, Media> };
  responses?: Record<string, { content?: Record<string, Media> }>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  webhooks?: Record<string, Record<string, Operation>>;
}

/** Answers that have no body by definition. */
const BODILESS = new Set(['204', '304']);

/** What the document leaves unanswered, one line per gap (empty when nothing is missing). */
function documentGaps(doc: Doc): string[] {
  const gaps: string[] = [];
  for (const [path, operations] of Object.entries(doc.paths))
    for (const [method, operation] of Object.entries(operations)) {
      const name = `${method.toUpperCase()} ${path}`;
      const responses = Object.entries(operation.responses ?? {});
      if (!responses.some(([code]) => code.startsWith('2'))) gaps.push(`${name}: no success response`);
      const codes = new Set(responses.map(([code]) => code));
      if (operation.security?.length && !codes.has('401')) gaps.push(`${name}: needs a token, lists no 401`);
      if (
        operation.security?.some((s) => Object.values(s).some((scopes) => scopes.length > 0)) &&
        !codes.has('403')
      )
        gaps.push(`${name}: needs a scope, lists no 403`);
      for (const [code, response] of responses) {
        if (BODILESS.has(code)) continue;
        const media = Object.entries(response.content ?? {});
        if (media.length === 0) gaps.push(`${name} ${code}: no content`);
        for (const [type, m] of media) {
          if (!m.schema) gaps.push(`${name} ${code} ${type}: no schema`);
          if (code.startsWith('2') && m.example === undefined && m.examples === undefined)
            gaps.push(`${name} ${code} ${type}: no example`);
          if (!code.startsWith('2') && Object.keys(m.examples ?? {}).length === 0 && m.example === undefined)
            gaps.push(`${name} ${code} ${type}: no example`);
          if (code === '422' && !Object.values(m.examples ?? {}).some((e) => e.value?.errors?.[0]?.path))
            gaps.push(`${name} 422: no example naming the field`);
        }
      }
    }
  for (const [name, operations] of Object.entries(doc.webhooks ?? {}))
    for (const operation of Object.values(operations))
      for (const [type, m] of Object.entries(operation.requestBody?.content ?? { none: {} })) {
        if (!m.schema) gaps.push(`webhook ${name} ${type}: no schema`);
        if (m.example === undefined) gaps.push(`webhook ${name} ${type}: no example`);
      }
  return gaps;
}

const doc = buildOpenApiDocument() as unknown as Doc;

/** A JSON Pointer token. */
const token = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * The examples that do not fit their own schema, checked by a JSON Schema 2020-12 validator (the
 * dialect of OpenAPI 3.1) against the document itself, so references resolve as any tool's would.
 */
function misfitExamples(document: Doc): { checked: number; misfits: string[] } {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema(document as object, 'doc');
  const misfits: string[] = [];
  let checked = 0;
  for (const section of ['paths', 'webhooks'] as const)
    for (const [path, operations] of Object.entries(document[section] ?? {}))
      for (const [method, operation] of Object.entries(operations)) {
        const bodies: [string, Media][] = [
          ...Object.entries(operation.responses ?? {}).flatMap(([code, response]) =>
            Object.entries(response.content ?? {}).map(
              ([type, m]) => [`responses/${code}/content/${token(type)}`, m] as [string, Media],
            ),
          ),
          ...Object.entries(operation.requestBody?.content ?? {}).map(
            ([type, m]) => [`requestBody/content/${token(type)}`, m] as [string, Media],
          ),
        ];
        for (const [where, m] of bodies) {
          if (!m.schema) continue;
          const validate = ajv.getSchema(`doc#/${section}/${token(path)}/${method}/${where}/schema`);
          if (!validate) throw new Error(`no schema at ${section} ${path} ${method} ${where}`);
          const examples =
            m.example !== undefined ? [m.example] : Object.values(m.examples ?? {}).map((e) => e.value);
          for (const example of examples) {
            checked++;
            if (!validate(example))
              misfits.push(`${method.toUpperCase()} ${path} ${where}: ${ajv.errorsText(validate.errors)}`);
          }
        }
      }
  return { checked, misfits };
}

describe('the OpenAPI document', () => {
  test('validates as OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  }, 30_000);

  test('a broken document does not validate', async () => {
    const broken = structuredClone(doc) as unknown as { paths: Record<string, unknown> };
    broken.paths['/api/v2/broken'] = { get: { responses: { 200: { content: 'not a map' } } } };
    expect((await new Validator().validate(broken)).valid).toBe(false);
  }, 30_000);

  test('every answer of every operation has a schema and an example', () => {
    expect(Object.keys(doc.paths).length).toBeGreaterThan(30);
    expect(documentGaps(doc)).toEqual([]);
  });

  test('every example fits its schema', () => {
    const { checked, misfits } = misfitExamples(doc);
    expect(misfits).toEqual([]);
    expect(checked).toBeGreaterThan(500);
  }, 60_000);

  test('an example that does not fit is caught', () => {
    const changed = structuredClone(doc);
    const me = changed.paths['/api/v2/me']?.get?.responses?.['200']?.content?.['application/json'];
    if (!me) throw new Error('GET /api/v2/me has no JSON answer');
    me.example = { id: 5 };
    expect(misfitExamples(changed).misfits).toEqual([
      "GET /api/v2/me responses/200/content/application~1json: data must have required property 'username'",
    ]);
  }, 60_000);

  test('an operation without them is caught', () => {
    const app = createApp({
      services: () => {
        throw new Error('not serving');
      },
    });
    app.openapi(
      createRoute({
        method: 'get',
        path: '/api/v2/bare',
        responses: {
          200: {
            description: 'ok',
            content: { 'application/json': { schema: z.object({ n: z.number() }) } },
          },
          409: { description: 'no body' },
        },
      }),
      (c) => c.json({ n: 1 }, 200),
    );
    expect(documentGaps(openApiDocument(app, 'Outdial') as unknown as Doc)).toEqual([
      'GET /api/v2/bare 200 application/json: no example',
      'GET /api/v2/bare 409: no content',
    ]);
  });

  test('lists the webhooks the API sends, each with its body and the signature scheme', () => {
    const names = [
      WEBHOOK_KINDS.status,
      WEBHOOK_KINDS.flow,
      CAMPAIGN_WEBHOOK_KINDS.state,
      CAMPAIGN_WEBHOOK_KINDS.progress,
    ];
    expect(Object.keys(doc.webhooks ?? {}).sort()).toEqual([...names].sort());
    for (const name of names) {
      const post = doc.webhooks?.[name]?.post as Operation & {
        description: string;
        parameters: { name: string }[];
      };
      expect(post.description).toContain('outdial-webhook-v1.<t>.<raw body>');
      expect(post.parameters.map((p) => p.name)).toContain('Outdial-Signature');
      const body = post.requestBody?.content?.['application/json'];
      expect(body?.schema).toBeDefined();
      expect(body?.example).toMatchObject({ type: name });
      // The example is a body the sender's own schema accepts: the contract's for a campaign.
      const sender = name.startsWith('campaign.') ? CampaignWebhook : CallWebhookSchema;
      expect(sender.safeParse(body?.example).error).toBeUndefined();
    }
  });
});
