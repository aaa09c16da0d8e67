import { readFileSync } from 'node:fs';

/**
 * docker-compose.yml as `docker compose` would see it, for tests that run without Docker: the
 * YAML parsed by Bun, `${VAR}` interpolation with compose's forms (`:-`, `-`, `:?`, `?`, `$$`),
 * and .env files read the way compose reads them (single quotes literal, double quotes with
 * escapes, `#` comments).
 */

export const ROOT = new URL('../../', import.meta.url).pathname;
export const COMPOSE_FILE = `${ROOT}docker-compose.yml`;

export interface Reference {
  name: string;
  /** '' (plain), ':-' / '-' (default), ':?' / '?' (required). */
  form: '' | ':-' | '-' | ':?' | '?';
  fallback: string;
  /** Where in the file: services.api.environment.DATABASE_URL and the like. */
  path: string;
}

export class MissingVariable extends Error {
  override name = 'MissingVariable';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

const REFERENCE = /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Interpolates one string; throws MissingVariable for a required variable that is unset (or empty with `:?`). */
export function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(REFERENCE, (whole, dollar, braced, form, arg, bare) => {
    if (dollar === '$') return '$';
    const name = (braced ?? bare) as string;
    const value = env[name];
    switch (form as string | undefined) {
      case ':-':
        return value ? value : (arg as string);
      case '-':
        return value !== undefined ? value : (arg as string);
      case ':?':
        if (!value) throw new MissingVariable(name, `${name}: ${arg || 'required'}`);
        return value;
      case '?':
        if (value === undefined) throw new MissingVariable(name, `${name}: ${arg || 'required'}`);
        return value;
      default:
        void whole;
        return value ?? '';
    }
  });
}

/** Every `${…}` in the raw file, with where it stands. */
export function references(node: unknown = rawCompose(), path = ''): Reference[] {
  if (typeof node === 'string') {
    return [...node.matchAll(REFERENCE)]
      .filter((m) => m[1] !== '$')
      .map((m) => ({
        name: (m[2] ?? m[5])!,
        form: (m[3] ?? '') as Reference['form'],
        fallback: m[4] ?? '',
        path,
      }));
  }
  if (Array.isArray(node)) return node.flatMap((v, i) => references(v, `${path}[${i}]`));
  if (node && typeof node === 'object') {
    return Object.entries(node).flatMap(([k, v]) => references(v, path ? `${path}.${k}` : k));
  }
  return [];
}

export function rawCompose(): Record<string, unknown> {
  return Bun.YAML.parse(readFileSync(COMPOSE_FILE, 'utf8')) as Record<string, unknown>;
}

function interpolateTree(node: unknown, env: Record<string, string>): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((v) => interpolateTree(v, env));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env)]));
  }
  return node;
}

export interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string } | string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: (string | { published?: string | number; target?: number })[];
  expose?: unknown[];
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
  network_mode?: string;
  volumes?: string[];
  healthcheck?: { test: string[] | string };
  depends_on?: string[] | Record<string, { condition: string }>;
  command?: string[] | string;
  cap_add?: string[];
  privileged?: boolean;
}

export interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean; ipam?: { config?: { subnet: string }[] } } | null>;
  volumes?: Record<string, unknown>;
}

export function loadCompose(env: Record<string, string>): Compose {
  return interpolateTree(rawCompose(), env) as Compose;
}

export function serviceEnv(service: Service): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]),
  );
}

export function serviceNetworks(service: Service): string[] {
  if (!service.networks) return ['default'];
  return Array.isArray(service.networks) ? service.networks : Object.keys(service.networks);
}

/** Reads a .env file as docker compose does. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`.env line ${i + 1} is not NAME=value`);
    const [, name, rest] = m as unknown as [string, string, string];
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) throw new Error(`.env line ${i + 1}: unterminated single quote`);
      out[name] = rest.slice(1, end);
    } else if (rest.startsWith('"')) {
      let value = '';
      let j = 1;
      for (; j < rest.length && rest[j] !== '"'; j += 1) {
        if (rest[j] === '\\' && j + 1 < rest.length) {
          const c = rest[j + 1]!;
          value += c === 'n' ? '\n' : c === 't' ? '\t' : c;
          j += 1;
        } else value += rest[j];
      }
      if (j >= rest.length) throw new Error(`.env line ${i + 1}: unterminated double quote`);
      out[name] = value;
    } else {
      out[name] = rest.replace(/\s+#.*$/, '').trim();
    }
  }
  return out;
}

/** Values for the settings generate-env leaves to the operator, as a test operator would fill them in. */
export const OPERATOR_SETTINGS = {
  OUTDIAL_DOMAIN: 'outdial.test',
  OUTDIAL_TLS: 'internal',
  TRUNK_HOST: 'sip.carrier.test',
  TRUNK_USERNAME: '15550001111',
  TRUNK_PASSWORD: 'trunk-Secret.1',
};

/** A generated .env with the operator's settings filled in (what `docker compose` would read). */
export function completeEnv(generated: string): string {
  let text = generated;
  for (const [name, value] of Object.entries(OPERATOR_SETTINGS)) {
    const line = new RegExp(`^${name}=.*$`, 'm');
    if (!line.test(text)) throw new Error(`the generated .env has no ${name} line`);
    text = text.replace(line, `${name}=${value}`);
  }
  return text;
}
