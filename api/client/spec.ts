import { createApp } from '../app.ts';
import { openApiDocument } from '../routes/openapi.ts';

/** The name the committed document is built with: the default APP_NAME. */
const SPEC_APP_NAME = 'Outdial';

/**
 * The OpenAPI document the app serves at /openapi.json, built from the routes alone: no server,
 * database or configuration is involved, so the committed copy can be checked against it anywhere.
 */
export function buildOpenApiDocument(appName = SPEC_APP_NAME): Record<string, unknown> {
  const app = createApp({
    services: () => {
      throw new Error('the document is built without serving requests');
    },
  });
  return openApiDocument(app, appName) as unknown as Record<string, unknown>;
}

/** The committed file's exact text: two-space JSON and a final newline, so diffs stay readable. */
export function renderOpenApiDocument(doc: Record<string, unknown> = buildOpenApiDocument()): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

type Operations = Record<string, Record<string, unknown>>;

/** The operations (`GET /path`) that are new, gone or different between two documents. */
export function differingOperations(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): string[] {
  const a = (before.paths ?? {}) as Operations;
  const b = (after.paths ?? {}) as Operations;
  const out: string[] = [];
  for (const path of new Set([...Object.keys(a), ...Object.keys(b)])) {
    for (const method of new Set([...Object.keys(a[path] ?? {}), ...Object.keys(b[path] ?? {})])) {
      if (JSON.stringify(a[path]?.[method]) !== JSON.stringify(b[path]?.[method]))
        out.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return out.sort();
}
