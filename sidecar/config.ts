import { z } from 'zod';
import { SidecarIdSchema } from '../api/shared/contract/index.ts';
import { ConfigError } from './errors.ts';

const int = (fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const httpUrl = z
  .url({ protocol: /^https?$/ })
  .transform((value) => value.replace(/\/+$/, ''))
  .describe('an http(s) URL');

/** The environment the sidecar reads, with the defaults of the brief; names are the env names. */
export const SidecarEnv = z.object({
  SIDECAR_ID: SidecarIdSchema.default('default'),
  SIDECAR_HOST: z.string().min(1).default('127.0.0.1'),
  SIDECAR_PORT: int(8089, 0, 65535),
  SIDECAR_PRIVATE_KEY: z.string({ error: 'is required (Ed25519 JWK JSON or PKCS#8 PEM)' }).min(1),
  API_URL: httpUrl,
  API_PUBLIC_KEYS: z.string({ error: 'is required (JWKS, JWK or SPKI PEM of the API signing keys)' }).min(1),
  API_ISSUER: z.string().min(1).default('outdial'),
  ARI_HTTP_URL: httpUrl.default('http://localhost:8088/ari'),
  ARI_USERNAME: z.string().min(1).default('ariuser'),
  ARI_PASSWORD: z.string().min(1).default('aripass'),
  ARI_APP: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default('contactcenter'),
  ARI_MAX_CONNECTIONS: int(50, 1, 1000),
  ARI_MAX_KEEPALIVE: int(20, 0, 1000),
  ARI_REQUEST_TIMEOUT_MS: int(5000, 50, 600_000),
  ARI_DIAL_CONTEXT: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,50}$/)
    .default('outbound-trunk'),
  ARI_ORIGINATE_STYLE: z.enum(['dialplan', 'stasis']).default('dialplan'),
  ORIGINATE_CPS: int(10, 1, 10_000),
  MAX_CONCURRENT_CALLS: int(50, 1, 100_000),
  QUEUE_MAX: int(1000, 0, 10_000_000),
  RECONCILE_INTERVAL_MS: int(30_000, 100, 86_400_000),
  BREAKER_FAILURES: int(5, 1, 1000),
  BREAKER_HALF_OPEN_AFTER_MS: int(10_000, 10, 86_400_000),
  DATA_DIR: z.string().min(1).default('./.data'),
  OUTBOX_BATCH_SIZE: int(100, 1, 500),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type LogLevel = z.infer<typeof SidecarEnv>['LOG_LEVEL'];

/**
 * Timings that are not part of the operator's contract but that tests shrink. Defaults suit a
 * real Asterisk on the same host.
 */
export interface Tuning {
  /** Originate/GET/DELETE attempts in all (first try included). */
  ariRetryAttempts: number;
  ariRetryInitialDelayMs: number;
  ariRetryMaxDelayMs: number;
  /** Events socket: connect timeout, reconnect backoff, uptime before the retry counter resets. */
  wsConnectTimeoutMs: number;
  wsInitialDelayMs: number;
  wsMaxDelayMs: number;
  wsMinUptimeMs: number;
  /** Silence after which the socket is pinged, and how long a pong may take. */
  wsIdlePingMs: number;
  wsPongTimeoutMs: number;
  /** A channel missing from `GET /channels` is checked again after this before it is declared lost. */
  reconcileGraceMs: number;
  /** Backoff of the resync after the events socket reconnects, retried until it succeeds. */
  resyncInitialDelayMs: number;
  resyncMaxDelayMs: number;
  /** Timeout of a readiness probe of ARI (the API's own readiness deadline is 2 s). */
  probeTimeoutMs: number;
  /** Outbox delivery backoff while the API is down. */
  outboxInitialDelayMs: number;
  outboxMaxDelayMs: number;
  /** Per-request timeout of an event batch POST. */
  outboxRequestTimeoutMs: number;
  /**
   * Width of the pacing window. A little over one second so that jitter between our send and
   * ARI's arrival time cannot squeeze ORIGINATE_CPS + 1 originates into one second at ARI.
   */
  pacingWindowMs: number;
  /** How long finished calls are remembered for repeated commands. */
  finishedRetentionMs: number;
  /** Bound on the whole stop() sequence and on its outbox flush. */
  stopDeadlineMs: number;
  flushTimeoutMs: number;
  /** Largest command body accepted. */
  maxCommandBytes: number;
}

export const DEFAULT_TUNING: Tuning = {
  ariRetryAttempts: 3,
  ariRetryInitialDelayMs: 200,
  ariRetryMaxDelayMs: 2_000,
  wsConnectTimeoutMs: 5_000,
  wsInitialDelayMs: 250,
  // Short: the PBX is on the same host or network, a reconnect attempt costs nothing, and calls
  // that vanished in a PBX restart are only settled once the socket is back.
  wsMaxDelayMs: 2_000,
  wsMinUptimeMs: 5_000,
  wsIdlePingMs: 15_000,
  wsPongTimeoutMs: 5_000,
  reconcileGraceMs: 750,
  resyncInitialDelayMs: 250,
  resyncMaxDelayMs: 5_000,
  probeTimeoutMs: 1_000,
  outboxInitialDelayMs: 250,
  outboxMaxDelayMs: 15_000,
  outboxRequestTimeoutMs: 10_000,
  pacingWindowMs: 1_050,
  finishedRetentionMs: 24 * 3600_000,
  stopDeadlineMs: 10_000,
  flushTimeoutMs: 5_000,
  maxCommandBytes: 64 * 1024,
};

export interface SidecarConfig {
  sidecarId: string;
  host: string;
  port: number;
  privateKey: string;
  apiUrl: string;
  apiPublicKeys: string;
  apiIssuer: string;
  ariHttpUrl: string;
  ariUsername: string;
  ariPassword: string;
  ariApp: string;
  ariMaxConnections: number;
  ariMaxKeepalive: number;
  ariRequestTimeoutMs: number;
  ariDialContext: string;
  ariOriginateStyle: 'dialplan' | 'stasis';
  originateCps: number;
  maxConcurrentCalls: number;
  queueMax: number;
  reconcileIntervalMs: number;
  breakerFailures: number;
  breakerHalfOpenAfterMs: number;
  dataDir: string;
  outboxBatchSize: number;
  logLevel: LogLevel;
  tuning?: Partial<Tuning>;
}

/** Reads the environment; throws a ConfigError naming every bad variable (never echoing a value). */
export function parseConfig(env: Record<string, string | undefined>): SidecarConfig {
  // Empty strings count as unset, the way shells and .env files usually mean them.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = SidecarEnv.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  return {
    sidecarId: e.SIDECAR_ID,
    host: e.SIDECAR_HOST,
    port: e.SIDECAR_PORT,
    privateKey: e.SIDECAR_PRIVATE_KEY,
    apiUrl: e.API_URL,
    apiPublicKeys: e.API_PUBLIC_KEYS,
    apiIssuer: e.API_ISSUER,
    ariHttpUrl: e.ARI_HTTP_URL,
    ariUsername: e.ARI_USERNAME,
    ariPassword: e.ARI_PASSWORD,
    ariApp: e.ARI_APP,
    ariMaxConnections: e.ARI_MAX_CONNECTIONS,
    ariMaxKeepalive: e.ARI_MAX_KEEPALIVE,
    ariRequestTimeoutMs: e.ARI_REQUEST_TIMEOUT_MS,
    ariDialContext: e.ARI_DIAL_CONTEXT,
    ariOriginateStyle: e.ARI_ORIGINATE_STYLE,
    originateCps: e.ORIGINATE_CPS,
    maxConcurrentCalls: e.MAX_CONCURRENT_CALLS,
    queueMax: e.QUEUE_MAX,
    reconcileIntervalMs: e.RECONCILE_INTERVAL_MS,
    breakerFailures: e.BREAKER_FAILURES,
    breakerHalfOpenAfterMs: e.BREAKER_HALF_OPEN_AFTER_MS,
    dataDir: e.DATA_DIR,
    outboxBatchSize: e.OUTBOX_BATCH_SIZE,
    logLevel: e.LOG_LEVEL,
  };
}

/** The configuration with secrets replaced, for the start-up log line. */
export function redactedConfig(config: SidecarConfig): Record<string, unknown> {
  const { privateKey: _p, apiPublicKeys: _k, ariPassword: _a, tuning: _t, ...rest } = config;
  return { ...rest, privateKey: '[redacted]', ariPassword: '[redacted]' };
}

export function resolveTuning(config: SidecarConfig): Tuning {
  return { ...DEFAULT_TUNING, ...config.tuning };
}
