import { CONSOLE_CSS, CONSOLE_JS, ConsolePage } from '../../ui/console.tsx';
import type { App } from '../openapi.ts';

// Recordings need the token, so the page fetches them and plays them from blob: URLs.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; " +
  "connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The operator console: one page, its script and its stylesheet. */
export const registerConsole = (app: App) => {
  app.get('/console', (c) => {
    const { config } = c.get('services');
    c.header('Content-Security-Policy', CSP);
    c.header('Cache-Control', 'no-store');
    return c.html(
      `<!doctype html>${ConsolePage({ appName: config.APP_NAME, contexts: config.ALLOWED_CONTEXTS, defaultContext: config.DEFAULT_CONTEXT })}`,
    );
  });
  app.get('/console/app.js', (c) =>
    c.body(CONSOLE_JS, 200, {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'no-cache',
    }),
  );
  app.get('/console/style.css', (c) =>
    c.body(CONSOLE_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'no-cache' }),
  );
};
