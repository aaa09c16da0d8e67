import type { ConsoleContext, Json } from './context.ts';

/** The public JSON API, with the token kept in sessionStorage. */
export function consoleApi(c: ConsoleContext): void {
  const TOKEN = 'outdial.console.token';

  c.HttpError = class HttpError extends Error {
    constructor(
      readonly status: number,
      readonly body: Json,
    ) {
      super(String(body.detail ?? `HTTP ${status}`));
    }
  };

  c.token = () => sessionStorage.getItem(TOKEN);
  c.saveToken = (token) => {
    if (token === null) sessionStorage.removeItem(TOKEN);
    else sessionStorage.setItem(TOKEN, token);
  };

  c.api = async <T = Json>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> => {
    const headers = new Headers(init.headers);
    const t = c.token();
    if (t) headers.set('Authorization', `Bearer ${t}`);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set('Content-Type', 'application/json');
      body = JSON.stringify(init.json);
    }
    const res = await fetch(path, { ...init, headers, body: body ?? null });
    const data = (await res.json().catch(() => ({}))) as Json;
    if (res.status === 401 && path !== '/api/v2/token') {
      c.signOut('Your session ended; please log in again.');
    }
    if (!res.ok) throw new c.HttpError(res.status, data);
    return data as T;
  };
}
