import { DOCS_CSS, DOCS_JS, DocsPage, type OpenApiDoc } from '../../ui/docs.tsx';
import { type App, openApiConfig } from '../openapi.ts';

/** The interactive reference: rendered from the app's own OpenAPI document, assets served beside it. */
export const registerDocs = (app: App) => {
  let cached: OpenApiDoc | null = null;
  const document = (appName: string) => {
    cached ??= app.getOpenAPI31Document(openApiConfig(appName)) as unknown as OpenApiDoc;
    return cached;
  };
  app.get('/docs', (c) => {
    const { config } = c.get('services');
    if (!config.DOCS_ENABLED) return c.notFound();
    c.header(
      'Content-Security-Policy',
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    );
    return c.html(`<!doctype html>${DocsPage({ doc: document(config.APP_NAME) })}`);
  });
  app.get('/docs/app.js', (c) =>
    c.get('services').config.DOCS_ENABLED
      ? c.body(DOCS_JS, 200, {
          'Content-Type': 'text/javascript; charset=utf-8',
          'Cache-Control': 'no-cache',
        })
      : c.notFound(),
  );
  app.get('/docs/style.css', (c) =>
    c.get('services').config.DOCS_ENABLED
      ? c.body(DOCS_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'no-cache' })
      : c.notFound(),
  );
};
