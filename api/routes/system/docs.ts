import type { App } from '../openapi.ts';

// A placeholder reference page; replaced by the interactive one below once it exists.
export const registerDocs = (app: App) => {
  app.get('/docs', (c) => {
    if (!c.get('services').config.DOCS_ENABLED) return c.notFound();
    return c.html('<!doctype html><title>API reference</title><a href="/openapi.json">openapi.json</a>');
  });
};
