import { TrieRouter } from 'hono/router/trie-router';
import type { App } from './openapi.ts';

/** The order methods are listed in an Allow header. */
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * The methods a path answers, read from the app's registered routes rather than listed by hand:
 * the Allow header of a 405 and of an OPTIONS answer. A GET route answers HEAD too (Hono serves
 * HEAD with it), and every path that has a route answers OPTIONS. Null when no route has the path.
 * Built on first use, once every route is registered; the same router kind as the app's, so a path
 * matches here exactly when it matches a route there.
 */
export function allowedMethods(app: App): (path: string) => string[] | null {
  let router: TrieRouter<string> | null = null;
  const build = () => {
    const r = new TrieRouter<string>();
    for (const route of app.routes) {
      // Middleware registered with `use` runs for every method and path: it is no route.
      if (route.method === 'ALL') continue;
      r.add('ALL', route.path, route.method.toUpperCase());
    }
    return r;
  };
  return function methodsOf(path: string): string[] | null {
    router ??= build();
    const [matches] = router.match('GET', path);
    if (matches.length === 0) return null;
    const methods = new Set(matches.map(([method]) => method));
    if (methods.has('GET')) methods.add('HEAD');
    methods.add('OPTIONS');
    return [...ORDER.filter((m) => methods.has(m)), ...[...methods].filter((m) => !ORDER.includes(m)).sort()];
  };
}
