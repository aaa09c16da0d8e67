/** res_ari's authentication: Basic auth or `?api_key=user:pass`, one user. */
import { json } from './respond.ts';

const UNAUTHORIZED_HEADERS = { 'WWW-Authenticate': 'Basic realm="Asterisk REST Interface"' };

export const unauthorized = (): Response =>
  json(401, { message: 'Authentication required' }, UNAUTHORIZED_HEADERS);

export const basicAuth =
  (username: string, password: string) =>
  (req: Request, url: URL): boolean => {
    const check = (pair: string): boolean => {
      const colon = pair.indexOf(':');
      return colon >= 0 && pair.slice(0, colon) === username && pair.slice(colon + 1) === password;
    };
    const header = req.headers.get('authorization');
    // Like res_ari: a Basic header wins over ?api_key, even when it is wrong.
    if (header !== null) {
      const m = /^basic\s+(.+)$/i.exec(header.trim());
      if (!m) return false;
      try {
        return check(atob(m[1] as string));
      } catch {
        return false;
      }
    }
    for (const [name, value] of url.searchParams) {
      if (name.toLowerCase() === 'api_key') return check(value);
    }
    return false;
  };
