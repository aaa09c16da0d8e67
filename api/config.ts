import { z } from 'zod';
import { parseIpRange } from './lib/client-address.ts';
import { isPhoneRegion } from './lib/phone.ts';
import {
  bool,
  int,
  list,
  matching,
  oneOf,
  port,
  portList,
  type RawEnv,
  readEnv,
  secret,
  text,
  url,
} from './shared/base/env.ts';
import { SIDECAR_ID_PATTERN, SIDECAR_ID_RULE } from './shared/contract/index.ts';

/**
 * The API's configuration, read from the environment and validated once: at boot on Bun (exit
 * non-zero with a clear message), per isolate on Workers. Names follow the service Outdial
 * replaces wherever they apply.
 */

const SAFE_NAME = /^[A-Za-z0-9_-]{1,50}$/;
const SAFE_NAME_WORDS = 'letters, digits, _ and -, at most 50';

/** A sidecar the API sends calls to: its id (the `aud` of its commands) and where it listens. */
export interface SidecarEndpoint {
  id: string;
  url: string;
}

/**
 * Reads `SIDECARS`: comma-separated `id=url` pairs (`east=https://sc-east:8089,west=https://sc-west:8089`).
 * Unset or blank gives an empty list (the one sidecar of SIDECAR_ID and SIDECAR_URL); a refusal says
 * which pair is wrong and why.
 */
export function parseSidecarPairs(raw: string): SidecarEndpoint[] | { problem: string } {
  const out: SidecarEndpoint[] = [];
  const pairs = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [i, pair] of pairs.entries()) {
    const at = `pair ${i + 1} (${JSON.stringify(pair.length > 80 ? `${pair.slice(0, 80)}…` : pair)})`;
    const eq = pair.indexOf('=');
    if (eq < 0) return { problem: `${at} must be id=url` };
    const id = pair.slice(0, eq).trim();
    const address = pair.slice(eq + 1).trim();
    if (!SIDECAR_ID_PATTERN.test(id)) return { problem: `${at}: the id must be ${SIDECAR_ID_RULE}` };
    if (out.some((s) => s.id === id)) return { problem: `${at}: the id "${id}" is named twice` };
    let parsed: URL;
    try {
      parsed = new URL(address);
    } catch {
      return { problem: `${at}: the url must be an http(s) URL` };
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return { problem: `${at}: the url must be an http(s) URL` };
    }
    out.push({ id, url: address.replace(/\/+$/, '') });
  }
  return out;
}

function sidecarPairs() {
  return z
    .string()
    .optional()
    .transform((raw, ctx): SidecarEndpoint[] => {
      if (raw === undefined) return [];
      const parsed = parseSidecarPairs(raw);
      if (!Array.isArray(parsed)) {
        ctx.addIssue({
          code: 'custom',
          message: `${parsed.problem} (SIDECARS is id=url pairs, comma-separated)`,
        });
        return z.NEVER;
      }
      return parsed;
    });
}

export const ConfigSchema = z
  .object({
    APP_NAME: text('Outdial'),
    // production refuses to start without real key material; development generates and keeps it.
    APP_ENV: oneOf(['production', 'development', 'test'], 'production'),
    HOST: text('0.0.0.0'),
    PORT: port(8000),
    LOG_LEVEL: oneOf(['debug', 'info', 'warn', 'error'], 'info'),
    DOCS_ENABLED: bool(true),
    METRICS_ENABLED: bool(true),
    ALLOWED_ORIGINS: list([]),
    TRUST_PROXY: bool(false),
    // Reverse proxies in front of the API, by count or by address (api/lib/client-address.ts).
    TRUST_PROXY_HOPS: int(0, 0, 20),
    TRUSTED_PROXIES: list([]),

    DATABASE_URL: secret(text()),
    DATA_DIR: text('./.data'),
    DATABASE_POOL_SIZE: int(20, 1, 500),
    // A round trip to Postgres slower than this fails (503) and the pool is replaced; 0 = no bound.
    DATABASE_QUERY_TIMEOUT_MS: int(3000, 0, 600_000),

    JWT_PRIVATE_KEY: secret(text()),
    JWT_KEY_ID: text(),
    JWT_PUBLIC_KEYS: text(),
    JWT_ISSUER: text('outdial'),
    JWT_AUDIENCE: text('outdial-api'),
    ACCESS_TOKEN_EXPIRE_MINUTES: int(30, 1, 24 * 60),
    // A login's refresh tokens (rotated on each use) end this many seconds after it, however used.
    REFRESH_TOKEN_TTL: int(12 * 3600, 60, 30 * 86_400),
    BCRYPT_COST: int(12, 4, 15),
    // Password hashes running at once, and waiting; 0 = one less than the number of cores (at least 1).
    PASSWORD_HASH_CONCURRENCY: int(0, 0, 256),
    PASSWORD_HASH_QUEUE: int(32, 0, 100_000),

    MAX_FAILED_LOGIN_ATTEMPTS: int(5, 1, 1000),
    LOGIN_FAILURE_WINDOW: int(900, 1, 86_400),
    LOGIN_LOCKOUT_DURATION: int(900, 1, 86_400),
    MAX_FAILED_LOGINS_PER_ADDRESS: int(50, 1, 100_000),

    RATE_LIMIT_REQUESTS: int(10, 1, 1_000_000),
    RATE_LIMIT_WINDOW: int(60, 1, 86_400),
    IDEMPOTENCY_TTL: int(86_400, 60, 30 * 86_400),
    CALL_RETENTION_DAYS: int(90, 1, 3650),
    AUDIT_RETENTION_DAYS: int(365, 1, 3650),
    // Finished campaigns (completed, canceled) are deleted with their contacts and attempts after this.
    CAMPAIGN_RETENTION_DAYS: int(90, 1, 3650),
    // The most a campaign may ask for: calls started per second, and calls up at once.
    CAMPAIGN_MAX_CPS: int(50, 1, 10_000),
    CAMPAIGN_MAX_CONCURRENT: int(500, 1, 100_000),
    // A campaign's progress on the live stream: at most one frame per campaign this often (ms).
    CAMPAIGN_PROGRESS_STREAM_MS: int(1000, 50, 60_000),
    // A campaign's campaign.progress webhooks: at most one per campaign per window of this many seconds.
    CAMPAIGN_PROGRESS_WEBHOOK_SECONDS: int(10, 1, 3600),
    // A leased attempt not yet answered this long past its ring timeout ends `lost` (its sidecar vanished).
    CAMPAIGN_LEASE_MARGIN_SECONDS: int(60, 1, 3600),
    // Rehearsals and tests: the campaign scheduler (windows, retry due times, per-day counts) runs this
    // many seconds ahead of (or, negative, behind) the real clock; tokens and event times do not move.
    CAMPAIGN_CLOCK_OFFSET_SECONDS: int(0, -366 * 86_400, 366 * 86_400),
    // Where national numbers (no +country code) are read: the do-not-call list, campaign contacts.
    DEFAULT_PHONE_REGION: matching(/^[A-Z]{2}$/, 'an ISO 3166 country code such as US', 'US'),

    ALLOWED_CONTEXTS: list(['outbound-ivr']),
    DEFAULT_CONTEXT: matching(SAFE_NAME, SAFE_NAME_WORDS, 'outbound-ivr'),
    DEFAULT_EXTENSION: matching(/^[A-Za-z0-9_*#+-]{1,50}$/, 'letters, digits and _ * # + -, at most 50', 's'),
    DEFAULT_PRIORITY: int(1, 1, 10),
    DEFAULT_TIMEOUT: int(30_000, 1, 600_000),
    // Contexts a flow's `continue` step may hand the answered call to.
    FLOW_CONTINUE_CONTEXTS: list(['outbound-ivr']),
    DEFAULT_CALLER_ID: matching(/^[\s\S]{0,50}$/, 'at most 50 characters', 'Outbound Call'),
    // One contacts import takes at most this many rows and bytes; beyond, 413 and nothing is kept.
    CONTACTS_IMPORT_MAX_ROWS: int(1_000_000, 1, 10_000_000),
    CONTACTS_IMPORT_MAX_BYTES: int(256 * 1024 * 1024, 1024, 4 * 1024 * 1024 * 1024),

    // One sidecar (SIDECAR_ID, SIDECAR_URL), or a fleet: SIDECARS, which then replaces them.
    SIDECAR_ID: matching(SIDECAR_ID_PATTERN, SIDECAR_ID_RULE, 'default'),
    SIDECAR_URL: url('http://127.0.0.1:8089'),
    SIDECARS: sidecarPairs(),
    SIDECAR_PUBLIC_KEY: text(),
    SIDECAR_TIMEOUT_MS: int(5000, 100, 120_000),

    // Development switch: lets webhooks use http:// and reach loopback addresses (tests, npm start).
    WEBHOOK_ALLOW_LOOPBACK: bool(false),
    WEBHOOK_TIMEOUT_MS: int(5000, 100, 60_000),
    WEBHOOK_MAX_ATTEMPTS: int(10, 1, 100),
    WEBHOOK_RETRY_BASE_MS: int(1000, 10, 3_600_000),
    WEBHOOK_RETRY_MAX_MS: int(300_000, 10, 86_400_000),
    // Retries stop this long after the event, whatever the attempt count.
    WEBHOOK_MAX_AGE: int(3600, 1, 7 * 86_400),
    WEBHOOK_POLL_MS: int(500, 10, 60_000),
    // Ports a webhook URL may name; loopback receivers under WEBHOOK_ALLOW_LOOPBACK may use any.
    WEBHOOK_ALLOWED_PORTS: portList([443]),
    // Attempts in flight at once, and to one endpoint (scheme, host and port; at most half of the first).
    WEBHOOK_CONCURRENCY: int(32, 2, 10_000),
    WEBHOOK_ENDPOINT_CONCURRENCY: int(4, 1, 10_000),

    SSE_HEARTBEAT_MS: int(15_000, 50, 300_000),
    SSE_POLL_MS: int(250, 10, 60_000),
    // Events a slow SSE client may have waiting before the server drops it (it resumes with Last-Event-ID).
    SSE_MAX_BUFFERED: int(1000, 10, 1_000_000),
    // Event streams one user may have open at once, across instances; beyond, 429 with Retry-After.
    SSE_MAX_STREAMS_PER_USER: int(5, 1, 1000),
    // A Last-Event-ID further behind than this many events (the user's; everyone's for admins) is not
    // caught up: the stream starts at the newest event and its `ready` frame says `missed: true`.
    SSE_CATCHUP_MAX_EVENTS: int(10_000, 1, 1_000_000),
  })
  .superRefine((cfg, ctx) => {
    for (const key of ['ALLOWED_CONTEXTS', 'FLOW_CONTINUE_CONTEXTS'] as const) {
      for (const name of cfg[key]) {
        if (!SAFE_NAME.test(name)) {
          ctx.addIssue({ code: 'custom', path: [key], message: `"${name}" is not a valid context name` });
        }
      }
    }
    if (!cfg.ALLOWED_CONTEXTS.includes(cfg.DEFAULT_CONTEXT)) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEFAULT_CONTEXT'],
        message: `"${cfg.DEFAULT_CONTEXT}" is not in ALLOWED_CONTEXTS (${cfg.ALLOWED_CONTEXTS.join(', ')})`,
      });
    }
    if (!isPhoneRegion(cfg.DEFAULT_PHONE_REGION)) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEFAULT_PHONE_REGION'],
        message: `"${cfg.DEFAULT_PHONE_REGION}" is not a country the phone number metadata knows`,
      });
    }
    for (const range of cfg.TRUSTED_PROXIES) {
      if (!parseIpRange(range)) {
        ctx.addIssue({
          code: 'custom',
          path: ['TRUSTED_PROXIES'],
          message: `"${range}" is not an IP address or CIDR range`,
        });
      }
    }
    if (cfg.TRUSTED_PROXIES.length > 0 && cfg.TRUST_PROXY_HOPS > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['TRUST_PROXY_HOPS'],
        message: 'give the proxies by count (TRUST_PROXY_HOPS) or by address (TRUSTED_PROXIES), not both',
      });
    }
    if (cfg.APP_ENV !== 'test' && cfg.BCRYPT_COST < 12) {
      ctx.addIssue({ code: 'custom', path: ['BCRYPT_COST'], message: 'must be at least 12' });
    }
    if (cfg.APP_ENV === 'production') {
      if (!cfg.JWT_PRIVATE_KEY || /change|placeholder|secret|example/i.test(cfg.JWT_PRIVATE_KEY)) {
        ctx.addIssue({
          code: 'custom',
          path: ['JWT_PRIVATE_KEY'],
          message: 'an Ed25519 private key (JWK or PKCS#8 PEM) is required in production',
        });
      }
      if (!cfg.SIDECAR_PUBLIC_KEY) {
        ctx.addIssue({
          code: 'custom',
          path: ['SIDECAR_PUBLIC_KEY'],
          message: "the sidecar's Ed25519 public key is required in production",
        });
      }
    }
  });

export type Config = z.output<typeof ConfigSchema>;

/** The sidecars calls go to: those SIDECARS names, or else the one of SIDECAR_ID and SIDECAR_URL. */
export function configuredSidecars(config: Pick<Config, 'SIDECARS' | 'SIDECAR_ID' | 'SIDECAR_URL'>) {
  return config.SIDECARS.length > 0 ? config.SIDECARS : [{ id: config.SIDECAR_ID, url: config.SIDECAR_URL }];
}

/** Parses the environment; an EnvError lists every problem, one a line, without echoing secrets. */
export function loadConfig(env: RawEnv): Config {
  return readEnv('API', ConfigSchema, env);
}
