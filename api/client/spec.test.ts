import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { createRoute, z } from '@hono/zod-openapi';
import { createApp } from '../app.ts';
import { openApiDocument } from '../routes/openapi.ts';
import { buildOpenApiDocument, differingOperations, renderOpenApiDocument } from './spec.ts';
import { generateSchemaTypes } from './typegen.ts';

const committedSpec = readFileSync(new URL('./openapi.json', import.meta.url), 'utf8');
const committedTypes = readFileSync(new URL('./schema.gen.ts', import.meta.url), 'utf8');
const REGENERATE =
  'stale: run `npm run client:generate` and commit api/client/openapi.json and schema.gen.ts';

describe('the committed client', () => {
  test('api/client/openapi.json is the document the routes build', () => {
    const built = renderOpenApiDocument();
    if (built !== committedSpec) {
      const changed = differingOperations(JSON.parse(committedSpec), buildOpenApiDocument());
      throw new Error(`${REGENERATE}\n  differs: ${changed.join(', ') || 'schemas or document metadata'}`);
    }
    expect(built).toBe(committedSpec);
  });

  test('api/client/schema.gen.ts is what openapi-typescript makes of the committed document', async () => {
    const types = await generateSchemaTypes(committedSpec);
    if (types !== committedTypes) throw new Error(REGENERATE);
    expect(types).toBe(committedTypes);
  });

  test('a route changed without regenerating is caught, by operation', () => {
    const app = createApp({
      services: () => {
        throw new Error('not serving');
      },
    });
    app.openapi(
      createRoute({
        method: 'get',
        path: '/api/v2/extra',
        summary: 'An extra route',
        responses: { 200: { description: 'ok', content: { 'application/json': { schema: z.object({}) } } } },
      }),
      (c) => c.json({}, 200),
    );
    const changed = openApiDocument(app, 'Outdial') as unknown as Record<string, unknown>;
    expect(renderOpenApiDocument(changed)).not.toBe(committedSpec);
    expect(differingOperations(JSON.parse(committedSpec), changed)).toEqual(['GET /api/v2/extra']);
  });
});
