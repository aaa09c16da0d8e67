import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { MODES, startTestStack, type TestStack, test } from '../harness/stack.ts';

/**
 * The console's scripts are TypeScript functions served as their source text.
 * Whatever bundled the server (Bun, or wrangler's esbuild for Workers) must not leave in that text
 * anything the browser lacks: here each script, as served, runs its load-time code against a page
 * that accepts any call, and must neither throw nor stop before it reads the session's token. The
 * browser suite (test/browser/) runs them in Chromium, on Bun only; this runs on every target.
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 60_000);
afterAll(() => stack.stop());

/** Runs `script` as a page load would; returns the sessionStorage keys it read. */
function runAtLoad(script: string): string[] {
  const read: string[] = [];
  // Any element, list, event target or function: every property is another one, every call
  // returns one, lists are empty.
  const anything: object = new Proxy(() => undefined, {
    get: (_target, key) =>
      key === Symbol.iterator
        ? function* () {}
        : key === Symbol.toPrimitive
          ? () => ''
          : key === 'length'
            ? 0
            : anything,
    set: () => true,
    apply: () => anything,
    construct: () => anything,
  });
  const sessionStorage = {
    getItem: (key: string) => {
      read.push(key);
      return null;
    },
    setItem: () => undefined,
    removeItem: () => undefined,
  };
  const location = { hash: '' };
  new Function('document', 'window', 'location', 'sessionStorage', script)(
    anything,
    anything,
    location,
    sessionStorage,
  );
  return read;
}

for (const mode of MODES) {
  describe(`page scripts as served (${mode})`, () => {
    for (const [path, tokenKey] of [['/console/app.js', 'outdial.console.token']] as const) {
      test(`${path} runs in a page with nothing of the server's bundle`, async () => {
        const res = await stack.request(mode, path);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/javascript');
        const script = await res.text();
        let read: string[] = [];
        expect(() => {
          read = runAtLoad(script);
        }).not.toThrow();
        expect(read).toContain(tokenKey);
      });
    }
  });
}
