import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { insertCall } from '../../db/queries/calls.ts';
import { createUser } from '../../db/queries/users.ts';
import { startPostgresCluster } from '../harness/postgres.ts';
import { benchApiEnv, fmt, type LoadResult, type Row, startChild, wrk } from './lib.ts';

/**
 * GET /api/v2/calls/{id} sent with an API key beside the same GET sent with a JWT, against one API
 * on a real PostgreSQL, at 1 and 50 connections, each measured twice in alternation so that neither
 * always runs on a warmer process.
 */
export async function benchKeys(options: { seconds: number }): Promise<Row[]> {
  const cluster = await startPostgresCluster();
  const rows: Row[] = [];
  try {
    const url = cluster.url();
    const database = openPostgres(url, { max: 4 });
    await migrate(database.db);
    const password = 'benchmark password';
    const user = (await createUser(database.db, {
      username: 'bench',
      passwordHash: await Bun.password.hash(password, { algorithm: 'bcrypt', cost: 4 }),
      role: 'operator',
    }))!;
    const { call } = await insertCall(database.db, {
      id: crypto.randomUUID(),
      ownerId: user.id,
      phoneNumber: '+15551234000',
      context: 'outbound-ivr',
      extension: 's',
      priority: 1,
      timeoutMs: 30_000,
    });
    await database.close();

    const api = await startChild('api/entry/bun.ts', await benchApiEnv(url));
    try {
      const login = await fetch(`${api.url}/api/v2/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'bench', password }),
      });
      if (login.status !== 200) throw new Error(`login: ${login.status}`);
      const token = ((await login.json()) as { access_token: string }).access_token;
      const made = await fetch(`${api.url}/api/v2/keys`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'bench', scopes: ['calls:read'] }),
      });
      if (made.status !== 201) throw new Error(`key: ${made.status} ${await made.text()}`);
      const key = ((await made.json()) as { key: string }).key;
      const target = `${api.url}/api/v2/calls/${call.id}`;
      const withJwt = { Authorization: `Bearer ${token}` };
      const withKey = { Authorization: `Bearer ${key}` };
      for (const headers of [withJwt, withKey]) {
        const check = await fetch(target, { headers });
        if (check.status !== 200) throw new Error(`GET answered ${check.status}`);
      }

      for (const connections of [1, 50]) {
        await wrk(target, { connections, seconds: 1, headers: withJwt }); // warm-up
        await wrk(target, { connections, seconds: 1, headers: withKey });
        const half = Math.max(1, options.seconds / 2);
        const jwtRuns: LoadResult[] = [];
        const keyRuns: LoadResult[] = [];
        for (let round = 0; round < 2; round++) {
          jwtRuns.push(await wrk(target, { connections, seconds: half, headers: withJwt }));
          keyRuns.push(await wrk(target, { connections, seconds: half, headers: withKey }));
        }
        const mean = (runs: LoadResult[], pick: (r: LoadResult) => number) =>
          runs.reduce((sum, r) => sum + pick(r), 0) / runs.length;
        const name = `GET /api/v2/calls/{id} with an API key, ${connections} conn`;
        for (const [measure, pick, show] of [
          ['throughput', (r: LoadResult) => r.rps, fmt.rps],
          ['p50', (r: LoadResult) => r.p50, fmt.ms],
          ['p99', (r: LoadResult) => r.p99, fmt.ms],
        ] as const) {
          const got = mean(keyRuns, pick);
          const base = mean(jwtRuns, pick);
          rows.push({
            bench: name,
            measure,
            value: show(got),
            baseline: `JWT ${show(base)}`,
            ratio: fmt.ratio(got, base),
          });
        }
        const errors = [...jwtRuns, ...keyRuns].reduce((sum, r) => sum + r.errors, 0);
        if (errors > 0) rows.push({ bench: name, measure: 'errors', value: String(errors) });
      }
    } finally {
      await api.stop();
    }
  } finally {
    cluster.stop();
  }
  return rows;
}
