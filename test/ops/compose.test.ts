import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '../../api/config.ts';
import { generateEnv } from '../../api/deploy/generate-env.ts';
import { createPublicKeySet, loadPublicJwks, loadSigningKey } from '../../api/shared/base/keys.ts';
import { parseConfig } from '../../sidecar/config.ts';
import {
  COMPOSE_FILE,
  type Compose,
  completeEnv,
  loadCompose,
  MissingVariable,
  OPERATOR_SETTINGS,
  parseDotenv,
  ROOT,
  rawCompose,
  references,
  type Service,
  serviceEnv,
  serviceNetworks,
} from './compose.ts';

/**
 * docker-compose.yml, the images' Dockerfiles, the proxy's Caddyfile and the .env generator,
 * checked without a Docker engine: what is published, where secrets come from, which networks
 * each service sits on, that the API and the sidecar accept the environment compose hands them,
 * and that each image holds every file its program imports. When a compose client is installed,
 * `docker compose config` must accept the file with a generated .env and refuse it without one.
 */

const generated = await generateEnv();
const envText = completeEnv(generated);
const env = parseDotenv(envText);
const compose: Compose = loadCompose(env);
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};

const SECRET_NAME = /PASSWORD|SECRET|PRIVATE_KEY|TOKEN/;

describe('the .env generator', () => {
  test('covers every variable docker-compose.yml requires, leaving only the operator settings empty', async () => {
    const required = new Set(
      references()
        .filter((r) => r.form === ':?' || r.form === '?')
        .map((r) => r.name),
    );
    const raw = parseDotenv(generated);
    const empty = Object.keys(raw).filter((k) => raw[k] === '');
    expect(empty.sort()).toEqual(Object.keys(OPERATOR_SETTINGS).sort());
    for (const name of required) expect({ name, present: name in raw }).toEqual({ name, present: true });
    // Nothing in it that compose does not read.
    const referenced = new Set(references().map((r) => r.name));
    for (const name of Object.keys(raw)) {
      expect({ name, used: referenced.has(name) || name.startsWith('COMPOSE_') }).toEqual({
        name,
        used: true,
      });
    }
    // Every run makes new secrets.
    const again = parseDotenv(completeEnv(await generateEnv()));
    for (const name of Object.keys(raw).filter((k) => SECRET_NAME.test(k) && raw[k])) {
      expect(again[name]).not.toBe(raw[name]!);
    }
  });

  test('without the generated .env, docker-compose.yml names each missing secret', () => {
    for (const name of Object.keys(env).filter((k) => SECRET_NAME.test(k) || k in OPERATOR_SETTINGS)) {
      const without = { ...env };
      delete without[name];
      let error: unknown = null;
      try {
        loadCompose(without);
      } catch (e) {
        error = e;
      }
      expect({ name, missing: error instanceof MissingVariable ? error.variable : null }).toEqual({
        name,
        missing: name,
      });
    }
  });
});

describe('docker-compose.yml', () => {
  test('only the proxy publishes ports: 443 and 80', () => {
    const published: Record<string, string[]> = {};
    for (const [name, s] of Object.entries(compose.services)) {
      expect({ name, network_mode: s.network_mode, privileged: s.privileged }).toEqual({
        name,
        network_mode: undefined,
        privileged: undefined,
      });
      if (!s.ports) continue;
      published[name] = s.ports.map((p) => (typeof p === 'string' ? p : `${p.published}:${p.target}`));
    }
    expect(published).toEqual({ proxy: ['443:443', '80:80'] });
  });

  test('every secret comes from .env with no default, and no default credential is written anywhere', () => {
    for (const ref of references()) {
      if (SECRET_NAME.test(ref.name)) {
        expect({ name: ref.name, path: ref.path, form: ref.form }).toEqual({
          name: ref.name,
          path: ref.path,
          form: ':?',
        });
      }
    }
    const raw = rawCompose() as { services: Record<string, Service> };
    for (const [name, s] of Object.entries(raw.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        const text = String(value);
        if (SECRET_NAME.test(key) || /^DATABASE_URL$/.test(key)) {
          expect({ name, key, fromEnv: /\$\{[A-Z_]+:\?/.test(text) }).toEqual({ name, key, fromEnv: true });
        }
        const literal = text.replace(/\$\{[^}]*\}/g, '');
        expect({ name, key, literal: /aripass|ariuser|changeme|admin123|secret/i.test(literal) }).toEqual({
          name,
          key,
          literal: false,
        });
      }
    }
    // The values reach the services as generated.
    expect(serviceEnv(service('postgres')).POSTGRES_PASSWORD).toBe(env.POSTGRES_PASSWORD!);
    expect(serviceEnv(service('api')).DATABASE_URL).toBe(
      `postgres://outdial:${env.POSTGRES_PASSWORD}@postgres:5432/outdial`,
    );
    expect(serviceEnv(service('grafana')).GF_SECURITY_ADMIN_PASSWORD).toBe(env.GRAFANA_ADMIN_PASSWORD!);
    expect(readFileSync(`${ROOT}.dockerignore`, 'utf8').split('\n')).toContain('.env');
  });

  test('networks: the database, ARI and the monitoring stay inside', () => {
    const networks = Object.fromEntries(
      Object.entries(compose.services).map(([name, s]) => [name, serviceNetworks(s).sort()]),
    );
    expect(networks).toEqual({
      proxy: ['app', 'edge'],
      api: ['app', 'db', 'edge'],
      postgres: ['db'],
      sidecar: ['app', 'pbx'],
      asterisk: ['pbx'],
      prometheus: ['app'],
      grafana: ['app'],
    });
    expect(compose.networks.app?.internal).toBe(true);
    expect(compose.networks.db?.internal).toBe(true);
    // ARI is bound to Asterisk's fixed address in the pbx subnet.
    const subnet = compose.networks.pbx?.ipam?.config?.[0]?.subnet ?? '';
    const address = (service('asterisk').networks as Record<string, { ipv4_address: string }>).pbx!
      .ipv4_address;
    expect(inSubnet(address, subnet)).toBe(true);
    expect(serviceEnv(service('asterisk')).ARI_BIND_ADDRESS).toBe(address);
  });

  test('every service has a healthcheck with a program its image has (oven/bun has no curl)', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      const test = s.healthcheck?.test;
      expect({ name, healthcheck: Array.isArray(test) }).toEqual({ name, healthcheck: true });
      const [kind, ...command] = test as string[];
      const program = kind === 'CMD-SHELL' ? command[0]!.split(/\s+/)[0]! : command[0]!;
      expect({ name, kind: ['CMD', 'CMD-SHELL'].includes(kind!) }).toEqual({ name, kind: true });
      expect({ name, program }).toEqual({ name, program: toolOf(s) });
    }
  });

  test('the API and the sidecar accept the environment compose gives them, and trust each other', async () => {
    const apiEnv = serviceEnv(service('api'));
    const sidecarEnv = serviceEnv(service('sidecar'));
    const api = loadConfig(apiEnv);
    const sidecar = parseConfig(sidecarEnv);
    expect(api.APP_ENV).toBe('production');
    expect(api.TRUST_PROXY).toBe(true);
    expect(api.SIDECAR_ID).toBe(sidecar.sidecarId);
    expect(new URL(api.SIDECAR_URL).host).toBe(`sidecar:${sidecar.port}`);
    expect(new URL(sidecar.apiUrl).host).toBe(`api:${api.PORT}`);
    expect(sidecar.host).toBe('0.0.0.0');
    expect(api.HOST).toBe('0.0.0.0');

    const apiKey = await loadSigningKey(api.JWT_PRIVATE_KEY!);
    const trustedBySidecar = await createPublicKeySet(await loadPublicJwks(sidecar.apiPublicKeys));
    expect(trustedBySidecar.get(apiKey.kid)).toBeDefined();
    const sidecarKey = await loadSigningKey(sidecar.privateKey);
    const trustedByApi = await createPublicKeySet(await loadPublicJwks(api.SIDECAR_PUBLIC_KEY!));
    expect(trustedByApi.get(sidecarKey.kid)).toBeDefined();
    // Each private key is only where it is used.
    expect(Object.values(sidecarEnv)).not.toContain(env.JWT_PRIVATE_KEY!);
    expect(Object.values(apiEnv)).not.toContain(env.SIDECAR_PRIVATE_KEY!);
  });

  test('the proxy serves the API and Grafana, not the metrics, with the domain and TLS from .env', () => {
    const caddyfile = readFileSync(`${ROOT}api/deploy/Caddyfile`, 'utf8');
    const uncommented = caddyfile
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n');
    const placeholders = new Set([...uncommented.matchAll(/\{\$([A-Z_]+)\}/g)].map((m) => m[1]!));
    const proxyEnv = serviceEnv(service('proxy'));
    for (const name of placeholders) expect({ name, set: !!proxyEnv[name] }).toEqual({ name, set: true });
    expect(uncommented).toMatch(/^\{\$OUTDIAL_DOMAIN\} \{$/m);
    expect(uncommented).toMatch(/^\s*tls \{\$OUTDIAL_TLS\}$/m);
    expect(uncommented).toMatch(/@metrics path \/metrics/);
    expect(uncommented).toMatch(/respond @metrics 404/);
    const upstreams = [...uncommented.matchAll(/reverse_proxy ([a-z-]+):(\d+)/g)].map((m) => [m[1]!, m[2]!]);
    expect(upstreams).toEqual([
      ['grafana', '3000'],
      ['api', serviceEnv(service('api')).PORT!],
    ]);
    const grafanaUrl = new URL(serviceEnv(service('grafana')).GF_SERVER_ROOT_URL!);
    expect(grafanaUrl.host).toBe(env.OUTDIAL_DOMAIN!);
    expect(uncommented).toContain(`handle ${grafanaUrl.pathname.replace(/\/$/, '')}*`);
    // Mounted files exist where compose says.
    for (const s of Object.values(compose.services)) {
      for (const volume of s.volumes ?? []) {
        if (volume.startsWith('./')) expect(existsSync(resolve(ROOT, volume.split(':')[0]!))).toBe(true);
      }
    }
  });
});

describe('the images', () => {
  const transpiler = new Bun.Transpiler({
    loader: 'tsx',
    tsconfig: JSON.stringify(JSON.parse(readFileSync(`${ROOT}tsconfig.json`, 'utf8'))),
  });
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  /** Files reachable by relative imports from the entries, and the packages they import. */
  function closure(entries: string[]) {
    const files = new Set<string>();
    const packages = new Set<string>();
    const stack = entries.map((e) => resolve(ROOT, e));
    while (stack.length > 0) {
      const file = stack.pop()!;
      if (files.has(file)) continue;
      files.add(file);
      for (const imp of transpiler.scanImports(readFileSync(file, 'utf8'))) {
        if (imp.path.startsWith('.')) stack.push(resolve(dirname(file), imp.path));
        else packages.add(imp.path);
      }
    }
    return { files: [...files].map((f) => f.slice(ROOT.length)), packages: [...packages] };
  }

  function dockerfile(path: string) {
    const text = readFileSync(`${ROOT}${path}`, 'utf8');
    const stages = text.split(/^FROM /m).slice(1);
    const final = stages.at(-1)!;
    const copies = [...final.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => {
      const parts = m[1]!.trim().split(/\s+/);
      return parts.slice(0, -1);
    });
    const cmd = JSON.parse(/^CMD (.+)$/m.exec(final)![1]!) as string[];
    return { base: final.split(/\s/)[0]!, copies, cmd };
  }

  const packageName = (spec: string) =>
    spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  const builtin = (spec: string) => spec.startsWith('node:') || spec.startsWith('bun:') || spec === 'bun';
  // Bun's scanner lists react for every JSX file whatever tsconfig's jsxImportSource (hono/jsx,
  // which it lists too); the transpiled code never imports it.
  const phantom = (spec: string) => spec === 'react';

  test.each([
    ['api/Dockerfile', ['api/entry/bun.ts', 'api/cli/user-create.ts', 'api/cli/migrate.ts']],
    ['sidecar/Dockerfile', ['sidecar/main.ts']],
  ])('%s holds every file its programs import, and their production dependencies', (path, entries) => {
    const { base, copies, cmd } = dockerfile(path);
    const wanted = pkg.devDependencies.bun!.replace(/^[\^~]/, '');
    expect(base).toBe(`oven/bun:${wanted}`);
    expect(cmd[0]).toBe('bun');
    expect(entries).toContain(cmd[1]!);
    for (const c of copies) expect({ c, exists: existsSync(`${ROOT}${c}`) }).toEqual({ c, exists: true });
    const inImage = (file: string) =>
      copies.some((c) => file === c || file.startsWith(`${c.replace(/\/$/, '')}/`));
    const { files, packages } = closure(entries);
    for (const file of files) expect({ file, inImage: inImage(file) }).toEqual({ file, inImage: true });
    for (const spec of packages.filter((p) => !builtin(p) && !phantom(p))) {
      expect({ spec, dependency: packageName(spec) in pkg.dependencies }).toEqual({ spec, dependency: true });
    }
    // The migrations are read from disk, next to db/migrate.ts.
    if (files.includes('db/migrate.ts')) expect(inImage('db/migrations/meta/_journal.json')).toBe(true);
  });

  test('asterisk/Dockerfile installs every configuration file and the entrypoint it runs', () => {
    const text = readFileSync(`${ROOT}asterisk/Dockerfile`, 'utf8');
    expect(text).toMatch(/^COPY \*\.conf \/usr\/local\/share\/outdial\/asterisk\/$/m);
    expect(text).toMatch(/^COPY entrypoint\.sh \/usr\/local\/bin\/outdial-asterisk-entrypoint$/m);
    expect(text).toMatch(/^ENTRYPOINT \["\/usr\/local\/bin\/outdial-asterisk-entrypoint"\]$/m);
    expect(text).toMatch(/^ARG ASTERISK_VERSION=22\.\d+\.\d+$/m);
    // The entrypoint's default template directory is where the image puts them.
    expect(readFileSync(`${ROOT}asterisk/entrypoint.sh`, 'utf8')).toMatch(
      /^TEMPLATES="\$\{OUTDIAL_TEMPLATE_DIR:-\/usr\/local\/share\/outdial\/asterisk\}"$/m,
    );
    expect((service('asterisk').build as { context: string }).context).toBe('asterisk');
  });
});

/** `docker compose`, or the older `docker-compose`, when one is installed. */
function composeClient(): string[] | null {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    try {
      const r = Bun.spawnSync([...cmd, 'version'], { stdout: 'ignore', stderr: 'ignore' });
      if (r.exitCode === 0) return cmd;
    } catch {
      // not installed
    }
  }
  return null;
}

const client = composeClient();

// Skipped only where no compose client is installed (npm test installs Debian's docker-compose
// when it may); the checks above cover the same ground without one.
describe.skipIf(client === null)(`${client?.join(' ') ?? 'docker compose'} config`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'outdial-compose-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function run(envFile: string) {
    const file = join(dir, `${crypto.randomUUID()}.env`);
    writeFileSync(file, envFile, { mode: 0o600 });
    // Only the env file: variables of the calling shell would override it.
    const r = Bun.spawnSync([...client!, '--env-file', file, '-f', COMPOSE_FILE, 'config'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  test('accepts the file with a generated .env and resolves it as these tests do', () => {
    const r = run(envText);
    expect(r.stderr).not.toContain('rror');
    expect(r.code).toBe(0);
    const resolved = Bun.YAML.parse(r.stdout) as Compose;
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(compose.services).sort());
    const published = Object.entries(resolved.services)
      .filter(([, s]) => s.ports?.length)
      .map(([name, s]) => [
        name,
        s.ports!.map((p) => (typeof p === 'string' ? p : `${p.published}:${p.target}`)).sort(),
      ]);
    expect(published).toEqual([['proxy', ['443:443', '80:80']]]);
    for (const name of Object.keys(compose.services)) {
      expect(serviceEnv(resolved.services[name]!)).toEqual(serviceEnv(compose.services[name]!));
    }
  });

  test('refuses it without a secret, naming it', () => {
    const r = run(envText.replace(/^ARI_PASSWORD=.*$/m, ''));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ARI_PASSWORD');
  });
});

function inSubnet(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const toInt = (a: string) => a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  const mask = Number(bits);
  const shift = 2 ** (32 - mask);
  return Math.floor(toInt(address) / shift) === Math.floor(toInt(base!) / shift);
}

/** The healthcheck program each image has: its own binary, or busybox's wget on Alpine-based ones. */
function toolOf(s: Service): string {
  if (s.build) {
    const build = s.build as { context: string; dockerfile?: string };
    if (build.context === 'asterisk') return 'asterisk';
    const from = /^FROM (\S+)\s*$/gm;
    const text = readFileSync(`${ROOT}${build.dockerfile}`, 'utf8');
    const last = [...text.matchAll(from)].at(-1)![1]!;
    if (last.startsWith('oven/bun:')) return 'bun';
    throw new Error(`no known tools in ${last}`);
  }
  const image = s.image ?? '';
  if (image.startsWith('postgres:')) return 'pg_isready';
  if (/^(caddy:.*-alpine|prom\/prometheus:|grafana\/grafana:)/.test(image)) return 'wget';
  throw new Error(`no known tools in ${image}`);
}
