import type { JWK } from 'jose';
import { getSidecar, upsertSidecar } from '../db/queries/misc.ts';
import type { Database } from '../db/types.ts';
import type { PasswordHasher } from './auth/passwords.ts';
import { createHttpSidecarClient, type SidecarClient } from './calls/sidecar-client.ts';
import { createPublicKeySet, loadPublicJwks, type PublicKeySet, type SigningKey } from './channel/keys.ts';
import type { Config } from './config.ts';
import type { Logger } from './lib/logger.ts';
import type { Metrics } from './lib/metrics.ts';
import type { Services } from './services.ts';

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
}

const SIDECAR_KEY_TTL_MS = 30_000;

/**
 * Builds the services from runtime-neutral parts; the entry files supply the runtime-specific ones
 * (database driver, password hasher, metrics, client address).
 */
export async function buildServices(deps: ServiceDeps): Promise<Services> {
  const { config, database } = deps;
  const previous = config.JWT_PUBLIC_KEYS ? await loadPublicJwks(config.JWT_PUBLIC_KEYS) : [];
  const verify = await createPublicKeySet([deps.signingKey.publicJwk, ...previous]);

  if (config.SIDECAR_PUBLIC_KEY) {
    const [jwk] = await loadPublicJwks(config.SIDECAR_PUBLIC_KEY);
    if (jwk)
      await upsertSidecar(database.db, {
        id: config.SIDECAR_ID,
        url: config.SIDECAR_URL,
        publicKey: jwk as JsonWebKey,
      });
  }

  const keyCache = new Map<string, { at: number; keys: PublicKeySet | null }>();
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

  return {
    config,
    database,
    db: database.db,
    keys: { signing: deps.signingKey, verify },
    sidecarKeys,
    passwords: deps.passwords,
    dummyPasswordHash: await deps.passwords.hash(crypto.randomUUID()),
    sidecar:
      deps.sidecar ??
      createHttpSidecarClient({
        id: config.SIDECAR_ID,
        url: config.SIDECAR_URL,
        key: deps.signingKey,
        issuer: config.JWT_ISSUER,
        timeoutMs: config.SIDECAR_TIMEOUT_MS,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      }),
    metrics: deps.metrics,
    logger: deps.logger,
    clientAddress: deps.clientAddress,
    background,
  };
}
