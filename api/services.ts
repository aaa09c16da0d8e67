import type { Context } from 'hono';
import type { CallRow } from '../db/queries/calls.ts';
import type { Database, Db } from '../db/types.ts';
import type { PasswordHasher } from './auth/passwords.ts';
import type { SidecarFleet } from './calls/fleet.ts';
import type { Config } from './config.ts';
import type { Metrics } from './lib/metrics.ts';
import type { EventHub } from './live/hub.ts';
import type { PublicKeySet, SigningKey } from './shared/base/keys.ts';
import type { Logger } from './shared/base/log.ts';
import type { Scope } from './shared/contract/index.ts';
import type { WebhookTransport } from './webhooks/transport.ts';

/** Everything a handler needs, built once by the entry (per process on Bun, per isolate on Workers). */
export interface Services {
  config: Config;
  database: Database;
  db: Db;
  keys: {
    /** Signs access tokens and sidecar commands. */
    signing: SigningKey;
    /** Verifies access tokens: the current key and any still-published older ones. */
    verify: PublicKeySet;
  };
  /** Public keys of the sidecars allowed to send event batches, by sidecar id. */
  sidecarKeys(sidecarId: string): Promise<PublicKeySet | null>;
  passwords: PasswordHasher;
  /** A bcrypt hash of a random password, checked when a username is unknown so that costs the same. */
  dummyPasswordHash: string;
  /** The sidecars calls go to (SIDECARS, or the one of SIDECAR_ID), each with its breaker and state. */
  sidecars: SidecarFleet;
  metrics: Metrics;
  logger: Logger;
  /** The caller's address as the runtime sees it (or as a trusted proxy says). */
  clientAddress(c: Context): string | null;
  /** Keeps work alive after the response (Workers' waitUntil); on Bun the promise just runs. */
  background(task: Promise<unknown>): void;
  /** Sends webhook requests (with the SSRF guard of the runtime). */
  webhooks: WebhookTransport;
  /** Live call events for server-sent event streams. */
  live: EventHub;
  /**
   * Tells the live hub that events were just recorded, and the webhook dispatcher too unless the
   * caller knows no delivery was planned with them (`deliveries: false`; the dispatcher's poll
   * still finds anything due).
   */
  eventsRecorded(options?: { deliveries: boolean }): void;
  /** Runs `listener` whenever events that planned deliveries were recorded in this process (the webhook dispatcher's wake-up). */
  onEventsRecorded(listener: () => void): void;
  /**
   * The clock campaigns are scheduled by (windows, retries, pacing, leases); tests replace it. Signatures,
   * tokens and call event times keep the real clock.
   */
  now(): Date;
}

export interface AuthUser {
  id: string;
  username: string;
  role: 'admin' | 'operator' | 'viewer';
  jti: string;
  tokenExpiresAt: Date;
  /** The token's `ver` claim (the user's token version when it was minted). */
  tokenVersion: number;
  /** The API key the request came with, or null for a session token. */
  keyId: string | null;
  /** A key's effective rights (its scopes the role still grants); null for a session: its role's rights. */
  scopes: ReadonlySet<Scope> | null;
}

export type AppEnv = {
  Variables: {
    services: Services;
    requestId: string;
    logger: Logger;
    user: AuthUser;
    /** The call a route reads, read with the caller's check (requireAuthReadingCall); null when none has that id. */
    callRead: { id: string; call: CallRow | null } | undefined;
  };
};
