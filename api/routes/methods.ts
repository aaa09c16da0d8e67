import { TrieRouter } from 'hono/router/trie-router';
import type { App } from './openapi.ts';

/** The order methods are listed in an Allow header. */
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export interface RouteIndex {
  /**
   * The methods a path answers: the Allow header of a 405 and of an OPTIONS answer. A GET route
   * answers HEAD too (Hono serves HEAD with it), and every path that has a route answers OPTIONS.
   * Null when no route has the path.
   */
  methodsOf(path: string): string[] | null;
  /** The media types the body of a route (`POST /api/v2/token`) may have; empty when it takes none. */
  mediaTypesOf(method: string, routePath: string): string[];
}

/**
 * What the app's registered routes say about a request that none of them takes, read from the
 * routes themselves rather than listed by hand. Built on first use, once every route is registered;
 * paths are matched by the same router kind as the app's, so a path matches here exactly when it
 * matches a route there.
 */
export function routeIndex(app: App): RouteIndex {
  let router: TrieRouter<string> | null = null;
  let mediaTypes: Map<string, string[]> | null = null;
  const buildRouter = () => {
    const r = new TrieRouter<string>();
    for (const route of app.routes) {
      // Middleware registered with `use` runs for every method and path: it is no route.
      if (route.method === 'ALL') continue;
      r.add('ALL', route.path, route.method.toUpperCase());
    }
    return r;
  };
  const buildMediaTypes = () => {
    const m = new Map<string, string[]>();
    for (const d of app.openAPIRegistry.definitions) {
      if (d.type !== 'route') continue;
      const content = d.route.request?.body?.content ?? {};
      // The document writes `{name}` where the router has `:name`.
      const path = d.route.path.replaceAll(/\/{(.+?)}/g, '/:$1');
      m.set(`${d.route.method.toUpperCase()} ${path}`, Object.keys(content));
    }
    return m;
  };
  return {
    methodsOf(path) {
      router ??= buildRouter();
      const [matches] = router.match('GET', path);
      if (matches.length === 0) return null;
      const methods = new Set(matches.map(([method]) => method));
      if (methods.has('GET')) methods.add('HEAD');
      methods.add('OPTIONS');
      return [
        ...ORDER.filter((m) => methods.has(m)),
        ...[...methods].filter((m) => !ORDER.includes(m)).sort(),
      ];
    },
    mediaTypesOf(method, routePath) {
      mediaTypes ??= buildMediaTypes();
      return mediaTypes.get(`${method.toUpperCase()} ${routePath}`) ?? [];
    },
  };
}
