import { SQL } from 'bun';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { startPostgresCluster } from '../harness/postgres.ts';
import { benchApiEnv, fmt, type Row, startChild } from './lib.ts';

/**
 * A campaign contacts import of `rows` contacts as one CSV request (POST /api/v2/campaigns/{id}/contacts:
 * streamed, parsed, numbers normalised, inserted in batches in one transaction) against the API on a
 * real PostgreSQL, beside the same rows (already E.164) put in by bare multi-row INSERTs of 1,000 in one
 * transaction from this process, in the same run; then the results export of those contacts as CSV.
 * The goal: 100,000 contacts imported in under 10 s.
 */
export async function benchContacts(options: { rows: number }): Promise<Row[]> {
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
    let imported: string;
    let bare: string;
    try {
      const [user] = await sql`insert into users (username, username_canonical, password_hash, role)
        values ('bench', 'bench', ${hash}, 'operator') returning id`;
      const campaign = async () => {
        const [row] = await sql`insert into campaigns (owner_id, name, timezone, windows, context, extension)
          values (${user.id}, 'bench', 'America/New_York', '[]'::jsonb, 'outbound-ivr', 's') returning id`;
        return row.id as string;
      };
      imported = await campaign();
      bare = await campaign();
    } finally {
      await sql.close();
    }
    const digits = (i: number) => String(i).padStart(7, '0');
    const csv = ['phone_number,timezone,FIRST_NAME\r\n'];
    for (let i = 0; i < options.rows; i++) {
      csv.push(
        `(2${digits(i).slice(0, 2)}) 5${digits(i).slice(2, 4)}-${digits(i).slice(3)},America/Chicago,N${i}\r\n`,
      );
    }
    const body = csv.join('');

    // The baseline: the same contacts, already normalised, in bare INSERTs of 1,000 rows.
    const direct = new SQL(url, { max: 1 });
    const started = performance.now();
    try {
      await direct.begin(async (tx) => {
        for (let from = 0; from < options.rows; from += 1000) {
          const batch = [];
          for (let i = from; i < Math.min(from + 1000, options.rows); i++) {
            batch.push({
              campaign_id: bare,
              phone_number: `+12${digits(i).slice(0, 2)}5${digits(i).slice(2, 4)}${digits(i).slice(3)}`,
              timezone: 'America/Chicago',
              variables: { FIRST_NAME: `N${i}` },
              source_row: i + 1,
            });
          }
          await tx`insert into campaign_contacts ${tx(batch)} on conflict (campaign_id, phone_number) do nothing`;
        }
      });
    } finally {
      await direct.close();
    }
    const bareMs = performance.now() - started;

    const api = await startChild('api/entry/bun.ts', await benchApiEnv(url));
    try {
      const login = await fetch(`${api.url}/api/v2/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'bench', password }),
      });
      const token = ((await login.json()) as { access_token: string }).access_token;
      const headers = { Authorization: `Bearer ${token}` };
      const t0 = performance.now();
      const res = await fetch(`${api.url}/api/v2/campaigns/${imported}/contacts`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'text/csv' },
        body,
      });
      const report = (await res.json()) as { accepted?: number };
      const importMs = performance.now() - t0;
      if (res.status !== 200 || report.accepted !== options.rows) {
        throw new Error(`import: ${res.status} ${JSON.stringify(report).slice(0, 300)}`);
      }
      const t1 = performance.now();
      const exported = await fetch(`${api.url}/api/v2/campaigns/${imported}/results`, { headers });
      const text = await exported.text();
      const exportMs = performance.now() - t1;
      const lines = text.split('\r\n').length - 2;
      if (lines !== options.rows) throw new Error(`export: ${lines} rows`);
      const n = options.rows.toLocaleString('en-US');
      rows.push(
        {
          bench: 'contacts',
          measure: `import ${n} contacts (CSV, ${(body.length / 1e6).toFixed(1)} MB, one request)`,
          value: fmt.ms(importMs),
          baseline: `${fmt.ms(bareMs)} bare INSERTs of 1,000`,
          ratio: fmt.ratio(importMs, bareMs),
        },
        { bench: 'contacts', measure: `export ${n} results (CSV)`, value: fmt.ms(exportMs) },
      );
    } finally {
      await api.stop();
    }
  } finally {
    await cluster.stop();
  }
  return rows;
}
