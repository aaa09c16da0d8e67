import type { PublicKeySet, SigningKey } from '../../api/shared/base/keys.ts';
import {
  bearerToken,
  type ChannelClaims,
  isChannelAuthError,
  signChannelMessage,
  verifyChannelMessage,
} from '../../api/shared/base/signing.ts';
import {
  API_EVENTS_PATH,
  API_FLOW_REQUESTS_PATH,
  API_LEASE_PATH,
  type CallEventInput,
  type FlowRequest,
  HangupCommand,
  type HangupReply,
  type LeaseRequest,
  OriginateCommand,
  type OriginateReply,
  RecordingDeleteCommand,
  type RecordingDeleteReply,
  RecordingFileCommand,
  SIDECAR_PATHS,
  type SidecarStatus,
  TYP_COMMAND,
  TYP_EVENTS,
  TYP_FLOW_REQUEST,
  TYP_LEASE,
} from '../../api/shared/contract/index.ts';

/**
 * A small stand-in for the sidecar, over real HTTP, that verifies every command's signature with
 * the channel module exactly as the real sidecar does, records what it accepted, answers as a test
 * tells it to, and can post signed event batches to the API.
 */
export type OriginateBehaviour = OriginateReply['outcome'] | 'hang' | 'drop' | 'http500';

export interface ReceivedCommand<T> {
  path: string;
  body: T;
  claims: ChannelClaims;
}

export interface SidecarDouble {
  readonly id: string;
  readonly url: string;
  readonly key: SigningKey;
  originates: ReceivedCommand<OriginateCommand>[];
  hangups: ReceivedCommand<HangupCommand>[];
  refused: { path: string; reason: string }[];
  /** How the next originates are answered (default `dialing`). */
  originateBehaviour: OriginateBehaviour;
  hangupOutcome: HangupReply['outcome'];
  breaker: SidecarStatus['ari']['breaker'];
  /** What its status says of the PBX besides the breaker (default: all well). */
  pbx: { reachable: boolean | null; error: string | null; connected: boolean; events_socket: string };
  /** `refuse`: the status command answers 503 without a body, as a sidecar that is down behind a proxy. */
  statusBehaviour: 'answer' | 'refuse';
  /** The double's clock against the API's: added to every time it reports (dialed_at). */
  clockSkewMs: number;
  /** How long a `dialing` reply is held after its dialed_at was taken (a slow link back). */
  replyDelayMs: number;
  /** Runs before a `dialing` reply goes back (as the real sidecar's own batch may go out first). */
  beforeDialingReply: ((command: OriginateCommand) => Promise<void>) | null;
  /** The dialed_at of each `dialing` reply, by call id. */
  dialedAt: Map<string, string>;
  /** Stored recordings it serves, by ARI name (as the PBX beside a real sidecar holds them). */
  recordings: Map<string, Uint8Array<ArrayBuffer>>;
  recordingFiles: ReceivedCommand<RecordingFileCommand>[];
  recordingDeletes: ReceivedCommand<RecordingDeleteCommand>[];
  /**
   * How recording commands are answered: `answer`; `refuse` (503 without a body, a sidecar down behind
   * a proxy); `fail` (every delete fails, as when ARI refuses it).
   */
  recordingBehaviour: 'answer' | 'refuse' | 'fail';
  /** Now on the double's clock. */
  now(): Date;
  trust(keys: PublicKeySet, issuer: string): void;
  sendEvents(apiUrl: string, events: CallEventInput[], options?: SendOptions): Promise<Response>;
  /** Asks the API to run a request step, signed as the real sidecar signs it. */
  sendFlowRequest(apiUrl: string, request: FlowRequest, options?: SendOptions): Promise<Response>;
  /** Asks the API for due campaign attempts, signed as the real sidecar's puller signs it. */
  lease(apiUrl: string, request: LeaseRequest, options?: SendOptions): Promise<Response>;
  reset(): void;
  stop(): Promise<void>;
}

export interface SendOptions {
  batchId?: string;
  /** Signs this body but sends `tamperedBody` instead. */
  tamperedBody?: string;
  key?: SigningKey;
  issuer?: string;
  ttlSeconds?: number;
  now?: Date;
  token?: string;
}

function problem(status: number, detail: string) {
  return Response.json(
    {
      type: 'about:blank',
      title: 'Refused',
      status,
      detail,
      code: status === 401 ? 'invalid_signature' : 'invalid',
    },
    { status, headers: { 'Content-Type': 'application/problem+json' } },
  );
}

export async function startSidecarDouble(options: { id: string; key: SigningKey }): Promise<SidecarDouble> {
  let keys: PublicKeySet | null = null;
  let issuer = 'outdial';
  const seenJtis = new Set<string>();
  const hanging: Array<() => void> = [];

  const double: SidecarDouble = {
    id: options.id,
    url: '',
    key: options.key,
    originates: [],
    hangups: [],
    refused: [],
    originateBehaviour: 'dialing',
    hangupOutcome: 'hanging_up',
    breaker: 'closed',
    pbx: { reachable: true, error: null, connected: true, events_socket: 'open' },
    statusBehaviour: 'answer',
    clockSkewMs: 0,
    replyDelayMs: 0,
    beforeDialingReply: null,
    dialedAt: new Map(),
    recordings: new Map(),
    recordingFiles: [],
    recordingDeletes: [],
    recordingBehaviour: 'answer',
    now: () => new Date(Date.now() + double.clockSkewMs),
    trust(k, iss) {
      keys = k;
      issuer = iss;
    },
    async sendEvents(apiUrl, events, send = {}) {
      const body = JSON.stringify({
        sidecar_id: options.id,
        batch_id: send.batchId ?? crypto.randomUUID(),
        events,
      });
      const token =
        send.token ??
        (await signChannelMessage({
          key: send.key ?? options.key,
          issuer: send.issuer ?? `sidecar:${options.id}`,
          audience: issuer,
          typ: TYP_EVENTS,
          method: 'POST',
          path: API_EVENTS_PATH,
          body,
          ...(send.ttlSeconds !== undefined ? { ttlSeconds: send.ttlSeconds } : {}),
          ...(send.now ? { now: send.now } : {}),
        }));
      return fetch(`${apiUrl}${API_EVENTS_PATH}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: send.tamperedBody ?? body,
      });
    },
    async lease(apiUrl, request, send = {}) {
      const body = JSON.stringify(request);
      const token =
        send.token ??
        (await signChannelMessage({
          key: send.key ?? options.key,
          issuer: send.issuer ?? `sidecar:${options.id}`,
          audience: issuer,
          typ: TYP_LEASE,
          method: 'POST',
          path: API_LEASE_PATH,
          body,
          ...(send.ttlSeconds !== undefined ? { ttlSeconds: send.ttlSeconds } : {}),
          ...(send.now ? { now: send.now } : {}),
        }));
      return fetch(`${apiUrl}${API_LEASE_PATH}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: send.tamperedBody ?? body,
      });
    },
    async sendFlowRequest(apiUrl, request, send = {}) {
      const body = JSON.stringify(request);
      const token =
        send.token ??
        (await signChannelMessage({
          key: send.key ?? options.key,
          issuer: send.issuer ?? `sidecar:${options.id}`,
          audience: issuer,
          typ: TYP_FLOW_REQUEST,
          method: 'POST',
          path: API_FLOW_REQUESTS_PATH,
          body,
          ...(send.ttlSeconds !== undefined ? { ttlSeconds: send.ttlSeconds } : {}),
          ...(send.now ? { now: send.now } : {}),
        }));
      return fetch(`${apiUrl}${API_FLOW_REQUESTS_PATH}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: send.tamperedBody ?? body,
      });
    },
    reset() {
      double.recordings = new Map();
      double.recordingFiles = [];
      double.recordingDeletes = [];
      double.recordingBehaviour = 'answer';
      double.originates = [];
      double.hangups = [];
      double.refused = [];
      double.originateBehaviour = 'dialing';
      double.hangupOutcome = 'hanging_up';
      double.breaker = 'closed';
      double.pbx = { reachable: true, error: null, connected: true, events_socket: 'open' };
      double.statusBehaviour = 'answer';
      double.clockSkewMs = 0;
      double.replyDelayMs = 0;
      double.beforeDialingReply = null;
      double.dialedAt = new Map();
    },
    async stop() {
      for (const release of hanging.splice(0)) release();
      server.stop(true);
    },
  };

  async function verify(req: Request, path: string, raw: string): Promise<ChannelClaims | Response> {
    const token = bearerToken(req.headers.get('authorization'));
    if (!token || !keys) {
      double.refused.push({ path, reason: 'no token' });
      return problem(401, 'signature required');
    }
    try {
      return await verifyChannelMessage(token, {
        keys,
        issuer,
        audience: `sidecar:${options.id}`,
        typ: TYP_COMMAND,
        method: req.method,
        path,
        body: raw,
        claimJti: (jti) => {
          if (seenJtis.has(jti)) return false;
          seenJtis.add(jti);
          return true;
        },
      });
    } catch (error) {
      const reason = isChannelAuthError(error) ? error.message : 'invalid';
      double.refused.push({ path, reason });
      return problem(401, reason);
    }
  }

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const raw = req.method === 'GET' ? '' : await req.text();
      const claims = await verify(req, path, raw);
      if (claims instanceof Response) return claims;
      if (path === SIDECAR_PATHS.status) {
        if (double.statusBehaviour === 'refuse') return new Response('', { status: 503 });
        const status: SidecarStatus = {
          sidecar_id: options.id,
          ari: {
            connected: double.pbx.connected,
            breaker: double.breaker,
            retry_after_s: double.breaker === 'open' ? 5 : null,
            reachable: double.pbx.reachable,
            error: double.pbx.error,
            events_socket: double.pbx.events_socket,
          },
          live_calls: 0,
          queued_calls: 0,
          outbox_depth: 0,
        };
        return Response.json(status);
      }
      if (path === SIDECAR_PATHS.originate) {
        const body = OriginateCommand.parse(JSON.parse(raw));
        double.originates.push({ path, body, claims });
        const call_id = body.call_id;
        const reply = ((): OriginateReply | Response | 'hang' => {
          switch (double.originateBehaviour) {
            case 'dialing': {
              const dialedAt = double.now().toISOString();
              double.dialedAt.set(call_id, dialedAt);
              return {
                outcome: 'dialing',
                call_id,
                channel: `Local/${body.phone_number}@sim-callee-00000001;1`,
                dialed_at: dialedAt,
              };
            }
            case 'queued':
              return { outcome: 'queued', call_id, position: 1 };
            case 'finished':
              return { outcome: 'finished', call_id, status: 'completed' };
            case 'rejected':
              return {
                outcome: 'rejected',
                call_id,
                reason: 'pbx_routing',
                detail: 'Allocation failed',
                ari_status: 500,
              };
            case 'unavailable':
              return { outcome: 'unavailable', call_id, reason: 'breaker_open', retry_after_s: 7 };
            case 'http500':
              return new Response('oops', { status: 500 });
            case 'drop':
              return 'hang';
            case 'hang':
              return 'hang';
          }
        })();
        if (reply === 'hang') {
          await new Promise<void>((resolve) => hanging.push(resolve));
          return new Response(null, { status: 504 });
        }
        if (reply instanceof Response) return reply;
        if (reply.outcome === 'dialing' && double.replyDelayMs > 0) await Bun.sleep(double.replyDelayMs);
        if (reply.outcome === 'dialing' && double.beforeDialingReply) await double.beforeDialingReply(body);
        return Response.json(reply, { status: reply.outcome === 'unavailable' ? 503 : 200 });
      }
      if (path === SIDECAR_PATHS.hangup) {
        const body = HangupCommand.parse(JSON.parse(raw));
        double.hangups.push({ path, body, claims });
        return Response.json({ call_id: body.call_id, outcome: double.hangupOutcome } satisfies HangupReply);
      }
      if (path === SIDECAR_PATHS.recordingFile) {
        const body = RecordingFileCommand.parse(JSON.parse(raw));
        double.recordingFiles.push({ path, body, claims });
        if (double.recordingBehaviour === 'refuse') return new Response('', { status: 503 });
        const audio = double.recordings.get(body.recording);
        if (!audio) return problem(404, 'no such recording');
        return new Response(audio, {
          headers: { 'Content-Type': 'audio/wav', 'Content-Length': String(audio.length) },
        });
      }
      if (path === SIDECAR_PATHS.recordingDelete) {
        const body = RecordingDeleteCommand.parse(JSON.parse(raw));
        double.recordingDeletes.push({ path, body, claims });
        if (double.recordingBehaviour === 'refuse') return new Response('', { status: 503 });
        const reply: RecordingDeleteReply = { call_id: body.call_id, deleted: [], failed: [] };
        for (const name of body.recordings) {
          if (double.recordingBehaviour === 'fail')
            reply.failed.push({ recording: name, error: 'ARI answered 500' });
          else {
            double.recordings.delete(name);
            reply.deleted.push(name);
          }
        }
        return Response.json(reply);
      }
      return problem(404, 'no such command');
    },
  });
  (double as { url: string }).url = `http://127.0.0.1:${server.port}`;
  return double;
}
