import { createPublicKeySet } from '../../api/shared/base/keys.ts';
import { bearerToken, verifyChannelMessage } from '../../api/shared/base/signing.ts';
import {
  API_EVENTS_PATH,
  API_FLOW_REQUESTS_PATH,
  type CallEvent,
  EventBatch,
  type EventBatchAck,
  FlowRequest,
  type FlowRequestReply,
  TYP_EVENTS,
  TYP_FLOW_REQUEST,
} from '../../api/shared/contract/index.ts';
import type { SidecarConfig, Tuning } from '../../sidecar/config.ts';
import type { KeyPair } from '../harness/channel.ts';
import { waitFor } from '../harness/util.ts';

/**
 * Test doubles around one sidecar: a signed fake API that records event batches (and can fail or
 * go down on demand), a proxy in front of the simulator that holds ARI's replies back, and the
 * sidecar's configuration for tests (and the environment that carries it to `bun sidecar/main.ts`).
 * Key pairs and the command signer are in test/harness/channel.ts.
 */

export type FakeApiMode = 'ok' | 'fail500' | 'refuse422' | 'refuse401';

export interface FakeApi {
  url: string;
  /** Events applied, in the order they arrived, each once. */
  events: CallEvent[];
  /** Event ids received again after they were applied. */
  duplicates: string[];
  batches: number;
  refusedSignatures: number;
  mode: FakeApiMode;
  /** Refuse (422) batches containing an event for which this returns true. */
  poison: ((event: CallEvent) => boolean) | null;
  /** Flow requests received (signature checked), in order. */
  flowRequests: FlowRequest[];
  /** How flow requests are answered: a reply, an HTTP status, or 'hang' (no answer). */
  onFlowRequest: (request: FlowRequest) => FlowRequestReply | number | 'hang';
  byCall(callId: string): CallEvent[];
  ended(callId: string): CallEvent[];
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Refuses connections until up() (the port stays the same). */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startFakeApi(options: {
  sidecarPublicJson: string;
  issuer?: string;
}): Promise<FakeApi> {
  const issuer = options.issuer ?? 'outdial';
  const keys = await createPublicKeySet([JSON.parse(options.sidecarPublicJson)]);
  const seenJti = new Set<string>();
  const applied = new Set<string>();
  let server: ReturnType<typeof Bun.serve> | null = null;
  let port = 0;

  const api: FakeApi = {
    url: '',
    events: [],
    duplicates: [],
    batches: 0,
    refusedSignatures: 0,
    mode: 'ok',
    poison: null,
    flowRequests: [],
    onFlowRequest: () => ({ outcome: 'error', detail: 'no steps scripted' }),
    byCall: (callId) => api.events.filter((e) => e.call_id === callId),
    ended: (callId) => api.events.filter((e) => e.call_id === callId && e.type === 'ended'),
    waitFor: (predicate, timeoutMs = 10_000, what = 'condition') => waitFor(predicate, timeoutMs, what),
    down: async () => {
      server?.stop(true);
      server = null;
    },
    up: async () => {
      listen();
    },
    stop: async () => {
      server?.stop(true);
      server = null;
    },
  };

  async function handleFlowRequest(request: Request): Promise<Response> {
    const raw = await request.text();
    const token = bearerToken(request.headers.get('authorization'));
    try {
      if (!token) throw new Error('no token');
      await verifyChannelMessage(token, {
        keys,
        issuer: tokenIssuer(token).startsWith('sidecar:') ? tokenIssuer(token) : 'nobody',
        audience: issuer,
        typ: TYP_FLOW_REQUEST,
        method: 'POST',
        path: API_FLOW_REQUESTS_PATH,
        body: raw,
        claimJti: (jti) => {
          if (seenJti.has(jti)) return false;
          seenJti.add(jti);
          return true;
        },
      });
    } catch {
      api.refusedSignatures += 1;
      return new Response('{"title":"bad signature"}', { status: 401 });
    }
    const parsed = FlowRequest.parse(JSON.parse(raw));
    api.flowRequests.push(parsed);
    const answer = api.onFlowRequest(parsed);
    if (answer === 'hang') return new Promise<Response>(() => {});
    if (typeof answer === 'number') return new Response('{"title":"scripted"}', { status: answer });
    return Response.json(answer);
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === API_FLOW_REQUESTS_PATH)
      return handleFlowRequest(request);
    if (request.method !== 'POST' || url.pathname !== API_EVENTS_PATH)
      return new Response('no', { status: 404 });
    const raw = await request.text();
    if (api.mode === 'fail500') return new Response('{"title":"down"}', { status: 500 });
    const token = bearerToken(request.headers.get('authorization'));
    try {
      if (!token) throw new Error('no token');
      if (api.mode === 'refuse401') throw new Error('refusing on purpose');
      const claims = await verifyChannelMessage(token, {
        keys,
        issuer: /^sidecar:/.test(tokenIssuer(token)) ? tokenIssuer(token) : 'nobody',
        audience: issuer,
        typ: TYP_EVENTS,
        method: 'POST',
        path: API_EVENTS_PATH,
        body: raw,
        claimJti: (jti) => {
          if (seenJti.has(jti)) return false;
          seenJti.add(jti);
          return true;
        },
      });
      void claims;
    } catch {
      api.refusedSignatures += 1;
      return new Response('{"title":"bad signature"}', {
        status: 401,
        headers: { 'content-type': 'application/problem+json' },
      });
    }
    const parsed = EventBatch.safeParse(JSON.parse(raw));
    if (!parsed.success) return new Response(JSON.stringify(parsed.error.issues), { status: 422 });
    if (api.mode === 'refuse422' || (api.poison && parsed.data.events.some(api.poison))) {
      return new Response('{"title":"refused"}', { status: 422 });
    }
    api.batches += 1;
    const results: EventBatchAck['results'] = [];
    for (const event of parsed.data.events) {
      if (applied.has(event.event_id)) {
        api.duplicates.push(event.event_id);
        results.push({ event_id: event.event_id, result: 'duplicate' });
        continue;
      }
      applied.add(event.event_id);
      api.events.push(event);
      results.push({ event_id: event.event_id, result: 'applied' });
    }
    return Response.json({ batch_id: parsed.data.batch_id, results } satisfies EventBatchAck);
  }

  function listen() {
    server = Bun.serve({ hostname: '127.0.0.1', port, fetch: handle });
    port = server.port!;
    api.url = `http://127.0.0.1:${port}`;
  }
  listen();
  return api;
}

function tokenIssuer(token: string): string {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iss?: string };
    return payload.iss ?? '';
  } catch {
    return '';
  }
}

/** Timings for tests: quick retries and reconnects. */
export const FAST_TUNING: Partial<Tuning> = {
  ariRetryAttempts: 3,
  ariRetryInitialDelayMs: 20,
  ariRetryMaxDelayMs: 100,
  wsConnectTimeoutMs: 1000,
  wsInitialDelayMs: 50,
  wsMaxDelayMs: 300,
  wsMinUptimeMs: 500,
  wsIdlePingMs: 2000,
  wsPongTimeoutMs: 1000,
  reconcileGraceMs: 100,
  resyncInitialDelayMs: 20,
  resyncMaxDelayMs: 200,
  outboxInitialDelayMs: 20,
  outboxMaxDelayMs: 200,
  outboxRequestTimeoutMs: 2000,
  stopDeadlineMs: 5000,
  flushTimeoutMs: 2000,
};

export function sidecarConfig(parts: {
  sidecarKey: KeyPair;
  apiKey: KeyPair;
  apiUrl: string;
  ariHttpUrl: string;
  dataDir: string;
  overrides?: Partial<SidecarConfig>;
}): SidecarConfig {
  return {
    sidecarId: `sc-${crypto.randomUUID().slice(0, 8)}`,
    host: '127.0.0.1',
    port: 0,
    privateKey: parts.sidecarKey.privateJson,
    apiUrl: parts.apiUrl,
    apiPublicKeys: parts.apiKey.publicJson,
    apiIssuer: 'outdial',
    ariHttpUrl: parts.ariHttpUrl,
    ariUsername: 'ariuser',
    ariPassword: 'aripass',
    ariApp: 'contactcenter',
    ariMaxConnections: 50,
    ariMaxKeepalive: 20,
    ariRequestTimeoutMs: 2000,
    ariDialContext: 'sim-callee',
    ariOriginateStyle: 'dialplan',
    originateCps: 50,
    maxConcurrentCalls: 50,
    queueMax: 1000,
    reconcileIntervalMs: 30_000,
    breakerFailures: 5,
    breakerHalfOpenAfterMs: 1000,
    dataDir: parts.dataDir,
    outboxBatchSize: 100,
    logLevel: (process.env.SIDECAR_TEST_LOG as SidecarConfig['logLevel']) ?? 'silent',
    tuning: FAST_TUNING,
    ...parts.overrides,
  };
}

/**
 * A pass-through proxy in front of the simulator (HTTP and the events socket) that can hold
 * ARI's answers back: the request reaches ARI and is carried out, but its reply comes late,
 * the way a lost or slow reply looks to the client.
 */
export function startAriProxy(target: string) {
  interface Data {
    url: string;
    headers: Record<string, string>;
    upstream: WebSocket | null;
    backlog: string[];
  }
  let holdNext: { match: RegExp; ms: number; count: number } | null = null;
  const server = Bun.serve<Data>({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request, srv) {
      const url = new URL(request.url);
      if (url.pathname === '/ari/events') {
        const headers: Record<string, string> = {};
        const auth = request.headers.get('authorization');
        if (auth) headers.authorization = auth;
        const upstreamUrl = `${target.replace(/^http/, 'ws')}${url.pathname}${url.search}`;
        if (srv.upgrade(request, { data: { url: upstreamUrl, headers, upstream: null, backlog: [] } }))
          return;
        return new Response('upgrade failed', { status: 400 });
      }
      const body =
        request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
      const response = await fetch(`${target}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        ...(body ? { body } : {}),
      });
      const text = await response.text();
      if (holdNext && holdNext.count > 0 && holdNext.match.test(`${request.method} ${url.pathname}`)) {
        holdNext.count -= 1;
        await Bun.sleep(holdNext.ms);
      }
      return new Response(text, { status: response.status, headers: response.headers });
    },
    websocket: {
      open(ws) {
        const upstream = new WebSocket(ws.data.url, { headers: ws.data.headers } as unknown as string[]);
        ws.data.upstream = upstream;
        upstream.onmessage = (event) => ws.send(String(event.data));
        upstream.onclose = () => ws.terminate();
      },
      message(ws, message) {
        ws.data.upstream?.send(message);
      },
      close(ws) {
        ws.data.upstream?.close();
      },
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    /** The next `count` requests matching `METHOD /path` are carried out but answered `ms` late. */
    holdReplies(match: RegExp, ms: number, count = 1) {
      holdNext = { match, ms, count };
    },
    stop: () => server.stop(true),
  };
}

/** The environment `bun sidecar/main.ts` reads for this configuration (its `tuning` has no variables). */
export function sidecarEnv(c: SidecarConfig): Record<string, string> {
  return {
    SIDECAR_ID: c.sidecarId,
    SIDECAR_HOST: c.host,
    SIDECAR_PORT: String(c.port),
    SIDECAR_PRIVATE_KEY: c.privateKey,
    API_URL: c.apiUrl,
    API_PUBLIC_KEYS: c.apiPublicKeys,
    API_ISSUER: c.apiIssuer,
    ARI_HTTP_URL: c.ariHttpUrl,
    ARI_USERNAME: c.ariUsername,
    ARI_PASSWORD: c.ariPassword,
    ARI_APP: c.ariApp,
    ARI_MAX_CONNECTIONS: String(c.ariMaxConnections),
    ARI_MAX_KEEPALIVE: String(c.ariMaxKeepalive),
    ARI_REQUEST_TIMEOUT_MS: String(c.ariRequestTimeoutMs),
    ARI_DIAL_CONTEXT: c.ariDialContext,
    ARI_ORIGINATE_STYLE: c.ariOriginateStyle,
    ORIGINATE_CPS: String(c.originateCps),
    MAX_CONCURRENT_CALLS: String(c.maxConcurrentCalls),
    QUEUE_MAX: String(c.queueMax),
    RECONCILE_INTERVAL_MS: String(c.reconcileIntervalMs),
    BREAKER_FAILURES: String(c.breakerFailures),
    BREAKER_HALF_OPEN_AFTER_MS: String(c.breakerHalfOpenAfterMs),
    DATA_DIR: c.dataDir,
    OUTBOX_BATCH_SIZE: String(c.outboxBatchSize),
    CAMPAIGN_PULL: String(c.campaignPull ?? false),
    LOG_LEVEL: c.logLevel,
  };
}
