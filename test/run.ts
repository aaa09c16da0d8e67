/**
 * `npm test`: typecheck, lint, unit and component tests, the integration suite on the embedded
 * PGlite and on a throwaway PostgreSQL cluster, end-to-end, faults, browser and Workers suites.
 * Every step runs even when an earlier one failed, so one run shows everything; the exit code is
 * non-zero if any step failed.
 *
 *   npm test                      everything
 *   npm test -- --only lint,unit  some steps (names below)
 *   npm test -- --skip browser
 */
import { existsSync } from 'node:fs';
import { type PostgresCluster, startPostgresCluster } from './harness/postgres.ts';

interface Step {
  name: string;
  what: string;
  run: () => Promise<number>;
}

const root = new URL('..', import.meta.url).pathname;
const bin = (name: string) => `${root}node_modules/.bin/${name}`;

/**
 * What `bun test` printed about each failing test: its name and the first line of its error. The
 * runner prints these after the summary, so that the last lines of a run (all a CI log may keep)
 * name what failed, not only which step.
 */
const failures: { step: string; name: string; line: string }[] = [];
let currentStep = '';

/** Reads a child's stream, passes it through unchanged, and notes `(fail)` lines with their error. */
async function passThrough(stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream): Promise<void> {
  const decoder = new TextDecoder();
  let pending = '';
  let lastError = '';
  let lastWhere = '';
  for await (const chunk of stream) {
    out.write(chunk);
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const raw of lines) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are stripped.
      const line = raw.replace(/\x1b\[[0-9;]*m/g, '').trimEnd();
      if (/^(error|TypeError|Error|RangeError|SyntaxError)\b/.test(line)) {
        lastError = line;
        lastWhere = '';
      } else if (lastError && !lastWhere && /^(Expected|Received)\b/.test(line.trim())) {
        lastError += `; ${line.trim()}`;
      } else if (!lastWhere && /^\s+at .*test\.ts:\d+/.test(line)) {
        lastWhere = line.replace(/^.*\/((?:test|api|db|sidecar|asterisk)\/[^)]*test\.ts:\d+).*$/, '$1');
      } else if (line.startsWith('(fail) ')) {
        // bun test names each failure twice: where it happens, after its error, and in its closing list.
        const name = line.slice(7).replace(/ \[[\d.]+m?s\]$/, '');
        if (!failures.some((f) => f.step === currentStep && f.name === name)) {
          const what = `${line.slice(7)}${lastError ? ` — ${lastError}` : ''}${lastWhere ? ` (${lastWhere})` : ''}`;
          failures.push({ step: currentStep, name, line: what });
        }
        lastError = '';
        lastWhere = '';
      }
    }
  }
}

async function sh(cmd: string[], env: Record<string, string | undefined> = {}): Promise<number> {
  const proc = Bun.spawn(cmd, {
    cwd: root,
    env: { ...process.env, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
  });
  await Promise.all([passThrough(proc.stdout, process.stdout), passThrough(proc.stderr, process.stderr)]);
  return proc.exited;
}

async function bunTest(paths: string[], env: Record<string, string | undefined> = {}): Promise<number> {
  const present = paths.filter((p) => existsSync(`${root}${p}`));
  // With no path at all `bun test` would run every test in the repository.
  if (present.length === 0) throw new Error(`none of ${paths.join(', ')} exists`);
  return sh([bin('bun'), 'test', '--timeout', '30000', ...present.map((p) => `./${p}`)], env);
}

// One throwaway cluster serves every step that needs PostgreSQL; it is started on first use.
const pg: { cluster: PostgresCluster | null } = { cluster: null };

const steps: Step[] = [
  {
    name: 'typecheck',
    what: 'tsc --noEmit over the whole repository',
    run: () => sh([bin('tsc'), '-p', '.']),
  },
  {
    name: 'lint',
    what: 'Biome (lint and format check), then knip (unused files, exports and dependencies)',
    run: async () => (await sh([bin('biome'), 'ci', '.'])) || sh([bin('knip')]),
  },
  {
    name: 'unit',
    what: 'unit and component tests (api, db, sidecar, ARI simulator), and the CLIs against a started stack',
    // test/cli runs `outdial` against the real API, sidecar and simulator, on PostgreSQL.
    run: async () => {
      pg.cluster ??= await startPostgresCluster();
      return bunTest(['api', 'db', 'sidecar', 'asterisk', 'test/unit', 'test/sidecar', 'test/cli'], {
        TEST_PG_URL: pg.cluster.url(),
      });
    },
  },
  {
    name: 'integration-pglite',
    what: 'the API over real HTTP and in-process, on the embedded PGlite',
    run: () => bunTest(['test/integration'], { TEST_DB: 'pglite' }),
  },
  {
    name: 'integration-postgres',
    what: 'the same suite on a throwaway PostgreSQL cluster',
    run: async () => {
      pg.cluster ??= await startPostgresCluster();
      return bunTest(['test/integration'], { TEST_DB: 'postgres', TEST_PG_URL: pg.cluster.url() });
    },
  },
  {
    name: 'fuzz',
    what: 'hostile input generated from the OpenAPI document (fixed seed), over HTTP and in-process, on PGlite',
    run: () => bunTest(['test/fuzz'], { TEST_DB: 'pglite' }),
  },
  {
    name: 'workers',
    what: 'the same suite against the Workers entry under wrangler dev (workerd), on PostgreSQL',
    run: async () => {
      pg.cluster ??= await startPostgresCluster();
      return bunTest(['test/integration'], {
        TEST_TARGET: 'workerd',
        TEST_DB: 'postgres',
        TEST_PG_URL: pg.cluster.url(),
      });
    },
  },
  {
    name: 'e2e',
    what: 'calls end to end: the real API on PostgreSQL, the real sidecar and the ARI simulator',
    run: async () => {
      pg.cluster ??= await startPostgresCluster();
      return bunTest(['test/e2e'], { TEST_PG_URL: pg.cluster.url() });
    },
  },
  {
    name: 'faults',
    what: 'the fault proxy, and faults between sidecar, ARI, API and PostgreSQL under load (about 3 min)',
    run: async () => {
      pg.cluster ??= await startPostgresCluster();
      return bunTest(['test/faults'], { TEST_PG_URL: pg.cluster.url() });
    },
  },
  {
    name: 'ops',
    what: 'compose file, images, Asterisk configuration; alerts and dashboard against a live API and sidecar',
    run: () => bunTest(['test/ops']),
  },
  {
    name: 'browser',
    what: 'pages in Debian Chromium driven by Playwright',
    run: () => bunTest(['test/browser']),
  },
];

function parseList(flag: string): Set<string> | null {
  const i = process.argv.indexOf(flag);
  if (i < 0) return null;
  return new Set((process.argv[i + 1] ?? '').split(',').filter(Boolean));
}

const only = parseList('--only');
const skip = parseList('--skip') ?? new Set<string>();
for (const name of [...(only ?? []), ...skip]) {
  if (!steps.some((s) => s.name === name)) {
    console.error(`unknown step "${name}"; steps: ${steps.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
}

const results: { name: string; code: number; seconds: number }[] = [];
const started = performance.now();
try {
  for (const step of steps) {
    if ((only && !only.has(step.name)) || skip.has(step.name)) continue;
    console.log(`\n━━ ${step.name}: ${step.what}`);
    currentStep = step.name;
    const t = performance.now();
    let code: number;
    try {
      code = await step.run();
    } catch (error) {
      console.error(error);
      code = 1;
    }
    results.push({ name: step.name, code, seconds: (performance.now() - t) / 1000 });
  }
} finally {
  pg.cluster?.stop();
}

console.log('\n━━ summary');
for (const r of results)
  console.log(
    `${r.code === 0 ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(22)} ${r.seconds.toFixed(1).padStart(6)} s`,
  );
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (failures.length > 0) {
  console.log(`\n━━ failed tests (${failures.length})`);
  for (const f of failures.slice(0, 12)) console.log(`${f.step}: ${f.line}`.slice(0, 400));
  if (failures.length > 12) console.log(`… and ${failures.length - 12} more above`);
}
process.exit(results.some((r) => r.code !== 0) ? 1 : 0);
