import { join } from 'node:path';
import { EnvError } from '../api/shared/base/env.ts';
import { createPublicKeySet, loadPublicJwks, loadSigningKey } from '../api/shared/base/keys.ts';
import { createLogger, type Logger, stdoutSink } from '../api/shared/base/log.ts';
import type { SidecarStatus } from '../api/shared/contract/index.ts';
import { AriClient } from './ari/http.ts';
import { AriEventSocket, eventsUrl } from './ari/socket.ts';
import { CampaignPuller } from './campaigns/puller.ts';
import { redactedConfig, resolveTuning, type SidecarConfig } from './config.ts';
import { CallEngine } from './engine.ts';
import { describeError } from './errors.ts';
import { Recordings } from './flow/recordings.ts';
import { flowRequester } from './flow/request.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { OutboxSender } from './outbox.ts';
import { RateLimiter } from './pacing.ts';
import { startCommandServer } from './server.ts';
import { Store } from './store.ts';

export interface RunningSidecar {
  /** Base URL of the command endpoint, e.g. http://127.0.0.1:8089 */
  url: string;
  port: number;
  sidecarId: string;
  /** The sidecar's public signing key (what the API needs to verify event batches). */
  publicJwk: JsonWebKey & { kid?: string };
  status(): SidecarStatus;
  metrics: Metrics;
  /** Path of the SQLite file holding the outbox, calls and jtis. */
  databasePath: string;
  /** Reconcile now (tests; the interval and every reconnect do it anyway). */
  reconcile(): Promise<void>;
  /** Drops the events socket as a network failure would (tests). */
  dropEventsSocket(): void;
  /** Graceful stop: refuse commands, finish in-flight originates, flush the outbox (bounded), close. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
}

/** The sidecar's logger: every line to stdout, each naming the sidecar. */
export function sidecarLogger(config: SidecarConfig): Logger {
  return createLogger({
    level: config.logLevel,
    base: { service: 'sidecar', sidecar_id: config.sidecarId },
    sink: stdoutSink,
  });
}

/** Builds and starts a sidecar: outbox, ARI client and events socket, call engine, command server. */
export async function startSidecar(
  config: SidecarConfig,
  options: StartOptions = {},
): Promise<RunningSidecar> {
  const tuning = resolveTuning(config);
  const log = options.log ?? sidecarLogger(config);

  const key = await loadSigningKey(config.privateKey);
  const apiJwks = await loadPublicJwks(config.apiPublicKeys);
  if (apiJwks.length === 0)
    throw new EnvError('sidecar', [{ variable: 'API_PUBLIC_KEYS', reason: 'holds no key' }]);
  const apiKeys = await createPublicKeySet(apiJwks);

  const metrics = createMetrics();
  const databasePath = join(config.dataDir, `sidecar-${config.sidecarId}.sqlite`);
  const store = new Store(databasePath, config.sidecarId);
  // A slot is held until ARI answered the originate it was for (see RateLimiter.done).
  const limiter = new RateLimiter({
    limit: config.originateCps,
    windowMs: tuning.pacingWindowMs,
    holdUntilDone: true,
  });
  const ari = new AriClient({
    baseUrl: config.ariHttpUrl,
    username: config.ariUsername,
    password: config.ariPassword,
    maxConnections: config.ariMaxConnections,
    maxKeepalive: config.ariMaxKeepalive,
    requestTimeoutMs: config.ariRequestTimeoutMs,
    probeTimeoutMs: tuning.probeTimeoutMs,
    breakerFailures: config.breakerFailures,
    breakerHalfOpenAfterMs: config.breakerHalfOpenAfterMs,
    retryAttempts: tuning.ariRetryAttempts,
    retryInitialDelayMs: tuning.ariRetryInitialDelayMs,
    retryMaxDelayMs: tuning.ariRetryMaxDelayMs,
    metrics,
    log: log.child({ component: 'ari' }),
  });
  const outbox = new OutboxSender({
    store,
    key,
    sidecarId: config.sidecarId,
    apiUrl: config.apiUrl,
    apiIssuer: config.apiIssuer,
    batchSize: config.outboxBatchSize,
    initialDelayMs: tuning.outboxInitialDelayMs,
    maxDelayMs: tuning.outboxMaxDelayMs,
    requestTimeoutMs: tuning.outboxRequestTimeoutMs,
    metrics,
    log: log.child({ component: 'outbox' }),
  });

  let socket: AriEventSocket | null = null;
  // The resync of the current socket; aborted when it goes down (the next open starts another).
  let resyncing: AbortController | null = null;
  // Another client registered our app name: this socket stays open but gets nothing more.
  let replaced = false;
  const eventsFlowing = () => (socket?.isOpen() ?? false) && !replaced;
  const engine = new CallEngine({
    config,
    tuning,
    store,
    ari,
    limiter,
    metrics,
    log,
    eventsConnected: eventsFlowing,
    onEvents: () => outbox.notify(),
    flowRequester: flowRequester({
      key,
      sidecarId: config.sidecarId,
      apiUrl: config.apiUrl,
      apiIssuer: config.apiIssuer,
    }),
  });
  const recordings = new Recordings(ari);
  socket = new AriEventSocket({
    url: eventsUrl(config.ariHttpUrl, config.ariApp),
    headers: {
      authorization: `Basic ${Buffer.from(`${config.ariUsername}:${config.ariPassword}`).toString('base64')}`,
    },
    connectTimeoutMs: tuning.wsConnectTimeoutMs,
    initialDelayMs: tuning.wsInitialDelayMs,
    maxDelayMs: tuning.wsMaxDelayMs,
    minUptimeMs: tuning.wsMinUptimeMs,
    idlePingMs: tuning.wsIdlePingMs,
    pongTimeoutMs: tuning.wsPongTimeoutMs,
    onEvent: (event, receivedAt) => {
      if (event.type === 'ApplicationReplaced') replaced = true;
      engine.handleAriEvent(event, receivedAt);
    },
    // Events missed while the socket was down are gone: ARI keeps no backlog. Compare, until
    // that succeeds. The socket's upgrade went through ARI's HTTP server: ARI answers again.
    onOpen: () => {
      replaced = false;
      ari.noteReachable();
      engine.pump();
      resyncing?.abort();
      const controller = new AbortController();
      resyncing = controller;
      void engine
        .resync('events socket open', controller.signal)
        .catch((error) => log.error('resync failed', { error: describeError(error) }))
        .finally(() => {
          if (resyncing === controller) resyncing = null;
          engine.pump();
        });
    },
    onDown: () => resyncing?.abort(),
    metrics,
    log: log.child({ component: 'events' }),
  });
  ari.onBreakerChange((state) => {
    if (state === 'closed') engine.pump();
  });

  metrics.sources.outboxDepth = () => store.outboxDepth();
  metrics.sources.deadLetters = () => store.deadLetterCount();
  metrics.sources.queueDepth = () => engine.queuedCount();
  metrics.sources.liveChannels = () => engine.liveCount();

  outbox.start();
  socket.start();
  engine.pump();

  let accepting = true;
  // Campaigns: room for calls (places left, at most a second's pacing) is filled from the API's leases.
  const puller = config.campaignPull
    ? new CampaignPuller({
        key,
        sidecarId: config.sidecarId,
        apiUrl: config.apiUrl,
        apiIssuer: config.apiIssuer,
        capacity: () =>
          accepting && eventsFlowing() && ari.breakerState() !== 'open'
            ? Math.min(
                config.originateCps,
                config.maxConcurrentCalls - engine.liveCount() - engine.queuedCount(),
              )
            : 0,
        originate: (command) => engine.originatePulled(command),
        log: log.child({ component: 'campaigns' }),
      })
    : null;
  puller?.start();

  const reconcileTimer = setInterval(() => void engine.reconcile('interval'), config.reconcileIntervalMs);
  const pruneTimer = setInterval(() => {
    try {
      store.prune(Date.now(), Date.now() - tuning.finishedRetentionMs);
    } catch (error) {
      log.warn('pruning the database failed', { error: describeError(error) });
    }
  }, 60_000);
  store.prune(Date.now(), Date.now() - tuning.finishedRetentionMs);

  const socketState = () => (replaced ? 'replaced' : (socket?.state.kind ?? 'idle'));
  const status = (): SidecarStatus => {
    const contact = ari.reachability();
    return {
      sidecar_id: config.sidecarId,
      ari: {
        connected: eventsFlowing(),
        breaker: ari.breakerState(),
        retry_after_s: ari.retryAfterS(),
        reachable: contact.reachable,
        error: contact.error?.slice(0, 500) ?? null,
        events_socket: socketState(),
      },
      live_calls: engine.liveCount(),
      queued_calls: engine.queuedCount(),
      outbox_depth: store.outboxDepth(),
      max_concurrent_calls: config.maxConcurrentCalls,
    };
  };
  // Asks ARI now, outside the breaker (see Lane in ari/http.ts): a probe never refuses a call.
  const probeAri = async (): Promise<{ ok: boolean; detail?: string }> => {
    try {
      await ari.probe();
      return { ok: true };
    } catch (error) {
      return { ok: false, detail: describeError(error) };
    }
  };

  const server = startCommandServer({
    host: config.host,
    port: config.port,
    sidecarId: config.sidecarId,
    apiIssuer: config.apiIssuer,
    apiKeys,
    claimJti: (jti, expiresAt) => store.claimJti(jti, expiresAt.getTime()),
    maxBodyBytes: tuning.maxCommandBytes,
    handlers: {
      accepting: () => accepting,
      originate: (command) => engine.originate(command),
      hangup: (command) => engine.hangup(command.call_id),
      recordingFile: (command) => recordings.file(command.recording),
      recordingDelete: (command) => recordings.delete(command.call_id, command.recordings),
      // The signed status is what the API's readiness reads: it carries a fresh answer from ARI.
      status: async () => {
        await probeAri();
        return status();
      },
      readiness: async () => {
        const ariCheck = await probeAri();
        const breaker = ari.breakerState();
        const breakerCheck =
          breaker === 'open'
            ? {
                ok: false,
                detail: `circuit breaker open: originates are refused for ${ari.retryAfterS() ?? 1} s more`,
              }
            : breaker === 'half_open'
              ? { ok: true, detail: 'half-open: a test request is on its way to ARI' }
              : { ok: true };
        const wsCheck = eventsFlowing()
          ? { ok: true }
          : {
              ok: false,
              detail: replaced
                ? 'another client registered our ARI app; this socket gets no events'
                : `events socket ${socket?.state.kind ?? 'absent'}`,
            };
        const apiCheck = outbox.isFailing()
          ? { ok: false, detail: 'event delivery is failing (not required for readiness)' }
          : { ok: true };
        return {
          ready: accepting && ariCheck.ok && breakerCheck.ok && wsCheck.ok,
          checks: { ari: ariCheck, breaker: breakerCheck, events_socket: wsCheck, api_delivery: apiCheck },
        };
      },
    },
    metrics,
    log: log.child({ component: 'commands' }),
  });
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${server.port}`;
  log.info('sidecar started', { url, config: redactedConfig(config), database: databasePath });

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      const deadline = Date.now() + tuning.stopDeadlineMs;
      const left = () => Math.max(0, deadline - Date.now());
      accepting = false;
      log.info('sidecar stopping');
      await puller?.stop();
      clearInterval(reconcileTimer);
      clearInterval(pruneTimer);
      resyncing?.abort();
      await engine.stop(Math.min(left(), 3000));
      limiter.close();
      const flushed = await outbox.flush(Math.min(tuning.flushTimeoutMs, left()));
      await outbox.stop();
      socket?.close();
      server.stop(true);
      await ari.close();
      const depth = store.outboxDepth();
      store.close();
      log.info('sidecar stopped', { outbox_flushed: flushed, outbox_depth: depth });
    })();
    return stopping;
  };

  return {
    url,
    port: server.port ?? config.port,
    sidecarId: config.sidecarId,
    publicJwk: key.publicJwk as JsonWebKey & { kid?: string },
    status,
    metrics,
    databasePath,
    reconcile: () => engine.reconcile('requested'),
    dropEventsSocket: () => socket?.terminate(),
    stop,
  };
}
