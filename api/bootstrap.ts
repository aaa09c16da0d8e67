import type { JWK } from 'jose';
import { getSidecar, upsertSidecar } from '../db/queries/misc.ts';
import type { Database, Db } from '../db/types.ts';
import type { PasswordHasher } from './auth/passwords.ts';
import { SidecarFleet } from './calls/fleet.ts';
import { createHttpSidecarClient, type SidecarClient } from './calls/sidecar-client.ts';
import { type Config, configuredSidecars } from './config.ts';
import type { Metrics } from './lib/metrics.ts';
import { EventHub } from './live/hub.ts';
import type { Services } from './services.ts';
import {
  createPublicKeySet,
  loadPublicJwks,
  type PublicKeySet,
  type SigningKey,
} from './shared/base/keys.ts';
import type { Logger } from './shared/base/log.ts';
import type { WebhookTransport } from './webhooks/transport.ts';

export interface ServiceDeps {
  config: Config;
  database: Database;
  passwords: PasswordHasher;
  metrics: Metrics;
  logger: Logger;
  signingKey: SigningKey;
  clientAddress: Services['clientAddress'];
  background?: Services['background'];
  /** Replaces the HTTP sidecar client (tests). */
  sidecar?: SidecarClient;
  fetch?: typeof fetch;
  webhooks: WebhookTransport;
  /** The campaigns' clock (default: the real one, moved by CAMPAIGN_CLOCK_OFFSET_SECONDS). */
  now?: () => Date;
}

const SIDECAR_KEY_TTL_MS = 30_000;

/** The campaigns' clock: the real one, moved by CAMPAIGN_CLOCK_OFFSET_SECONDS (rehearsals, tests). */
function campaignClock(offsetSeconds: number): () => Date {
  if (offsetSeconds === 0) return () => new Date();
  return () => new Date(Date.now() + offsetSeconds * 1000);
}
/** How often open live streams' tokens and users are checked again, besides before each delivery. */
const LIVE_REVALIDATE_MS = 1000;

/**
 * What stays the same from one build of the services to the next: the Bun entry builds the services
 * once, the Workers entry once per request (a database pool must not outlive its request there) and
 * these once per isolate.
 */
export interface SharedServiceParts {
  /** Verifies access tokens: the current key and any still-published older ones. */
  verify: PublicKeySet;
  dummyPasswordHash: string;
  /** Sidecar public keys by id, with the time they were read. */
  sidecarKeyCache: Map<string, { at: number; keys: PublicKeySet | null }>;
  /** The sidecars calls go to, with each one's breaker and last known state. */
  sidecars: SidecarFleet;
}

/** The configured sidecars' clients (SIDECARS, or SIDECAR_ID and SIDECAR_URL), or the one a test gives. */
function buildFleet(deps: Pick<ServiceDeps, 'config' | 'signingKey' | 'sidecar' | 'fetch'>): SidecarFleet {
  const { config } = deps;
  if (deps.sidecar) return new SidecarFleet([deps.sidecar]);
  return new SidecarFleet(
    configuredSidecars(config).map((sidecar) =>
      createHttpSidecarClient({
        id: sidecar.id,
        url: sidecar.url,
        key: deps.signingKey,
        issuer: config.JWT_ISSUER,
        timeoutMs: config.SIDECAR_TIMEOUT_MS,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      }),
    ),
  );
}

export async function buildSharedServiceParts(
  deps: Pick<ServiceDeps, 'config' | 'signingKey' | 'passwords' | 'sidecar' | 'fetch'> & {
    /** A digest unknown users are checked against; by default the hash of a random password. */
    dummyPasswordHash?: string;
  },
): Promise<SharedServiceParts> {
  const { config } = deps;
  const previous = config.JWT_PUBLIC_KEYS ? await loadPublicJwks(config.JWT_PUBLIC_KEYS) : [];
  return {
    verify: await createPublicKeySet([deps.signingKey.publicJwk, ...previous]),
    dummyPasswordHash: deps.dummyPasswordHash ?? (await deps.passwords.hash(crypto.randomUUID())),
    sidecarKeyCache: new Map(),
    sidecars: buildFleet(deps),
  };
}

/**
 * Records the sidecars the configuration names with their public keys (SIDECAR_PUBLIC_KEY): one key
 * is the first sidecar's; a JWKS gives each sidecar the key whose `kid` is its id (the first sidecar
 * also takes a key whose kid names none of them).
 */
export async function registerConfiguredSidecar(config: Config, db: Db): Promise<void> {
  if (!config.SIDECAR_PUBLIC_KEY) return;
  const keys = await loadPublicJwks(config.SIDECAR_PUBLIC_KEY);
  const sidecars = configuredSidecars(config);
  const ids = new Set(sidecars.map((s) => s.id));
  for (const [i, sidecar] of sidecars.entries()) {
    const jwk =
      keys.find((k) => k.kid === sidecar.id) ??
      (i === 0 ? (keys.find((k) => !ids.has(k.kid ?? '')) ?? keys[0]) : undefined);
    if (jwk) await upsertSidecar(db, { id: sidecar.id, url: sidecar.url, publicKey: jwk as JsonWebKey });
  }
}

/**
 * Builds the services from runtime-neutral parts; the entry files supply the runtime-specific ones
 * (database driver, password hasher, metrics, client address). Without `shared` it also computes those
 * parts and registers the configured sidecar; with them, that registration is the caller's.
 */
export async function buildServices(deps: ServiceDeps & { shared?: SharedServiceParts }): Promise<Services> {
  const { config, database } = deps;
  let shared = deps.shared;
  if (!shared) {
    shared = await buildSharedServiceParts(deps);
    await registerConfiguredSidecar(config, database.db);
  }
  const { verify, sidecarKeyCache: keyCache } = shared;

  async function sidecarKeys(id: string): Promise<PublicKeySet | null> {
    const hit = keyCache.get(id);
    if (hit && Date.now() - hit.at < SIDECAR_KEY_TTL_MS) return hit.keys;
    const row = await getSidecar(database.db, id);
    const keys = row?.isActive
      ? await createPublicKeySet([{ ...(row.publicKey as JWK), kid: (row.publicKey as JWK).kid ?? id }])
      : null;
    // Only hits are cached, so a sidecar registered a moment ago is trusted at once.
    if (keys) keyCache.set(id, { at: Date.now(), keys });
    return keys;
  }

  const background =
    deps.background ??
    ((task: Promise<unknown>) => {
      task.catch((error) => deps.logger.error('background task failed', { error }));
    });

  const listeners: Array<() => void> = [];
  const live = new EventHub(database.db, {
    pollMs: config.SSE_POLL_MS,
    maxHeld: config.SSE_MAX_BUFFERED,
    logger: deps.logger,
    revalidateMs: LIVE_REVALIDATE_MS,
    maxCatchUp: config.SSE_CATCHUP_MAX_EVENTS,
    // A quarter of the pool: streams catching up never crowd out other requests' queries.
    catchUpConcurrency: Math.max(1, Math.floor(config.DATABASE_POOL_SIZE / 4)),
    maxStreamsPerUser: config.SSE_MAX_STREAMS_PER_USER,
    campaignProgressMs: config.CAMPAIGN_PROGRESS_STREAM_MS,
  });
  return {
    config,
    database,
    db: database.db,
    keys: { signing: deps.signingKey, verify },
    sidecarKeys,
    passwords: deps.passwords,
    dummyPasswordHash: shared.dummyPasswordHash,
    sidecars: shared.sidecars,
    metrics: deps.metrics,
    logger: deps.logger,
    clientAddress: deps.clientAddress,
    background,
    webhooks: deps.webhooks,
    live,
    eventsRecorded(options) {
      live.notify();
      if (options?.deliveries === false) return;
      for (const listener of listeners) listener();
    },
    onEventsRecorded(listener: () => void) {
      listeners.push(listener);
    },
    now: deps.now ?? campaignClock(config.CAMPAIGN_CLOCK_OFFSET_SECONDS),
  };
}
