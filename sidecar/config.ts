import { z } from 'zod';
import {
  bool,
  int,
  matching,
  oneOf,
  port,
  type RawEnv,
  readEnv,
  required,
  secret,
  text,
  url,
} from '../api/shared/base/env.ts';
import { FLOW_LIMITS, SIDECAR_ID_PATTERN, SIDECAR_ID_RULE } from '../api/shared/contract/index.ts';

/** The environment the sidecar reads, with the defaults of the brief; names are the env names. */
export const SidecarEnv = z.object({
  SIDECAR_ID: matching(SIDECAR_ID_PATTERN, SIDECAR_ID_RULE, 'default'),
  SIDECAR_HOST: text('127.0.0.1'),
  SIDECAR_PORT: port(8089),
  SIDECAR_PRIVATE_KEY: secret(required('Ed25519 JWK JSON or PKCS#8 PEM')),
  API_URL: url(undefined, { httpOnly: true }).pipe(z.string({ error: 'is required (an http(s) URL)' })),
  API_PUBLIC_KEYS: required('JWKS, JWK or SPKI PEM of the API signing keys'),
  API_ISSUER: text('outdial'),
  ARI_HTTP_URL: url('http://localhost:8088/ari', { httpOnly: true }),
  ARI_USERNAME: text('ariuser'),
  ARI_PASSWORD: secret(text('aripass')),
  ARI_APP: matching(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits and _ . -, at most 64', 'contactcenter'),
  ARI_MAX_CONNECTIONS: int(50, 1, 1000),
  ARI_MAX_KEEPALIVE: int(20, 0, 1000),
  ARI_REQUEST_TIMEOUT_MS: int(5000, 50, 600_000),
  ARI_DIAL_CONTEXT: matching(
    /^[A-Za-z0-9_-]{1,50}$/,
    'letters, digits, _ and -, at most 50',
    'outbound-trunk',
  ),
  ARI_ORIGINATE_STYLE: oneOf(['dialplan', 'stasis'], 'dialplan'),
  ORIGINATE_CPS: int(10, 1, 10_000),
  MAX_CONCURRENT_CALLS: int(50, 1, 100_000),
  QUEUE_MAX: int(1000, 0, 10_000_000),
  RECONCILE_INTERVAL_MS: int(30_000, 100, 86_400_000),
  BREAKER_FAILURES: int(5, 1, 1000),
  BREAKER_HALF_OPEN_AFTER_MS: int(10_000, 10, 86_400_000),
  DATA_DIR: text('./.data'),
  OUTBOX_BATCH_SIZE: int(100, 1, 500),
  CAMPAIGN_PULL: bool(true),
  LOG_LEVEL: oneOf(['debug', 'info', 'warn', 'error', 'silent'], 'info'),
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
  /** A flow's limits and waits (sidecar/flow/step.ts, FlowLimits); the first two are FLOW_LIMITS. */
  flowMaxStepsRun: number;
  flowMaxMs: number;
  flowPlaybackTimeoutMs: number;
  flowRecordMarginMs: number;
  flowAmdMarginMs: number;
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
  flowMaxStepsRun: FLOW_LIMITS.maxStepsRun,
  flowMaxMs: FLOW_LIMITS.maxSeconds * 1000,
  // No prompt runs this long; tone: plays until stopped and a bad scheme never finishes (IVR.md 59).
  flowPlaybackTimeoutMs: 300_000,
  flowRecordMarginMs: 5_000,
  flowAmdMarginMs: 10_000,
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
  /** Pull due campaign attempts from the API when there is room (absent: off). */
  campaignPull?: boolean;
  logLevel: LogLevel;
  tuning?: Partial<Tuning>;
}

/** Reads the environment; throws an EnvError naming every bad variable (never a secret's value). */
export function parseConfig(env: RawEnv): SidecarConfig {
  const e = readEnv('sidecar', SidecarEnv, env);
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
    campaignPull: e.CAMPAIGN_PULL,
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
