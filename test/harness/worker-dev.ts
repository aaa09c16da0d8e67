/**
 * `npm run worker:dev`: the Workers entry in workerd (`wrangler dev`) on this machine.
 *
 * The configuration comes from `.dev.vars` (wrangler reads it; see api/deploy/README.md, "On Cloudflare Workers").
 * When its DATABASE_URL is a Postgres on this machine, the committed migrations are applied to it and
 * the Worker reaches it through the loopback WebSocket-to-TCP proxy (NEON_WS_PROXY), since workerd
 * speaks Neon's WebSocket protocol, not TCP; any other DATABASE_URL (a Neon database) is used as is.
 * Extra arguments go to `wrangler dev` (e.g. `-- --port 8790`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { startWsProxy } from './ws-proxy.ts';

const root = new URL('../..', import.meta.url).pathname;

function devVars(): Record<string, string> {
  const file = join(root, '.dev.vars');
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

const databaseUrl = devVars().DATABASE_URL ?? process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error(
    'set DATABASE_URL (and JWT_PRIVATE_KEY, APP_ENV=development) in .dev.vars; see api/deploy/README.md',
  );
  process.exit(2);
}
const target = new URL(databaseUrl);
const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(target.hostname);
const args: string[] = [];
let proxy: Awaited<ReturnType<typeof startWsProxy>> | null = null;
if (local) {
  const database = openPostgres(databaseUrl, { max: 1 });
  try {
    const applied = await migrate(database.db);
    console.log(`[worker:dev] ${applied} migration(s) applied to ${database.label}`);
  } finally {
    await database.close();
  }
  const port = target.port || '5432';
  const host = target.hostname === 'localhost' ? '127.0.0.1' : target.hostname.replace(/^\[|\]$/g, '');
  proxy = await startWsProxy({ targets: [`${target.hostname}:${port}`, `${host}:${port}`] });
  args.push('--var', `NEON_WS_PROXY:${proxy.address}`);
  console.log(`[worker:dev] database through the WebSocket proxy at ${proxy.address}`);
}

const wrangler = Bun.spawn(
  ['node', join(root, 'node_modules/wrangler/bin/wrangler.js'), 'dev', ...args, ...process.argv.slice(2)],
  { cwd: root, stdio: ['inherit', 'inherit', 'inherit'] },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => wrangler.kill(signal));
const code = await wrangler.exited;
await proxy?.stop();
process.exit(code);
