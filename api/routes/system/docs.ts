import { Scalar } from '@scalar/hono-api-reference';
import type { Context } from 'hono';
import type { AppEnv } from '../../services.ts';
import type { App } from '../openapi.ts';

/**
 * Scalar's browser bundle (`@scalar/api-reference/browser/standalone.js`) as the runtime holds it:
 * read from node_modules on Bun, a text module of the script on Workers. The reference loads it
 * from this API, never from a CDN, so it works on a network without internet.
 */
export type DocsScript = (c: Context<AppEnv>) => Response | Promise<Response>;

export const DOCS_SCRIPT_PATH = '/docs/scalar.js';

/** The CSP sources of the inline `<script>` blocks of `html` (those without `src`), by SHA-256. */
async function inlineScriptHashes(html: string): Promise<string[]> {
  const hashes: string[] = [];
  for (const match of html.matchAll(/<script(\s[^>]*)?>([\s\S]*?)<\/script>/g)) {
    if (/\bsrc=/.test(match[1] ?? '')) continue;
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(match[2] ?? ''));
    hashes.push(`'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`);
  }
  return hashes;
}

/**
 * What the page may load: Scalar's bundle and its one inline start-up script (by hash), the document
 * and the requests sent from the page to this origin only. Scalar's components add `<style>` elements
 * and style attributes as they render, which no hash can name: styles need 'unsafe-inline' (styles
 * cannot run code). No fonts or images from elsewhere (its default fonts are turned off).
 */
async function policyFor(html: string): Promise<string> {
  const scripts = await inlineScriptHashes(html);
  return [
    "default-src 'self'",
    `script-src 'self' ${scripts.join(' ')}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/**
 * The interactive reference at /docs: Scalar rendering the app's own /openapi.json (the guide is in
 * its descriptions), with a "Test request" that sends to this API. DOCS_ENABLED=false hides the page
 * and its bundle (404); /openapi.json stays.
 */
export const registerDocs = (app: App, script: DocsScript | undefined) => {
  let page: Promise<{ html: string; policy: string }> | null = null;
  const render = (c: Context<AppEnv>) => {
    const reference = Scalar({
      url: '/openapi.json',
      cdn: DOCS_SCRIPT_PATH,
      pageTitle: `${c.get('services').config.APP_NAME} API reference`,
      withDefaultFonts: false,
      telemetry: false,
      hideClientButton: true,
      showDeveloperTools: 'never',
      documentDownloadType: 'json',
      authentication: { preferredSecurityScheme: 'bearerAuth' },
      // Its "Ask AI" sends the document to Scalar's servers.
      agent: { disabled: true },
      // Every operation on the page at once: the browser's own find reaches all of them.
      defaultOpenAllTags: true,
      favicon: 'data:,',
    });
    return (async () => {
      // Scalar's middleware only builds the page; its Context type is Hono's generic one.
      const answer = await reference(c as unknown as Parameters<typeof reference>[0], async () => {});
      const html = await (answer as Response).text();
      return { html, policy: await policyFor(html) };
    })();
  };
  app.get('/docs', async function docsPage(c) {
    if (!c.get('services').config.DOCS_ENABLED) return c.notFound();
    page ??= render(c).catch((error) => {
      page = null;
      throw error;
    });
    const { html, policy } = await page;
    c.header('Content-Security-Policy', policy);
    c.header('Cache-Control', 'no-cache');
    return c.html(html);
  });
  app.get(DOCS_SCRIPT_PATH, async function docsScript(c) {
    if (!c.get('services').config.DOCS_ENABLED || !script) return c.notFound();
    const bundle = await script(c);
    if (!bundle.ok) return c.notFound();
    return new Response(bundle.body, {
      headers: {
        'Content-Type': 'text/javascript; charset=utf-8',
        // 3.5 MB that change only with the installed version: an upgrade shows within the hour.
        'Cache-Control': 'public, max-age=3600',
      },
    });
  });
};
