import type { ConsoleContext, Json, TokenPair } from './context.ts';

/**
 * The public JSON API, with this tab's session in sessionStorage: the access token, when it expires,
 * and the refresh token that gets the next one. The refresh token stays in the tab, like the access
 * token: the console sends no cookies, so the API has no cross-site request to guard against, each
 * tab is its own session (two tabs never race one refresh token, which the API takes as theft), and
 * closing the tab forgets it. A refresh token a script stole is single-use: the next refresh by
 * either holder ends the session for both.
 */
export function consoleApi(c: ConsoleContext): void {
  const TOKEN = 'outdial.console.token';
  const REFRESH = 'outdial.console.refresh';
  const EXPIRES = 'outdial.console.expires';
  let timer: ReturnType<typeof setTimeout> | undefined;
  // One refresh at a time: a second use of one refresh token would end the session.
  let refreshing: Promise<boolean> | null = null;

  c.HttpError = class HttpError extends Error {
    constructor(
      readonly status: number,
      readonly body: Json,
    ) {
      super(String(body.detail ?? `HTTP ${status}`));
    }
  };

  c.token = () => sessionStorage.getItem(TOKEN);

  /** Refreshes a little before the access token expires: a fifth of its life early, at most 2 minutes. */
  c.scheduleRefresh = () => {
    clearTimeout(timer);
    const expires = Number(sessionStorage.getItem(EXPIRES));
    if (!sessionStorage.getItem(REFRESH) || !expires) return;
    const left = expires - Date.now();
    const early = Math.min(120_000, left / 5);
    timer = setTimeout(() => void c.refresh(), Math.max(0, left - early));
  };

  c.saveSession = (pair) => {
    if (pair === null) {
      clearTimeout(timer);
      for (const key of [TOKEN, REFRESH, EXPIRES]) sessionStorage.removeItem(key);
      return;
    }
    sessionStorage.setItem(TOKEN, pair.access_token);
    sessionStorage.setItem(REFRESH, pair.refresh_token);
    sessionStorage.setItem(EXPIRES, String(Date.now() + pair.expires_in * 1000));
    c.scheduleRefresh();
  };

  c.refresh = () => {
    refreshing ??= (async () => {
      const refreshToken = sessionStorage.getItem(REFRESH);
      if (!refreshToken) return false;
      try {
        const res = await fetch('/api/v2/token', {
          method: 'POST',
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
        });
        // A network failure leaves the session as it is: the next request or the timer tries again.
        if (!res.ok) {
          if (res.status === 401 || res.status === 422) c.saveSession(null);
          return false;
        }
        c.saveSession((await res.json()) as TokenPair);
        return true;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  };

  c.api = async <T = Json>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> => {
    const send = () => {
      const headers = new Headers(init.headers);
      const t = c.token();
      if (t) headers.set('Authorization', `Bearer ${t}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set('Content-Type', 'application/json');
        body = JSON.stringify(init.json);
      }
      return fetch(path, { ...init, headers, body: body ?? null });
    };
    let res = await send();
    // An access token that expired (a laptop asleep past the timer) is refreshed once and the request sent again.
    if (res.status === 401 && path !== '/api/v2/token' && (await c.refresh())) res = await send();
    const data = (await res.json().catch(() => ({}))) as Json;
    if (res.status === 401 && path !== '/api/v2/token') {
      c.signOut('Your session ended; please log in again.');
    }
    if (!res.ok) throw new c.HttpError(res.status, data);
    return data as T;
  };
}
