import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { type SimHandle, startAriSimulator } from '../../asterisk/sim/server.ts';
import { parseConfig } from '../../sidecar/config.ts';
import { type RunningSidecar, startSidecar } from '../../sidecar/sidecar.ts';
import { keyPair } from '../harness/channel.ts';
import { startTestStack, type TestStack, type TestUser } from '../harness/stack.ts';
import { freePort, tempDir } from '../harness/util.ts';
import { FAST_TUNING } from '../sidecar/harness.ts';
import { loadCompose, ROOT, serviceEnv } from './compose.ts';
import {
  COUNTER_FUNCTIONS,
  GAUGE_FUNCTIONS,
  groupingLabels,
  type Node,
  parsePromQL,
  resultLabels,
  type Selector,
  selectors,
  substituteGrafanaVariables,
} from './promql.ts';

/**
 * The monitoring files against the running programs: the API (with its database) and the real
 * sidecar against the ARI simulator, wired to each other over signed HTTP, after a little
 * traffic that makes every labelled series appear. Every metric an alert or a dashboard panel
 * selects must be on the /metrics of the job it names, with the labels it matches on and the
 * type its functions need.
 */

const MONITORING = `${ROOT}api/deploy/monitoring/`;
const yaml = (path: string) => Bun.YAML.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (yaml(`${MONITORING}alerts.yml`) as { groups: { name: string; rules: Rule[] }[] }).groups;
const prometheus = yaml(`${MONITORING}prometheus.yml`) as {
  rule_files: string[];
  scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
};
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; legendFormat?: string; refId: string; datasource?: { uid: string } }[];
}
const dashboard = JSON.parse(readFileSync(`${MONITORING}grafana/dashboards/outdial.json`, 'utf8')) as {
  uid: string;
  panels: Panel[];
};

/** Series Prometheus makes itself for every target; they are never on a /metrics page. */
const SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_series_added']);
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

interface Family {
  type: string;
  labels: Set<string>;
  /** Label name → values seen. */
  values: Map<string, Set<string>>;
}

/** Reads the Prometheus text format into metric families. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      families.set(type[1]!, { type: type[2]!, labels: new Set(), values: new Map() });
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const family = familyOf(families, sample[1]!);
    if (!family) throw new Error(`a sample without a TYPE: ${line}`);
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      family.family.labels.add(m[1]!);
      const seen = family.family.values.get(m[1]!) ?? new Set<string>();
      seen.add(m[2]!);
      family.family.values.set(m[1]!, seen);
    }
  }
  return families;
}

/** The family a sample or selector name belongs to, and its suffix (_bucket, _sum, _count). */
function familyOf(families: Map<string, Family>, name: string): { family: Family; suffix: string } | null {
  const exact = families.get(name);
  if (exact) return { family: exact, suffix: '' };
  const m = /^(.*)(_bucket|_sum|_count|_total|_created)$/.exec(name);
  if (!m) return null;
  const base = families.get(m[1]!);
  if (!base) return null;
  if (m[2] === '_bucket' && base.type !== 'histogram') return null;
  if ((m[2] === '_sum' || m[2] === '_count') && base.type !== 'histogram' && base.type !== 'summary')
    return null;
  if (m[2] === '_total' && base.type !== 'counter') return null;
  return { family: base, suffix: m[2]! };
}

const JOBS = prometheus.scrape_configs.map((s) => s.job_name);

let sim: SimHandle;
let stack: TestStack;
let sidecar: RunningSidecar;
let user: TestUser;
const dataDir = tempDir('outdial-ops-');
const hooks: ReturnType<typeof Bun.serve>[] = [];
const delivered: string[] = [];
const exposition = new Map<string, Map<string, Family>>();

async function until(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(25);
  }
}

async function placeCall(phone: string, callback?: string) {
  return stack.request('http', '/api/v2/calls', {
    token: user.token,
    json: { phone_number: phone, ...(callback ? { status_callback: callback } : {}) },
  });
}

async function waitFinal(callId: string) {
  let status = '';
  await until(
    async () => {
      const res = await stack.request('http', `/api/v2/calls/${callId}`, { token: user.token });
      status = ((await res.json()) as { status: string }).status;
      return ['completed', 'busy', 'no_answer', 'failed', 'canceled'].includes(status);
    },
    15_000,
    `call ${callId} final`,
  );
  return status;
}

beforeAll(async () => {
  const username = 'ops';
  const password = `pw-${crypto.randomUUID()}`;
  sim = await startAriSimulator({ port: 0, timeScale: 0.05, username, password });
  const sidecarKey = await keyPair();
  const sidecarPort = await freePort();
  const ok = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      delivered.push(await request.text());
      return new Response(null, { status: 204 });
    },
  });
  const broken = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => new Response('no', { status: 500 }),
  });
  hooks.push(ok, broken);
  stack = await startTestStack({
    env: {
      SIDECAR_ID: 'ops-sidecar',
      SIDECAR_URL: `http://127.0.0.1:${sidecarPort}`,
      SIDECAR_PUBLIC_KEY: sidecarKey.publicJson,
      SIDECAR_TIMEOUT_MS: '1000',
      WEBHOOK_ALLOW_LOOPBACK: 'true',
      WEBHOOK_MAX_ATTEMPTS: '1',
      WEBHOOK_POLL_MS: '50',
    },
  });
  user = await stack.user('operator');

  // Before the sidecar runs: the API answers 503 and records the call as failed, pbx_unreachable.
  const unreachable = await placeCall('+15551234000');
  expect(unreachable.status).toBe(503);

  const jwks = await (await fetch(`${stack.api.url}/.well-known/jwks.json`)).text();
  sidecar = await startSidecar({
    ...parseConfig({
      SIDECAR_ID: 'ops-sidecar',
      SIDECAR_HOST: '127.0.0.1',
      SIDECAR_PORT: String(sidecarPort),
      SIDECAR_PRIVATE_KEY: sidecarKey.privateJson,
      API_URL: stack.api.url,
      API_PUBLIC_KEYS: jwks,
      ARI_HTTP_URL: `${sim.url}/ari`,
      ARI_USERNAME: username,
      ARI_PASSWORD: password,
      ARI_DIAL_CONTEXT: 'sim-callee',
      DATA_DIR: dataDir.path,
      LOG_LEVEL: 'silent',
    }),
    tuning: FAST_TUNING,
  });
  await until(() => sidecar.status().ari.connected, 5000, 'events socket connected');

  // One call answers and completes (its webhook is delivered), one meets congestion and fails
  // (its webhook endpoint fails and, with one attempt allowed, is given up).
  const calls = await Promise.all([
    placeCall('+15551234000', `http://127.0.0.1:${ok.port}/hook`),
    placeCall('+15551234003', `http://127.0.0.1:${broken.port}/hook`),
  ]);
  const ids: string[] = [];
  for (const res of calls) {
    expect(res.status).toBe(200);
    ids.push(((await res.json()) as { call_id: string }).call_id);
  }
  expect(await Promise.all(ids.map(waitFinal))).toEqual(['completed', 'failed']);
  await until(() => delivered.length > 0, 10_000, 'a webhook delivered');
  await until(
    async () =>
      /webhook_attempts_total\{result="failed"\}/.test(
        await (await fetch(`${stack.api.url}/metrics`)).text(),
      ),
    10_000,
    'a webhook given up',
  );
  await until(() => sidecar.status().outbox_depth === 0, 10_000, 'outbox drained');

  for (const [job, url] of [
    ['outdial-api', `${stack.api.url}/metrics`],
    ['outdial-sidecar', `${sidecar.url}/metrics`],
  ] as const) {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    exposition.set(job, parseExposition(await res.text()));
  }
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await stack?.stop();
  await sim?.stop();
  for (const hook of hooks) hook.stop(true);
  dataDir.remove();
});

interface Query {
  where: string;
  expr: string;
  ast: Node;
  /** {{label}} the legend or annotations fill in from the result. */
  uses: string[];
}

function queries(): Query[] {
  const out: Query[] = [];
  for (const group of rules) {
    for (const rule of group.rules) {
      const uses = Object.values(rule.annotations ?? {}).flatMap((text) =>
        [...text.matchAll(/\$labels\.([a-zA-Z_]\w*)/g)].map((m) => m[1]!),
      );
      out.push({ where: `alert ${rule.alert}`, expr: rule.expr, ast: parsePromQL(rule.expr), uses });
    }
  }
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      const expr = substituteGrafanaVariables(target.expr);
      const uses = [...(target.legendFormat ?? '').matchAll(/\{\{\s*([a-zA-Z_]\w*)\s*\}\}/g)].map(
        (m) => m[1]!,
      );
      out.push({
        where: `panel "${panel.title}" ${target.refId}`,
        expr: target.expr,
        ast: parsePromQL(expr),
        uses,
      });
    }
  }
  return out;
}

/** The job a selector names, which must be a scrape job. */
function jobOf(selector: Selector): string | null {
  const job = selector.matchers.find((m) => m.label === 'job');
  return job && job.op === '=' ? job.value : null;
}

function labelsOf(selector: Selector): Set<string> {
  const base = new Set(TARGET_LABELS);
  if (!selector.name || SYNTHETIC.has(selector.name)) return base;
  const found = familyOf(exposition.get(jobOf(selector) ?? '') ?? new Map(), selector.name);
  for (const label of found?.family.labels ?? []) base.add(label);
  if (found?.suffix === '_bucket') base.add('le');
  return base;
}

/** Every problem with one query; empty when it is sound. */
function problems(q: Query): string[] {
  const out: string[] = [];
  const all = selectors(q.ast);
  if (all.length === 0) out.push('selects no series');
  for (const s of all) {
    const what = `${q.where}: ${s.name ?? '{…}'}`;
    const job = jobOf(s);
    if (!s.name) {
      out.push(`${what}: a selector without a metric name`);
      continue;
    }
    if (!job || !JOBS.includes(job)) {
      out.push(`${what}: job must be one of ${JOBS.join(', ')} (got ${job ?? 'none'})`);
      continue;
    }
    if (SYNTHETIC.has(s.name)) continue;
    const found = familyOf(exposition.get(job)!, s.name);
    if (!found) {
      out.push(`${what}: not on the /metrics of ${job}`);
      continue;
    }
    const { family, suffix } = found;
    const counterLike = family.type === 'counter' || suffix !== '';
    if (s.fn && COUNTER_FUNCTIONS.has(s.fn) && !counterLike)
      out.push(`${what}: ${s.fn}() of a ${family.type}`);
    if (s.fn && GAUGE_FUNCTIONS.has(s.fn) && family.type !== 'gauge')
      out.push(`${what}: ${s.fn}() of a ${family.type}`);
    for (const m of s.matchers) {
      if (TARGET_LABELS.includes(m.label)) continue;
      if (m.label === 'le' && suffix === '_bucket') continue;
      if (!family.labels.has(m.label)) {
        out.push(`${what}: no label "${m.label}" (has ${[...family.labels].join(', ') || 'none'})`);
        continue;
      }
      const seen = [...(family.values.get(m.label) ?? [])];
      // The traffic above produces every value the queries pick out.
      if (m.op === '=' && !seen.includes(m.value))
        out.push(`${what}: ${m.label}="${m.value}" never seen (${seen.join(', ')})`);
      if (m.op === '=~' && !seen.some((v) => new RegExp(`^(?:${m.value})$`).test(v))) {
        out.push(`${what}: ${m.label}=~"${m.value}" matches none of ${seen.join(', ')}`);
      }
    }
  }
  const available = new Set(all.flatMap((s) => [...labelsOf(s)]));
  for (const label of groupingLabels(q.ast)) {
    if (!available.has(label)) out.push(`${q.where}: groups by "${label}", which no selected series has`);
  }
  checkQuantiles(q.ast, q.where, out);
  const result = resultLabels(q.ast, labelsOf);
  for (const label of q.uses) {
    if (!result.has(label))
      out.push(`${q.where}: uses {{${label}}}, but the result has only ${[...result].join(', ')}`);
  }
  return out;
}

/** histogram_quantile over buckets, aggregated by le. */
function checkQuantiles(node: Node, where: string, out: string[]): void {
  const visit = (n: Node): void => {
    if (n.kind === 'call' && n.fn === 'histogram_quantile') {
      const inner = selectors(n.args[1]!);
      if (!inner.every((s) => s.name?.endsWith('_bucket')))
        out.push(`${where}: histogram_quantile() of something else than buckets`);
      const agg = n.args[1]!;
      if (agg.kind === 'aggregate' && !(agg.grouping?.mode === 'by' && agg.grouping.labels.includes('le'))) {
        out.push(`${where}: histogram_quantile() over an aggregation that drops le`);
      }
    }
    for (const child of children(n)) visit(child);
  };
  visit(node);
}

function children(n: Node): Node[] {
  switch (n.kind) {
    case 'subquery':
    case 'paren':
    case 'unary':
      return [n.expr];
    case 'call':
    case 'aggregate':
      return n.args;
    case 'binary':
      return [n.left, n.right];
    default:
      return [];
  }
}

describe('monitoring against a running API and sidecar', () => {
  test('both /metrics pages carry the metrics of their code', () => {
    const api = exposition.get('outdial-api')!;
    const sc = exposition.get('outdial-sidecar')!;
    for (const name of [
      'api_requests_total',
      'calls_total',
      'calls_failed_total',
      'originate_latency_seconds',
    ]) {
      expect(api.has(name) || api.has(name.replace(/_total$/, ''))).toBe(true);
    }
    for (const name of ['sidecar_ari_websocket_connected', 'sidecar_breaker_state', 'sidecar_outbox_depth']) {
      expect(sc.has(name)).toBe(true);
    }
    expect(sc.has('api_requests')).toBe(false);
  });

  test('every alert and every panel query parses, and selects metrics that exist on its job with the labels it uses', () => {
    const all = queries();
    expect(all.length).toBeGreaterThan(30);
    expect(all.flatMap(problems)).toEqual([]);
  });

  test('the checks catch a metric that does not exist, a wrong job, a label the metric lacks and a misused function', () => {
    const check = (expr: string, uses: string[] = []) =>
      problems({ where: 'probe', expr, ast: parsePromQL(expr), uses });
    expect(check('rate(calls_launched_total{job="outdial-api"}[5m])')).toEqual([]);
    expect(check('rate(calls_dropped_total{job="outdial-api"}[5m])')).toHaveLength(1);
    expect(check('sidecar_breaker_state{job="outdial-api"}')).toHaveLength(1);
    expect(check('sidecar_breaker_state{job="outdial"}')).toHaveLength(1);
    expect(check('sidecar_breaker_state')).toHaveLength(1);
    expect(check('calls_total{job="outdial-api", reason="busy"}')).toHaveLength(1);
    expect(check('calls_total{job="outdial-api", status="exploded"}')).toHaveLength(1);
    expect(check('rate(sidecar_outbox_depth{job="outdial-sidecar"}[5m])')).toHaveLength(1);
    expect(check('deriv(calls_total{job="outdial-api"}[5m])')).toHaveLength(1);
    expect(check('sum by (route) (rate(api_requests_total{job="outdial-api"}[5m]))')).toHaveLength(1);
    expect(check('sum(rate(api_requests_total{job="outdial-api"}[5m]))', ['status'])).toHaveLength(1);
    expect(
      check(
        'histogram_quantile(0.9, sum by (path) (rate(api_request_latency_seconds_bucket{job="outdial-api"}[5m])))',
      ),
    ).toHaveLength(1);
  });

  test('the rules cover what an operator must hear about', () => {
    const byAlert = new Map(rules.flatMap((g) => g.rules).map((r) => [r.alert!, r]));
    expect(byAlert.size).toBe(rules.flatMap((g) => g.rules).length);
    const using = (pattern: RegExp) =>
      [...byAlert.values()].filter((r) => pattern.test(r.expr)).map((r) => r.alert);
    expect(using(/api_requests_total\{[^}]*status=~"5\.\."/)).not.toEqual([]);
    expect(using(/histogram_quantile\([^,]+,[\s\S]*api_request_latency_seconds_bucket/)).not.toEqual([]);
    expect(using(/calls_total\{[^}]*status="failed"/)).not.toEqual([]);
    expect(using(/sidecar_ari_websocket_connected/)).not.toEqual([]);
    expect(using(/sidecar_breaker_state[^\n]*== 2/)).not.toEqual([]);
    expect(using(/deriv\(sidecar_outbox_depth/)).not.toEqual([]);
    for (const job of JOBS) expect(using(new RegExp(`up\\{job="${job}"\\} == 0`))).toHaveLength(1);
    for (const rule of byAlert.values()) {
      expect({ alert: rule.alert, severity: ['page', 'warn'].includes(rule.labels?.severity ?? '') }).toEqual(
        {
          alert: rule.alert,
          severity: true,
        },
      );
      expect(rule.annotations?.summary).toBeTruthy();
      if (rule.for) expect(rule.for).toMatch(/^\d+[smh]$/);
    }
  });
});

describe('monitoring files and docker-compose.yml agree', () => {
  const compose = loadCompose(
    new Proxy({} as Record<string, string>, {
      get: (_, name) => (typeof name === 'string' ? `test-${name.toLowerCase()}` : undefined),
    }),
  );

  test('Prometheus scrapes the compose services on their ports and loads the mounted rules', () => {
    const volumes = compose.services.prometheus!.volumes ?? [];
    const mountOf = (file: string) =>
      volumes.find((v) => v.startsWith(`./api/deploy/monitoring/${file}:`))?.split(':')[1];
    expect(mountOf('alerts.yml')).toBe(prometheus.rule_files[0]!);
    expect(prometheus.rule_files).toHaveLength(1);
    expect(compose.services.prometheus!.command).toContain(`--config.file=${mountOf('prometheus.yml')}`);
    const apiPort = serviceEnv(compose.services.api!).PORT;
    const sidecarPort = serviceEnv(compose.services.sidecar!).SIDECAR_PORT;
    const targets = Object.fromEntries(
      prometheus.scrape_configs.map((s) => [s.job_name, s.static_configs.flatMap((c) => c.targets)]),
    );
    expect(targets).toEqual({
      'outdial-api': [`api:${apiPort}`],
      'outdial-sidecar': [`sidecar:${sidecarPort}`],
    });
    for (const s of prometheus.scrape_configs) expect(s.metrics_path ?? '/metrics').toBe('/metrics');
    // Prometheus shares a network with both.
    for (const name of ['api', 'sidecar', 'grafana']) {
      expect(compose.services[name]!.networks).toContain('app');
    }
    expect(compose.services.prometheus!.networks).toEqual(['app']);
  });

  test('Grafana is provisioned with the Prometheus every panel uses, and the dashboard is laid out', () => {
    const datasources = yaml(`${MONITORING}grafana/provisioning/datasources/prometheus.yml`) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(datasources.datasources).toHaveLength(1);
    const ds = datasources.datasources[0]!;
    expect(ds).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const providers = yaml(`${MONITORING}grafana/provisioning/dashboards/outdial.yml`) as {
      providers: { options: { path: string } }[];
    };
    const volumes = compose.services.grafana!.volumes ?? [];
    expect(volumes).toContain(
      `./api/deploy/monitoring/grafana/dashboards:${providers.providers[0]!.options.path}:ro`,
    );
    expect(volumes).toContain('./api/deploy/monitoring/grafana/provisioning:/etc/grafana/provisioning:ro');

    const ids = new Set<number>();
    const cells = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(ids.has(panel.id)).toBe(false);
      ids.add(panel.id);
      const { x, y, w, h } = panel.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i += 1) {
        for (let j = y; j < y + h; j += 1) {
          expect({ panel: panel.title, overlaps: cells.has(`${i},${j}`) }).toEqual({
            panel: panel.title,
            overlaps: false,
          });
          cells.add(`${i},${j}`);
        }
      }
      if (panel.type === 'row') continue;
      expect(panel.datasource?.uid).toBe(ds.uid);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid ?? ds.uid).toBe(ds.uid);
      expect(panel.targets?.length).toBeGreaterThan(0);
    }
  });
});
