import { afterAll, describe, expect, test } from 'bun:test';
import { createOutdialClient, isOutdialError, login } from './client.ts';

/** POST /api/v2/token answering 503 busy (Retry-After: 1) a given number of times, then a token. */
function busyTokenServer(busyTimes: number) {
  const seen: number[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch() {
      seen.push(Date.now());
      if (seen.length <= busyTimes)
        return Response.json(
          { type: 'about:blank', title: 'Service Unavailable', status: 503, code: 'busy', detail: 'busy' },
          { status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'application/problem+json' } },
        );
      return Response.json({ access_token: 'a', token_type: 'bearer', expires_in: 1800, refresh_token: 'r' });
    },
  });
  return { server, seen };
}

describe('login', () => {
  const servers: { stop(force?: boolean): void }[] = [];
  afterAll(() => {
    for (const s of servers) s.stop(true);
  });

  test('a 503 busy is tried again after its Retry-After, up to the retries asked for', async () => {
    const { server, seen } = busyTokenServer(2);
    servers.push(server);
    const client = createOutdialClient({ baseUrl: `http://127.0.0.1:${server.port}` });
    const token = await login(client, 'ana', 'pw');
    expect(token.access_token).toBe('a');
    expect(seen).toHaveLength(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i]! - seen[i - 1]!).toBeGreaterThanOrEqual(950);
  });

  test('with the retries spent, the 503 is the answer', async () => {
    const { server, seen } = busyTokenServer(5);
    servers.push(server);
    const client = createOutdialClient({ baseUrl: `http://127.0.0.1:${server.port}` });
    const error = await login(client, 'ana', 'pw', { retries: 1 }).catch((e: unknown) => e);
    expect(isOutdialError(error) && error.status).toBe(503);
    expect(seen).toHaveLength(2);
  });
});
