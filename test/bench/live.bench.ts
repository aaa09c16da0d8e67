import type { Subprocess } from 'bun';
import { SQL } from 'bun';
import { loadConfig } from '../../api/config.ts';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { startPostgresCluster } from '../harness/postgres.ts';
import { BUN, benchApiEnv, fmt, ROOT, type Row, startChild, wrk } from './lib.ts';

/**
 * One user's burst of live event streams against everyone else: other users' GET /api/v2/calls/{id}
 * (wrk, 10 connections) with nothing else running (measured again before each burst), then while one
 * user holds streams that each
 * resume far back in a long history: as many as the per-user cap allows, then 200 at once (the ones
 * refused retry after Retry-After, the ones that end reconnect at once), each first from the oldest
 * cursor the catch-up window still replays (every stream catches up 9,999 events), then from
 * Last-Event-ID 0 (beyond the window). The API runs with its default pool, query timeout and window
 * on a real PostgreSQL with 300,000 events, 60,000 of them the bursting user's.
 */
export async function benchLive(options: { seconds: number }): Promise<Row[]> {
  const cluster = await startPostgresCluster();
  const rows: Row[] = [];
  try {
    const url = cluster.url();
    const database = openPostgres(url, { max: 2 });
    await migrate(database.db);
    await database.close();
    const password = 'benchmark password';
    const hash = await Bun.password.hash(password, { algorithm: 'bcrypt', cost: 12 });
    const sql = new SQL(url, { max: 1 });
    let otherCall: string;
    let windowEdge: string;
    try {
      // ASCII lowercase names: their canonical form (db/username.ts) is the name itself.
      await sql`insert into users (username, username_canonical, password_hash, role)
        select 'user-' || g, 'user-' || g, ${hash}, 'operator' from generate_series(1, 100) g`;
      await sql`insert into users (username, username_canonical, password_hash, role)
        values ('burst', 'burst', ${hash}, 'operator')`;
      // 48,000 calls spread over 100 users and 12,000 of the bursting user's, five events each,
      // interleaved in time as real traffic is.
      await sql`insert into calls (id, owner_id, phone_number, context, extension, priority, timeout_ms, status)
        select gen_random_uuid(),
               (select id from users where username = case when g % 5 = 0 then 'burst' else 'user-' || (g % 100 + 1) end),
               '+15551234000', 'outbound-ivr', 's', 1, 30000, 'completed'
        from generate_series(1, 60000) g`;
      await sql.unsafe(EVENTS_SQL);
      await sql`analyze`;
      const [row] = await sql`select c.id from calls c join users u on u.id = c.owner_id
        where u.username = 'user-2' limit 1`;
      otherCall = row.id as string;
      const [edge] = await sql`select e.id from call_events e join users u on u.id = e.owner_id
        where u.username = 'burst' order by e.id desc offset ${WINDOW - 1} limit 1`;
      windowEdge = String(edge.id);
    } finally {
      await sql.close();
    }

    const api = await startChild(
      'api/entry/bun.ts',
      await benchApiEnv(url, { SSE_MAX_STREAMS_PER_USER: String(CAP) }),
    );
    try {
      const login = async (username: string) => {
        const res = await fetch(`${api.url}/api/v2/token`, {
          method: 'POST',
          body: new URLSearchParams({ username, password }),
        });
        if (res.status !== 200) throw new Error(`login: ${res.status}`);
        return ((await res.json()) as { access_token: string }).access_token;
      };
      const other = await login('user-2');
      const burstToken = await login('burst');
      const target = `${api.url}/api/v2/calls/${otherCall}`;
      const headers = { Authorization: `Bearer ${other}` };
      const check = await fetch(target, { headers });
      if (check.status !== 200) throw new Error(`GET answered ${check.status}`);

      await wrk(target, { connections: 10, seconds: 1, headers }); // warm-up

      const phases = [
        { streams: CAP, from: windowEdge, what: `${(WINDOW - 1).toLocaleString('en-US')} events back` },
        { streams: 200, from: windowEdge, what: `${(WINDOW - 1).toLocaleString('en-US')} events back` },
        { streams: 200, from: '0', what: 'Last-Event-ID 0, beyond the window' },
      ];
      for (const { streams, from, what } of phases) {
        // The baseline is measured just before each burst: this machine's other load drifts.
        const quiet = await wrk(target, { connections: 10, seconds: options.seconds, headers });
        const burst = startBurst(api.url, burstToken, streams, from);
        try {
          // The streams open and start catching up before and while the others are measured.
          await Bun.sleep(500);
          const busy = await wrk(target, { connections: 10, seconds: options.seconds, headers });
          const counts = burst.counts();
          const name = `other users’ GET during ${streams} streams of one user (${what})`;
          rows.push({
            bench: name,
            measure: 'p99',
            value: fmt.ms(busy.p99),
            baseline: `undisturbed ${fmt.ms(quiet.p99)}`,
            ratio: fmt.ratio(busy.p99, quiet.p99),
          });
          rows.push({
            bench: name,
            measure: 'p50',
            value: fmt.ms(busy.p50),
            baseline: `undisturbed ${fmt.ms(quiet.p50)}`,
            ratio: fmt.ratio(busy.p50, quiet.p50),
          });
          rows.push({
            bench: name,
            measure: 'others’ errors',
            value: `${busy.errors} of ${busy.requests}`,
            baseline: `undisturbed ${quiet.errors} of ${quiet.requests}`,
          });
          rows.push({
            bench: name,
            measure: 'the user’s stream answers',
            value: `${Object.entries(counts.answers)
              .map(([status, n]) => `${n} × ${status}`)
              .join(', ')}; ${counts.open} open, ${counts.events} events`,
          });
        } finally {
          await burst.stop();
        }
        // Let the closed streams' work drain before the next measurement.
        await Bun.sleep(2000);
      }
    } finally {
      await api.stop();
    }
  } finally {
    cluster.stop();
  }
  return rows;
}

const CAP = 5;
/** SSE_CATCHUP_MAX_EVENTS as the API applies it by default. */
const WINDOW = loadConfig({ APP_ENV: 'test' }).SSE_CATCHUP_MAX_EVENTS;

// Five events per call, in random order across calls; owner_id is copied from the call.
const EVENTS_SQL = `insert into call_events (call_id, owner_id, seq, event_id, type, status, source, occurred_at)
  select c.id, c.owner_id, k, c.id || ':' || k, 'x', 'pending', 'api', now()
  from calls c, generate_series(1, 5) k order by random()`;

interface BurstCounts {
  answers: Record<string, number>;
  events: number;
  open: number;
}

function startBurst(apiUrl: string, token: string, streams: number, lastEventId: string) {
  const child: Subprocess<'ignore', 'pipe', 'inherit'> = Bun.spawn([BUN, 'test/bench/sse-burst.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      API_URL: apiUrl,
      TOKEN: token,
      STREAMS: String(streams),
      LAST_EVENT_ID: lastEventId,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'inherit',
  });
  let last: BurstCounts = { answers: {}, events: 0, open: 0 };
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        last = JSON.parse(buffer.slice(0, nl)) as BurstCounts;
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
      }
    }
  })();
  return {
    counts: () => last,
    async stop() {
      child.kill('SIGTERM');
      await child.exited;
      await reading;
    },
  };
}
