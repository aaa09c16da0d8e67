import { SQL } from 'bun';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { startPostgresCluster } from '../harness/postgres.ts';
import { benchApiEnv, fmt, type Row, startChild, wrk } from './lib.ts';

/**
 * Reading a large campaign while it runs: one campaign of `contacts` contacts, imported after a
 * finished campaign a fifth its size (put in by SQL, as the engine would leave them part way: the first 30 % dialled, most of those done with an outcome
 * and one attempt each, a few waiting for a retry or in progress, the rest pending; the counters
 * kept to match), then GET /api/v2/campaigns/{id} (its counters) and the first page of its contacts
 * (unfiltered, state=done, state=pending, final_outcome=busy) under wrk at a few connections, against
 * GET /api/v2/calls/{id} through the same API in the same run. The goal: p99 under 50 ms.
 */

const PASSWORD = 'benchmark password';

export async function benchCampaignRead(options: {
  contacts: number;
  seconds: number;
  connections: number;
}): Promise<Row[]> {
  const cluster = await startPostgresCluster();
  const rows: Row[] = [];
  try {
    const url = cluster.url();
    const database = openPostgres(url, { max: 2 });
    await migrate(database.db);
    await database.close();
    const hash = await Bun.password.hash(PASSWORD, { algorithm: 'bcrypt', cost: 12 });
    const sql = new SQL(url, { max: 1 });
    let campaignId: string;
    let callId: string;
    const loadStarted = performance.now();
    try {
      const [user] = await sql`insert into users (username, username_canonical, password_hash, role)
        values ('bench', 'bench', ${hash}, 'operator') returning id`;
      const [call] =
        await sql`insert into calls (id, owner_id, phone_number, context, extension, priority, timeout_ms, status)
        values (gen_random_uuid(), ${user.id}, '+15551234000', 'outbound-ivr', 's', 1, 30000, 'completed') returning id`;
      callId = call.id as string;
      const [campaign] = await sql`insert into campaigns
          (owner_id, name, state, timezone, windows, cps, max_concurrent, next_lease_at, started_at)
        values (${user.id}, 'bench', 'running', 'America/Chicago',
          '[{"days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"20:00"}]'::jsonb,
          20, 100, now(), now() - interval '2 hours') returning id`;
      campaignId = campaign.id as string;
      // A finished campaign imported before it, a fifth its size: its rows come first in id order.
      const [earlier] =
        await sql`insert into campaigns (owner_id, name, state, timezone, windows, finished_at)
        values (${user.id}, 'earlier', 'completed', 'UTC', '[]'::jsonb, now()) returning id`;
      await sql`insert into campaign_contacts (campaign_id, phone_number, state, attempts, final_outcome, source_row)
        select ${earlier.id}, '+1415' || lpad(g::text, 7, '0'), 'done', 1, 'completed', g
        from generate_series(1, ${Math.floor(options.contacts / 5)}) g`;
      const dialled = Math.floor(options.contacts * 0.3);
      // Of the dialled: one in 20 waits for a retry (pending, due later), one in 1,000 is in progress,
      // the rest are done; outcomes by the row number, as a list's numbers would spread them.
      await sql.unsafe(
        `insert into campaign_contacts (campaign_id, phone_number, timezone, variables, state, attempts,
           attempts_today, attempts_day, next_attempt_at, last_outcome, final_outcome, answered_by,
           source_row, created_at, updated_at)
         select $1, '+1312' || lpad(g::text, 7, '0'),
           case when g % 3 = 0 then 'America/New_York' end,
           jsonb_build_object('FIRST_NAME', 'N' || g),
           s.state, case when g <= $2 then 1 else 0 end, case when g <= $2 then 1 else 0 end,
           case when g <= $2 then '2026-12-06' end,
           case when s.state = 'pending' then now() + case when g <= $2 then interval '1 hour' else interval '0' end end,
           case when g <= $2 then o.outcome end,
           case when s.state = 'done' then o.outcome end,
           case when s.state = 'done' and o.outcome = 'completed' then 'human' end,
           g, now() - interval '3 hours', now()
         from generate_series(1, $3) g,
           lateral (select case when g > $2 then 'pending' when g % 1000 = 0 then 'in_progress'
                                when g % 20 = 0 then 'pending' else 'done' end as state) s,
           lateral (select case g % 10 when 6 then 'no_answer' when 7 then 'no_answer' when 8 then 'busy'
                                when 9 then 'failed' else 'completed' end as outcome) o`,
        [campaignId, dialled, options.contacts],
      );
      await sql`insert into campaign_attempts
          (call_id, campaign_id, contact_id, attempt, sidecar_id, leased_at, lease_expires_at, outcome, ended_at)
        select gen_random_uuid(), campaign_id, id, 1, 'pbx-1', updated_at - interval '1 minute',
          updated_at + interval '1 minute', case when state = 'in_progress' then null else last_outcome end,
          case when state = 'in_progress' then null else updated_at end
        from campaign_contacts where campaign_id = ${campaignId} and attempts > 0`;
      await sql`insert into campaign_counters (campaign_id, name, value)
        select ${campaignId}, name, value from (
          select 'total' as name, count(*) as value from campaign_contacts where campaign_id = ${campaignId}
          union all select state, count(*) from campaign_contacts where campaign_id = ${campaignId} group by state
          union all select 'attempts', count(*) from campaign_attempts where campaign_id = ${campaignId}
          union all select 'outcome_' || outcome, count(*) from campaign_attempts
            where campaign_id = ${campaignId} and outcome is not null group by outcome
          union all select 'answered_by_human', count(*) from campaign_contacts
            where campaign_id = ${campaignId} and answered_by = 'human') c`;
      await sql`vacuum analyze`;
    } finally {
      await sql.close();
    }
    const loadMs = performance.now() - loadStarted;

    const api = await startChild('api/entry/bun.ts', await benchApiEnv(url));
    try {
      const login = await fetch(`${api.url}/api/v2/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'bench', password: PASSWORD }),
      });
      const token = ((await login.json()) as { access_token: string }).access_token;
      const headers = { Authorization: `Bearer ${token}` };
      const base = `${api.url}/api/v2/campaigns/${campaignId}`;
      const targets: [string, string][] = [
        ['GET /campaigns/{id} (counters)', base],
        ['first contacts page (50)', `${base}/contacts?limit=50`],
        ['first page, state=done', `${base}/contacts?limit=50&state=done`],
        ['first page, state=pending', `${base}/contacts?limit=50&state=pending`],
        ['first page, final_outcome=busy', `${base}/contacts?limit=50&final_outcome=busy`],
      ];
      for (const [, target] of targets) {
        const res = await fetch(target, { headers });
        const body = (await res.json()) as { items?: unknown[]; counters?: Record<string, number> };
        if (res.status !== 200 || (body.items && body.items.length === 0)) {
          throw new Error(`${target}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
        }
      }
      const single = `${api.url}/api/v2/calls/${callId}`;
      const load = { connections: options.connections, seconds: options.seconds, headers };
      await wrk(single, { ...load, seconds: 1 }); // warm-up
      const n = options.contacts.toLocaleString('en-US');
      const name = `a ${n}-contact campaign, ${options.connections} connections (goal p99 < 50 ms)`;
      for (const [what, target] of targets) {
        // The baseline just before each: this machine's other load drifts.
        const baseline = await wrk(single, load);
        const measured = await wrk(target, load);
        for (const p of ['p50', 'p99'] as const) {
          rows.push({
            bench: name,
            measure: `${what} ${p}`,
            value: `${fmt.ms(measured[p])}${p === 'p99' ? ` (${fmt.rps(measured.rps)}, ${measured.errors} errors)` : ''}`,
            baseline: `GET /calls/{id} ${fmt.ms(baseline[p])}`,
            ratio: fmt.ratio(measured[p], baseline[p]),
          });
        }
      }
      rows.push({ bench: name, measure: 'loading it by SQL', value: fmt.ms(loadMs) });
    } finally {
      await api.stop();
    }
  } finally {
    cluster.stop();
  }
  return rows;
}
