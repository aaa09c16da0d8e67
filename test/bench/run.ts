/**
 * `npm run bench`: runs the benchmarks, prints one table of figures with a baseline measured in the
 * same run beside each, and writes it to bench-results/. Not part of `npm test`: speed is measured
 * here, never asserted as a wall-clock limit in tests.
 *
 *   npm run bench                 every benchmark
 *   npm run bench -- --only api   one of them (keys: an API key against a JWT)
 *   npm run bench -- --only api,sidecar,scale   the goals (goals.ts) alone
 *   BENCH_SECONDS=10 npm run bench
 *   BENCH_CONTACTS=1000000 npm run bench -- --only contacts
 *   BENCH_ENGINE_SECONDS=20 BENCH_ENGINE_RATE=100 npm run bench -- --only engine
 *   BENCH_CAMPAIGN_CONTACTS=1000000 npm run bench -- --only campaign-read
 *   BENCH_FLOW_CALLS=500 BENCH_FLOW_RATE=100 npm run bench -- --only flows
 *   BENCH_SIDECAR_PARTS=originate npm run bench -- --only sidecar    the originate path alone;
 *     with BENCH_PG_STATEMENTS=1 its statements per originate, with BENCH_CPU_PROF_DIR=dir CPU profiles
 */
import { benchApi } from './api.bench.ts';
import { benchCampaignRead } from './campaign-read.bench.ts';
import { benchContacts } from './contacts.bench.ts';
import { benchEngine } from './engine.bench.ts';
import { benchFlows } from './flows.bench.ts';
import { goalRows, goalsTable } from './goals.ts';
import { benchKeys } from './keys.bench.ts';
import { type Row, table, writeResults } from './lib.ts';
import { benchLive } from './live.bench.ts';
import { benchProfile } from './profile.ts';
import { benchScale } from './scale.bench.ts';
import { benchSidecar } from './sidecar.bench.ts';
import { benchSse } from './sse.bench.ts';
import { benchWebhooks } from './webhooks.bench.ts';
import { benchWorkers } from './workers.bench.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const benches: Record<string, () => Promise<Row[]>> = {
  api: () => benchApi({ seconds }),
  keys: () => benchKeys({ seconds }),
  sidecar: () => benchSidecar({ seconds }),
  scale: () => benchScale({ seconds }),
  profile: () => benchProfile({ seconds }),
  sse: () => benchSse({ subscribers: Number(process.env.BENCH_SSE_SUBSCRIBERS ?? 1000), events: 20 }),
  workers: () => benchWorkers({ seconds }),
  webhooks: () => benchWebhooks({ events: Number(process.env.BENCH_WEBHOOK_EVENTS ?? 200) }),
  live: () => benchLive({ seconds }),
  contacts: () => benchContacts({ rows: Number(process.env.BENCH_CONTACTS ?? 100_000) }),
  engine: () =>
    benchEngine({
      seconds: Number(process.env.BENCH_ENGINE_SECONDS ?? 20),
      rate: Number(process.env.BENCH_ENGINE_RATE ?? 100),
    }),
  'campaign-read': () =>
    benchCampaignRead({
      contacts: Number(process.env.BENCH_CAMPAIGN_CONTACTS ?? 1_000_000),
      seconds,
      connections: Number(process.env.BENCH_CAMPAIGN_CONNECTIONS ?? 4),
    }),
  flows: () =>
    benchFlows({
      calls: Number(process.env.BENCH_FLOW_CALLS ?? 400),
      rate: Number(process.env.BENCH_FLOW_RATE ?? 50),
    }),
};

const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex >= 0 ? new Set((process.argv[onlyIndex + 1] ?? '').split(',')) : null;
const rows: Row[] = [];
for (const [name, run] of Object.entries(benches)) {
  if (only && !only.has(name)) continue;
  console.error(`running ${name}…`);
  rows.push(...(await run()));
}
const header = [
  `# Outdial benchmarks`,
  '',
  `- date: ${new Date().toISOString()}`,
  `- runtime: Bun ${Bun.version} on ${process.platform}/${process.arch}, ${navigator.hardwareConcurrency} cores`,
  `- database: PostgreSQL (throwaway local cluster, fsync off)`,
  `- load: wrk (a separate process) for request rates, ${seconds} s per measurement; originate latency from`,
  '  sequential requests, one call at a time; SSE fan-out from separate subscriber processes; webhook',
  '  latency from signed event batches sent one after another to receivers in the bench process; flow',
  "  latency timed by the simulator (its tap), flows' memory from the heap of a sidecar in the bench process",
  '',
].join('\n');
const goals = goalRows(rows.flatMap((r) => (r.goal ? [r.goal] : [])));
const load = (
  await Bun.file('/proc/loadavg')
    .text()
    .catch(() => '')
)
  .split(' ')
  .slice(0, 3)
  .join(' ');
const text = [
  header,
  `- load average at the end: ${load || 'unknown'} (other work on the machine moves absolute figures)`,
  '',
  '## Goals',
  '',
  goalsTable(goals),
  '',
  '## Figures',
  '',
  table(rows),
  '',
].join('\n');
console.log(text);
const json = {
  date: new Date().toISOString(),
  bun: Bun.version,
  cores: navigator.hardwareConcurrency,
  load_average: load,
  seconds,
  goals,
  figures: rows.filter((r) => !r.goal),
};
console.error(`written to ${writeResults('bench', text, json)} (and .json beside it)`);
