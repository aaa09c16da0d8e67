import type { Subprocess } from 'bun';
import { generateSigningJwk, loadSigningKey } from '../../api/shared/base/keys.ts';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import { API_EVENTS_PATH, TYP_EVENTS } from '../../api/shared/contract/index.ts';
import { openPostgres } from '../../db/driver/bun-sql.ts';
import { migrate } from '../../db/migrate.ts';
import { insertCall } from '../../db/queries/calls.ts';
import { createUser } from '../../db/queries/users.ts';
import { startPostgresCluster } from '../harness/postgres.ts';
import { BUN, fmt, ROOT, type Row, rssMiB, startChild } from './lib.ts';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/**
 * 1,000 concurrent SSE subscribers on one API process: the time from a sidecar's signed event batch
 * reaching the API to each subscriber receiving the event (p50/p99 over every delivery), and the
 * API's memory idle and with the subscribers connected. The subscribers run in this process.
 */
export async function benchSse(options: { subscribers: number; events: number }): Promise<Row[]> {
  const cluster = await startPostgresCluster();
  const rows: Row[] = [];
  try {
    const url = cluster.url();
    const db = openPostgres(url, { max: 4 });
    await migrate(db.db);
    const password = 'benchmark password';
    const user = (await createUser(db.db, {
      username: 'sse-bench',
      passwordHash: await Bun.password.hash(password, { algorithm: 'bcrypt', cost: 12 }),
      role: 'operator',
    }))!;
    const callIds: string[] = [];
    for (let i = 0; i < options.events; i++) {
      const { call } = await insertCall(db.db, {
        id: crypto.randomUUID(),
        ownerId: user.id,
        phoneNumber: '+15551234000',
        context: 'outbound-ivr',
        extension: 's',
        priority: 1,
        timeoutMs: 30_000,
        sidecarId: 'bench',
      });
      callIds.push(call.id);
    }
    await db.close();

    const sidecarKey = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
    const api = await startChild('api/entry/bun.ts', {
      APP_ENV: 'production',
      HOST: '127.0.0.1',
      DATABASE_URL: url,
      DATABASE_POOL_SIZE: '10',
      JWT_PRIVATE_KEY: JSON.stringify(await generateSigningJwk()),
      SIDECAR_ID: 'bench',
      SIDECAR_PUBLIC_KEY: JSON.stringify(sidecarKey.publicJwk),
      SIDECAR_URL: 'http://127.0.0.1:9',
      LOG_LEVEL: 'error',
      SSE_HEARTBEAT_MS: '15000',
    });
    let stopChildren = () => {};
    try {
      const login = await fetch(`${api.url}/api/v2/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'sse-bench', password }),
      });
      const token = ((await login.json()) as { access_token: string }).access_token;
      await Bun.sleep(500);
      const idle = rssMiB(api.proc.pid);

      // The subscribers live in child processes (one Bun process caps its concurrent fetches).
      const arrivals: number[][] = Array.from({ length: options.events }, () => []);
      const indexOfCall = new Map(callIds.map((id, i) => [id, i]));
      const perChild = 200;
      const children: Subprocess[] = [];
      let ready = 0;
      for (let i = 0; i < options.subscribers; i += perChild) {
        const n = Math.min(perChild, options.subscribers - i);
        const child = Bun.spawn([BUN, 'test/bench/sse-subscribers.ts'], {
          cwd: ROOT,
          env: { ...process.env, API_URL: api.url, TOKEN: token, SUBSCRIBERS: String(n) },
          stdout: 'pipe',
          stderr: 'inherit',
        });
        children.push(child);
        (async () => {
          const reader = child.stdout.getReader();
          const decoder = new TextDecoder();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            let nl = buffer.indexOf('\n');
            while (nl >= 0) {
              const line = buffer.slice(0, nl);
              buffer = buffer.slice(nl + 1);
              const msg = JSON.parse(line) as { ready?: number; call_id?: string; at?: number };
              if (msg.ready) ready += msg.ready;
              if (msg.call_id && msg.at) {
                const idx = indexOfCall.get(msg.call_id);
                if (idx !== undefined) arrivals[idx]!.push(msg.at);
              }
              nl = buffer.indexOf('\n');
            }
          }
        })();
      }
      const deadline = Date.now() + 60_000;
      while (ready < options.subscribers && Date.now() < deadline) await Bun.sleep(50);
      await Bun.sleep(500);
      const connected = rssMiB(api.proc.pid);
      stopChildren = () => {
        for (const child of children) child.kill('SIGTERM');
      };

      const sent: number[] = [];
      for (let i = 0; i < options.events; i++) {
        const body = JSON.stringify({
          sidecar_id: 'bench',
          batch_id: crypto.randomUUID(),
          events: [
            {
              event_id: `${callIds[i]}:ringing`,
              call_id: callIds[i],
              seq: 1,
              type: 'ringing',
              status: 'ringing',
              occurred_at: new Date().toISOString(),
            },
          ],
        });
        const signature = await signChannelMessage({
          key: sidecarKey,
          issuer: 'sidecar:bench',
          audience: 'outdial',
          typ: TYP_EVENTS,
          method: 'POST',
          path: API_EVENTS_PATH,
          body,
        });
        sent.push(performance.timeOrigin + performance.now());
        const res = await fetch(`${api.url}${API_EVENTS_PATH}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${signature}`, 'Content-Type': 'application/json' },
          body,
        });
        if (res.status !== 200) throw new Error(`event batch answered ${res.status}`);
        await Bun.sleep(100);
      }
      const waitAll = Date.now() + 15_000;
      while (arrivals.some((a) => a.length < ready) && Date.now() < waitAll) await Bun.sleep(20);
      const during = rssMiB(api.proc.pid);
      const latencies = arrivals.flatMap((times, i) => times.map((t) => t - sent[i]!)).sort((a, b) => a - b);
      const delivered = latencies.length;
      const name = `SSE fan-out, ${ready} subscribers, ${options.events} events`;
      rows.push({ bench: name, measure: 'event → delivery p50', value: fmt.ms(percentile(latencies, 50)) });
      rows.push({ bench: name, measure: 'event → delivery p99', value: fmt.ms(percentile(latencies, 99)) });
      rows.push({ bench: name, measure: 'deliveries', value: `${delivered} of ${ready * options.events}` });
      rows.push({
        bench: 'API process',
        measure: 'memory with SSE',
        value: `${fmt.mib(connected)} with ${ready} streams, ${fmt.mib(during)} after the events`,
        baseline: `idle ${fmt.mib(idle)}`,
        ratio: fmt.ratio(connected, idle),
      });
    } finally {
      stopChildren();
      await api.stop();
    }
  } finally {
    cluster.stop();
  }
  return rows;
}
