/**
 * `npm run test:fuzz`: the hostile-input suite at length, with a random seed unless one is given.
 * The seed and count are printed first, so a failing run replays exactly:
 *
 *   npm run test:fuzz                                  random seed, 40,000 requests
 *   FUZZ_SEED=123 FUZZ_RUNS=100000 npm run test:fuzz   a given seed and count
 *   TEST_DB=postgres npm run test:fuzz                 on a throwaway PostgreSQL cluster
 */
import { type PostgresCluster, startPostgresCluster } from '../harness/postgres.ts';

const root = new URL('../..', import.meta.url).pathname;
const seed = process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
const runs = process.env.FUZZ_RUNS ?? '40000';
const db = process.env.TEST_DB ?? 'pglite';
console.log(`hostile input at length: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} TEST_DB=${db}`);

let cluster: PostgresCluster | null = null;
if (db === 'postgres' && !process.env.TEST_PG_URL) cluster = await startPostgresCluster();
const env = {
  ...process.env,
  FUZZ_SEED: seed,
  FUZZ_RUNS: runs,
  TEST_DB: db,
  ...(cluster ? { TEST_PG_URL: cluster.url() } : {}),
};
let code: number;
try {
  const proc = Bun.spawn([`${root}node_modules/.bin/bun`, 'test', '--timeout', '3600000', './test/fuzz'], {
    cwd: root,
    env,
    stdout: 'inherit',
    stderr: 'inherit',
    stdin: 'ignore',
  });
  code = await proc.exited;
} finally {
  cluster?.stop();
}
console.log(
  `hostile input at length: ${code === 0 ? 'passed' : 'FAILED'}; replay with FUZZ_SEED=${seed} FUZZ_RUNS=${runs}`,
);
process.exit(code);
