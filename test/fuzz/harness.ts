import { count, eq } from 'drizzle-orm';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { issueAccessToken } from '../../api/auth/tokens.ts';
import { buildOpenApiDocument } from '../../api/client/spec.ts';
import { encodeBase64Url } from '../../api/lib/base64url.ts';
import { generateSigningJwk, loadSigningKey, type SigningKey } from '../../api/shared/base/keys.ts';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import {
  API_EVENTS_PATH,
  API_FLOW_REQUESTS_PATH,
  API_KEY_PREFIX,
  API_LEASE_PATH,
  SCOPES,
  TYP_COMMAND,
  TYP_EVENTS,
  TYP_FLOW_REQUEST,
  TYP_LEASE,
} from '../../api/shared/contract/index.ts';
import { getAuthSubject } from '../../db/queries/users.ts';
import { apiKeys, callRecordings, calls, campaignAttempts } from '../../db/schema.ts';
import { insertContacts } from '../harness/campaign-rows.ts';
import type { Mode, TestStack, TestUser } from '../harness/stack.ts';
import { send, type WireResponse } from './client.ts';
import { type Effects, judge, type RouteSchemaCheck } from './oracle.ts';
import {
  type Credential,
  describe as describeRequest,
  indexMethods,
  type OpenApiDocument,
  type Operation,
  operations,
  type Pools,
  type RequestCase,
  RequestGenerator,
  SERVER_METHODS,
} from './requests.ts';
import { Schemas } from './schema.ts';

/**
 * The hostile-input run: the document built from the app, a stack with users of every role, calls
 * and users to aim at, every kind of bad credential, and `exercise`, which sends one generated
 * request and judges the answer and what it changed.
 */

export const SEED = Number(process.env.FUZZ_SEED ?? 20_261_123);
/** Requests over HTTP in all, spread over the operations. */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 4000);
/** Requests in-process (Bun only), as a share of RUNS. */
export const IN_PROCESS_SHARE = 0.15;

export const DOC = buildOpenApiDocument() as unknown as OpenApiDocument;
export const OPERATIONS: Operation[] = operations(DOC);
indexMethods(OPERATIONS);
export const SCHEMAS = new Schemas(DOC);

const ORIGINATING = new Set(['POST /api/v2/calls', 'POST /api/v2/interaction/{number}']);
const HANGING_UP = new Set(['POST /api/v2/calls/{call_id}/hangup']);
const REVOKE = 'POST /api/v2/token/revoke';
const TOKEN = 'POST /api/v2/token';

export interface Tally {
  requests: number;
  byStatus: Map<number, number>;
  valid: number;
  invalid: number;
  /** Reads the document calls invalid that the API answered 2xx (lenient, not wrong). */
  lenientReads: string[];
}

export interface Fuzz {
  stack: TestStack;
  generator: RequestGenerator;
  tallies: Map<string, Tally>;
  exercise(rc: RequestCase, mode: Mode): Promise<void>;
  /** Refresh-token grants answered 200. */
  refreshed(): number;
}

function tally(tallies: Map<string, Tally>, op: string): Tally {
  let t = tallies.get(op);
  if (!t) {
    t = { requests: 0, byStatus: new Map(), valid: 0, invalid: 0, lenientReads: [] };
    tallies.set(op, t);
  }
  return t;
}

export async function setUpFuzz(stack: TestStack): Promise<Fuzz> {
  const { config, database } = stack;
  const db = database.db;
  const signing = stack.keys.signing;
  const issuer = config.JWT_ISSUER;
  const audience = config.JWT_AUDIENCE;
  const ttlSeconds = config.ACCESS_TOKEN_EXPIRE_MINUTES * 60;

  const roles: Record<'admin' | 'operator' | 'viewer', TestUser> = {
    admin: await stack.user('admin'),
    operator: await stack.user('operator'),
    viewer: await stack.user('viewer'),
  };
  const tokens = new Map<Credential, string>();
  for (const [role, u] of Object.entries(roles)) tokens.set(role as Credential, u.token);

  const mint = async (userId: string, extra: Partial<Parameters<typeof issueAccessToken>[0]> = {}) => {
    const subject = await getAuthSubject(db, userId, crypto.randomUUID());
    return (
      await issueAccessToken({
        key: signing,
        issuer,
        audience,
        userId,
        tokenVersion: subject?.tokenVersion ?? 1,
        ttlSeconds,
        ...extra,
      })
    ).token;
  };
  const refresh = async (role: 'admin' | 'operator' | 'viewer') =>
    tokens.set(role, await mint(roles[role].id));

  // Calls to aim at, in several states, owned by the operator and by the admin.
  const callIds: string[] = [];
  for (const [owner, n] of [
    [roles.operator, 3],
    [roles.admin, 2],
  ] as const) {
    for (let i = 0; i < n; i++) {
      const res = await stack.request('http', '/api/v2/calls', {
        token: owner.token,
        json: { phone_number: `+1555000${String(callIds.length).padStart(4, '0')}` },
      });
      if (res.status !== 200) throw new Error(`setting up a call: ${res.status} ${await res.text()}`);
      callIds.push(((await res.json()) as { call_id: string }).call_id);
    }
  }
  // A recording on every setup call, which the sidecar double holds, so a download can succeed.
  await db.insert(callRecordings).values(
    callIds.map((callId) => ({
      callId,
      name: 'message',
      // A recording's name on the PBX, as a record step makes it (the command schema checks it).
      recording: `${callId}-message-1`,
      durationMs: 1000,
      sidecarId: stack.sidecar.id,
      recordedAt: new Date(),
    })),
  );
  for (const callId of callIds)
    stack.sidecar.recordings.set(`${callId}-message-1`, new Uint8Array(new ArrayBuffer(44)));
  // A call whose flow has a request step, for the sidecar's flow requests to name.
  const requestCall = await stack.request('http', '/api/v2/calls', {
    token: roles.operator.token,
    json: {
      phone_number: '+15550009999',
      flow: [{ verb: 'request', url: 'https://hooks.example.com/next', timeout_ms: 500 }],
    },
  });
  if (requestCall.status !== 200) throw new Error(`setting up a flow call: ${requestCall.status}`);
  const flowCallId = ((await requestCall.json()) as { call_id: string }).call_id;
  // Saved flows to aim at, of the operator and of the admin, each with versions 1 and 2.
  const flowIds: string[] = [];
  for (const owner of [roles.operator, roles.operator, roles.admin]) {
    const steps = [{ verb: 'play', media: ['sound:hello-world'] }, { verb: 'hangup' }];
    const res = await stack.request('http', '/api/v2/flows', {
      token: owner.token,
      json: { name: `fuzz ${flowIds.length}`, steps },
    });
    if (res.status !== 201) throw new Error(`setting up a flow: ${res.status} ${await res.text()}`);
    const { flow_id } = (await res.json()) as { flow_id: string };
    const next = await stack.request('http', `/api/v2/flows/${flow_id}/versions`, {
      token: owner.token,
      json: { steps },
    });
    if (next.status !== 201)
      throw new Error(`setting up a flow version: ${next.status} ${await next.text()}`);
    flowIds.push(flow_id);
  }
  // Campaigns to aim at, of the operator and of the admin, several in each state an action starts
  // from, so that each action still finds one it may move after others have moved some.
  const campaignIds: string[] = [];
  const campaignBody = {
    name: 'fuzz',
    timezone: 'UTC',
    windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
  };
  for (const [owner, actions] of [
    [roles.operator, []],
    [roles.operator, []],
    [roles.operator, ['start']],
    [roles.operator, ['start']],
    [roles.operator, ['start', 'pause']],
    [roles.operator, ['start', 'pause']],
    [roles.admin, []],
    [roles.admin, ['start']],
    [roles.admin, ['start', 'pause']],
    [roles.operator, ['cancel']],
  ] as const) {
    const res = await stack.request('http', '/api/v2/campaigns', { token: owner.token, json: campaignBody });
    if (res.status !== 201) throw new Error(`setting up a campaign: ${res.status} ${await res.text()}`);
    const { campaign_id } = (await res.json()) as { campaign_id: string };
    for (const action of actions) {
      const moved = await stack.request('http', `/api/v2/campaigns/${campaign_id}/${action}`, {
        method: 'POST',
        token: owner.token,
      });
      if (moved.status !== 200) throw new Error(`setting up a campaign: ${action} ${moved.status}`);
    }
    campaignIds.push(campaign_id);
  }
  // Attempts that ended in the last minutes, so a campaign's timeline answers with counts in it.
  const [contact] = await insertContacts(db, campaignIds[0]!, [{ phone: '+12025550199' }]);
  await db.insert(campaignAttempts).values(
    ['busy', 'answered'].map((outcome, i) => ({
      callId: crypto.randomUUID(),
      campaignId: campaignIds[0]!,
      contactId: contact!.id,
      attempt: i + 1,
      leasedAt: new Date(Date.now() - (3 - i) * 60_000),
      leaseExpiresAt: new Date(Date.now() + 60_000),
      outcome,
      endedAt: new Date(Date.now() - (2 - i) * 60_000),
    })),
  );
  // Numbers on the do-not-call list, to check and remove.
  const dncNumbers = Array.from({ length: 12 }, (_, i) => `+1555010${String(i).padStart(4, '0')}`);
  const listed = await stack.request('http', '/api/v2/dnc/bulk', {
    token: roles.admin.token,
    json: dncNumbers.map((phone_number) => ({ phone_number })),
  });
  if (listed.status !== 200) throw new Error(`setting up the do-not-call list: ${listed.status}`);

  // Two of them finished, so a hang-up meets a call that has ended.
  const ended = await stack.sidecar.sendEvents(
    stack.url,
    callIds.slice(0, 2).map((call_id, i) => ({
      event_id: `fuzz-setup-${i}`,
      call_id,
      seq: 1,
      type: 'ended' as const,
      status: 'completed' as const,
      occurred_at: new Date().toISOString(),
    })),
  );
  if (ended.status !== 200) throw new Error(`ending setup calls: ${ended.status} ${await ended.text()}`);

  // Users to aim at (admins change and reset them) and users to log in as, kept apart.
  const targets = await Promise.all(
    ['operator', 'viewer', 'admin', 'operator'].map((r) => stack.user(r as 'operator')),
  );
  const logins = await Promise.all(['operator', 'viewer'].map((r) => stack.user(r as 'operator')));
  // Refresh tokens to spend, each a session of its own (of a user no one else logs in as or changes):
  // the first use of each is a success, a second is reuse and ends that session only.
  const refresher = await stack.user('viewer');
  const refreshTokens = [refresher.refreshToken];
  for (let i = 0; i < 23; i++) {
    const res = await stack.login(refresher.username, refresher.password);
    if (res.status !== 200) throw new Error(`setting up refresh tokens: ${res.status} ${await res.text()}`);
    refreshTokens.push(((await res.json()) as { refresh_token: string }).refresh_token);
  }

  // Every other kind of credential.
  const revoked = await stack.user('operator');
  const revokeRes = await stack.request('http', '/api/v2/token/revoke', {
    method: 'POST',
    token: revoked.token,
  });
  if (revokeRes.status !== 200) throw new Error(`revoking: ${revokeRes.status}`);
  const deactivated = await stack.user('operator');
  // API keys: one to send, others to aim at, and every kind of bad one.
  const newKey = async (token: string, body: Record<string, unknown>) => {
    const res = await stack.request('http', '/api/v2/keys', { token, json: { name: 'fuzz', ...body } });
    if (res.status !== 201) throw new Error(`setting up a key: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; key: string };
  };
  const adminKey = await newKey(roles.admin.token, { scopes: [...SCOPES] });
  const keyIds = [
    (await newKey(roles.operator.token, { scopes: ['calls:read'] })).id,
    (await newKey(roles.admin.token, { scopes: ['calls:read', 'users:admin'] })).id,
  ];
  tokens.set('admin-key', adminKey.key);
  const revokedKey = await newKey(roles.operator.token, { scopes: ['calls:read'] });
  const revokeKey = await stack.request('http', `/api/v2/keys/${revokedKey.id}`, {
    method: 'DELETE',
    token: roles.operator.token,
  });
  if (revokeKey.status !== 200) throw new Error(`revoking a key: ${revokeKey.status}`);
  const expiredKey = await newKey(roles.operator.token, { scopes: ['calls:read'] });
  await db
    .update(apiKeys)
    .set({ expiresAt: new Date(Date.now() - 1000) })
    .where(eq(apiKeys.id, expiredKey.id));
  const deactivatedKey = await newKey(roles.admin.token, { scopes: ['calls:read'], user_id: deactivated.id });
  const keySecret = adminKey.key.slice(-43);
  const deactivate = await stack.request('http', `/api/v2/users/${deactivated.id}`, {
    method: 'PATCH',
    token: roles.admin.token,
    json: { is_active: false },
  });
  if (deactivate.status !== 200) throw new Error(`deactivating: ${deactivate.status}`);
  const otherKey = await loadSigningKey(JSON.stringify(await generateSigningJwk()), signing.kid);
  const unknownKid = await loadSigningKey(JSON.stringify(await generateSigningJwk()), 'not-a-known-kid');
  const adminToken = roles.admin.token;
  const [h, p] = adminToken.split('.') as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(fromB64Url(p))) as Record<string, unknown>;
  const enc = (o: unknown) => encodeBase64Url(new TextEncoder().encode(JSON.stringify(o)));
  const operatorSig = roles.operator.token.split('.')[2];
  const bad: Record<string, string | null> = {
    none: null,
    garbage: 'Bearer abc.def.ghi',
    'empty-bearer': 'Bearer ',
    basic: `Basic ${btoa(`${roles.admin.username}:${roles.admin.password}`)}`,
    'no-scheme': adminToken,
    'lowercase-scheme-garbage': 'bearer not-a-token',
    expired: `Bearer ${await mint(roles.admin.id, { now: new Date(Date.now() - 7200_000), ttlSeconds: 60 })}`,
    'not-yet-valid': `Bearer ${await mint(roles.admin.id, { now: new Date(Date.now() + 3600_000) })}`,
    forged: `Bearer ${await mint(roles.admin.id, { key: otherKey })}`,
    'alg-none': `Bearer ${enc({ alg: 'none', typ: 'at+jwt', kid: signing.kid })}.${p}.`,
    hs256: `Bearer ${await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: signing.kid })
      .sign(new TextEncoder().encode(JSON.stringify(signing.publicJwk)))}`,
    'wrong-audience': `Bearer ${await mint(roles.admin.id, { audience: 'another-api' })}`,
    'wrong-issuer': `Bearer ${await mint(roles.admin.id, { issuer: 'someone-else' })}`,
    'unknown-kid': `Bearer ${await mint(roles.admin.id, { key: unknownKid })}`,
    // The operator's signature under the admin's header and claims.
    tampered: `Bearer ${h}.${p}.${operatorSig}`,
    revoked: `Bearer ${revoked.token}`,
    deactivated: `Bearer ${deactivated.token}`,
    'unknown-user': `Bearer ${await mint(crypto.randomUUID())}`,
    'old-version': `Bearer ${await mint(roles.admin.id, { tokenVersion: 0 })}`,
    huge: `Bearer ${'A'.repeat(6000)}`,
    'two-tokens': `Bearer ${adminToken} ${adminToken}`,
    'key-revoked': `Bearer ${revokedKey.key}`,
    'key-expired': `Bearer ${expiredKey.key}`,
    'key-of-deactivated': `Bearer ${deactivatedKey.key}`,
    'key-wrong-secret': `Bearer ${API_KEY_PREFIX}${adminKey.id}_${'A'.repeat(43)}`,
    'key-truncated': `Bearer ${adminKey.key.slice(0, -5)}`,
    'key-unknown': `Bearer ${API_KEY_PREFIX}${'0'.repeat(16)}_${keySecret}`,
    'key-wrong-prefix': `Bearer odk_test_${adminKey.id}_${keySecret}`,
    'key-non-ascii': `Bearer ${API_KEY_PREFIX}${adminKey.id}_${keySecret.slice(0, -2)}é\u00ff`,
    'key-huge': `Bearer ${adminKey.key}${'x'.repeat(6000)}`,
  };

  const sidecarKey = stack.sidecar.key;
  const wrongSidecarKey = await loadSigningKey(JSON.stringify(await generateSigningJwk()), sidecarKey.kid);
  const signFor = (
    body: string,
    o: { key?: SigningKey; iss?: string; path?: string; typ?: string; now?: Date } = {},
  ) =>
    signChannelMessage({
      key: o.key ?? sidecarKey,
      issuer: o.iss ?? `sidecar:${stack.sidecar.id}`,
      audience: issuer,
      typ: o.typ ?? TYP_EVENTS,
      method: 'POST',
      path: o.path ?? API_EVENTS_PATH,
      body,
      ...(o.now ? { now: o.now } : {}),
    });

  /** Each sidecar route's own JWT typ: a message signed for one route never passes at another. */
  const SIDECAR_TYPS: Record<string, string> = {
    [API_EVENTS_PATH]: TYP_EVENTS,
    [API_FLOW_REQUESTS_PATH]: TYP_FLOW_REQUEST,
    [API_LEASE_PATH]: TYP_LEASE,
  };

  async function authorization(c: Credential, body: string, target: string): Promise<string | null> {
    // A sidecar's message is signed for the path it is sent to, with that route's typ.
    const path = target.split('?')[0] ?? target;
    const typ = SIDECAR_TYPS[path];
    const sign = (b: string, o: Parameters<typeof signFor>[1] = {}) =>
      signFor(b, typ ? { path, typ, ...o } : o);
    switch (c) {
      case 'admin':
      case 'operator':
      case 'viewer':
      case 'admin-key':
        return `Bearer ${tokens.get(c)}`;
      case 'sidecar':
        return `Bearer ${await sign(body)}`;
      case 'sidecar-other-body':
        return `Bearer ${await sign(`${body} `)}`;
      case 'sidecar-expired':
        return `Bearer ${await sign(body, { now: new Date(Date.now() - 600_000) })}`;
      case 'sidecar-wrong-key':
        return `Bearer ${await sign(body, { key: wrongSidecarKey })}`;
      case 'sidecar-unknown-id':
        return `Bearer ${await sign(body, { iss: 'sidecar:ghost' })}`;
      case 'sidecar-wrong-path':
        return `Bearer ${await sign(body, { path: '/api/v2/calls' })}`;
      case 'sidecar-as-command':
        return `Bearer ${await sign(body, { typ: TYP_COMMAND })}`;
      default:
        return bad[c] ?? null;
    }
  }

  const pools: Pools = {
    call_id: callIds,
    user_id: targets.map((u) => u.id),
    flow_id: flowIds,
    key_id: keyIds,
    name: ['message'],
    campaign_id: campaignIds,
    phone_number: dncNumbers,
    version: ['1', '2'],
    logins: logins.map((u) => ({ username: u.username, password: u.password })),
    sidecarId: stack.sidecar.id,
  };
  const generator = new RequestGenerator({
    schemas: SCHEMAS,
    pools,
    shapeBody: (op, body) => {
      if (op.id === 'POST /api/v2/token') {
        return fc.oneof(
          body,
          fc.constantFrom(...pools.logins).map((l) => ({ grant_type: 'password', ...l })),
          fc
            .constantFrom(...refreshTokens)
            .map((refresh_token) => ({ grant_type: 'refresh_token', refresh_token })),
        );
      }
      if (op.id === `POST ${API_EVENTS_PATH}`) {
        return fc.tuple(body, fc.boolean(), fc.nat()).map(([b, keep, i]) => {
          if (keep) return b;
          const batch = b as { events: Array<Record<string, unknown>> };
          return {
            ...batch,
            sidecar_id: pools.sidecarId,
            events: batch.events.map((e, j) => ({
              ...e,
              call_id: pools.call_id[(i + j) % pools.call_id.length],
            })),
          };
        });
      }
      if (op.id === 'POST /api/v2/calls') {
        // A generated sidecar_id names no configured sidecar (a 422): name the real one in some.
        return fc
          .tuple(body, fc.boolean())
          .map(([b, keep]) =>
            keep || typeof b !== 'object' || b === null || !('sidecar_id' in b)
              ? b
              : { ...b, sidecar_id: pools.sidecarId },
          );
      }
      if (op.id === 'POST /api/v2/keys') {
        // Generated expiries are mostly past and user ids unknown: keep some plain keys of one's own.
        return fc.oneof(
          body,
          fc
            .constantFrom(['calls:read'], ['calls:read', 'calls:write'])
            .map((scopes) => ({ name: 'fuzz', scopes })),
        );
      }
      if (op.id === 'POST /api/v2/campaigns') {
        // Most generated campaigns name flows and contexts that do not exist: keep some plain ones.
        return fc.oneof(body, fc.constant(campaignBody));
      }
      if (op.id === 'PATCH /api/v2/campaigns/{campaign_id}') {
        // Most generated changes name flows and contexts that do not exist: keep some plain ones.
        return fc.oneof(
          body,
          fc.string({ minLength: 1, maxLength: 100 }).map((name) => ({ name })),
        );
      }
      if (op.id === `POST ${API_LEASE_PATH}`) {
        return fc
          .tuple(body, fc.boolean())
          .map(([b, keep]) => (keep ? b : { ...(b as object), sidecar_id: pools.sidecarId }));
      }
      if (op.id === `POST ${API_FLOW_REQUESTS_PATH}`) {
        // A step of steps a request returned: the API posts to the URL the sidecar names, which the
        // webhook rules refuse here (loopback), so the answer is an error in words, at once.
        return fc.tuple(body, fc.boolean()).map(([b, keep]) =>
          keep
            ? b
            : {
                ...(b as object),
                call_id: flowCallId,
                segment: 1,
                step: 0,
                url: 'http://127.0.0.1:9/next',
                timeout_ms: 500,
              },
        );
      }
      return body;
    },
  });

  // The routes' own zod response schemas, where the app runs in this process.
  let routeSchema: RouteSchemaCheck | undefined;
  if (stack.target === 'bun') {
    const byOp = new Map<
      string,
      Record<string, { safeParse(v: unknown): { success: boolean; error?: unknown } }>
    >();
    for (const d of stack.api.app.openAPIRegistry.definitions) {
      if (d.type !== 'route') continue;
      const schemas: Record<string, { safeParse(v: unknown): { success: boolean } }> = {};
      for (const [status, r] of Object.entries(d.route.responses ?? {})) {
        const content = (r as { content?: Record<string, { schema?: unknown }> }).content;
        const schema = content?.['application/json']?.schema as { safeParse?: unknown } | undefined;
        if (schema && typeof schema.safeParse === 'function')
          schemas[status] = schema as { safeParse(v: unknown): { success: boolean } };
      }
      byOp.set(`${d.route.method.toUpperCase()} ${d.route.path}`, schemas);
    }
    routeSchema = (op, status, body) => {
      const schema = byOp.get(op)?.[String(status)];
      if (!schema) return null;
      const r = schema.safeParse(body);
      return r.success ? null : String(r.error).slice(0, 300);
    };
  }

  const secrets = [JSON.parse(stack.config.JWT_PRIVATE_KEY!).d as string];
  const tallies = new Map<string, Tally>();
  let refreshed = 0;
  const byId = new Map(OPERATIONS.map((o) => [o.id, o]));

  async function countCalls(): Promise<number> {
    const [row] = await db.select({ n: count() }).from(calls);
    return Number(row!.n);
  }

  async function exercise(rc: RequestCase, mode: Mode): Promise<void> {
    const op = byId.get(rc.op) ?? null;
    const writes = !['GET', 'HEAD'].includes(rc.method.toUpperCase());
    const before = {
      originates: stack.sidecar.originates.length,
      hangups: stack.sidecar.hangups.length,
      refused: stack.sidecar.refused.length,
      calls: writes ? await countCalls() : null,
    };
    const headers: Array<[string, string]> = [...rc.headers];
    const auth = await authorization(rc.credential, rc.body ?? '', rc.target);
    if (auth !== null) headers.push(['Authorization', auth]);
    let res: WireResponse;
    try {
      res = await send(
        stack.url,
        { ...rc, headers },
        mode === 'in-process' ? (path, init) => stack.api.app.request(path, init) : undefined,
      );
    } catch (error) {
      // Bun's HTTP parser closes the connection on a method token it does not know, before the app
      // sees the request; that is an answer of sorts, and nothing happened.
      const dropped = String(error).includes('closed without a complete answer');
      if (!(dropped && rc.transport === 'raw' && !SERVER_METHODS.has(rc.method)))
        throw new Error(`no answer (${error}) to\n${describeRequest(rc)}`);
      res = { status: 0, headers: new Headers(), body: '' };
      const t = tally(tallies, rc.op);
      t.requests++;
      t.byStatus.set(0, (t.byStatus.get(0) ?? 0) + 1);
      const moved =
        stack.sidecar.originates.length - before.originates + stack.sidecar.hangups.length - before.hangups;
      if (moved > 0) throw new Error(`a dropped request reached the sidecar:\n${describeRequest(rc)}`);
      return;
    }
    const effects: Effects = {
      originates: stack.sidecar.originates.length - before.originates,
      hangups: stack.sidecar.hangups.length - before.hangups,
      refused: stack.sidecar.refused.length - before.refused,
      calls: before.calls === null ? null : (await countCalls()) - before.calls,
    };
    const verdict = judge({
      op,
      rc,
      res,
      effects,
      schemas: SCHEMAS,
      secrets,
      ...(routeSchema ? { routeSchema } : {}),
      originates: ORIGINATING.has(rc.op),
      hangsUp: HANGING_UP.has(rc.op),
    });

    const t = tally(tallies, rc.op);
    t.requests++;
    t.byStatus.set(res.status, (t.byStatus.get(res.status) ?? 0) + 1);
    if (rc.flaws.length > 0) t.invalid++;
    else if (rc.unsure.length === 0) t.valid++;
    if (rc.flaws.length > 0 && res.status < 300 && t.lenientReads.length < 5)
      t.lenientReads.push(rc.flaws.join('; '));

    if (rc.op === TOKEN && res.status === 200 && /(?:^|&)grant_type=refresh_token(?:&|$)/.test(rc.body ?? ''))
      refreshed++;

    // Revoking all of a role's tokens is a valid request: the run goes on with a new token.
    if (
      rc.op === REVOKE &&
      res.status === 200 &&
      (rc.credential === 'admin' || rc.credential === 'operator' || rc.credential === 'viewer')
    )
      await refresh(rc.credential);

    if (verdict.failures.length > 0) {
      throw new Error(
        `${verdict.failures.join('\n')}\n\nrequest (${mode}):\n${describeRequest(rc)}\n\nanswer: ${res.status} ${res.headers.get('content-type') ?? ''}\n${res.body.slice(0, 600)}`,
      );
    }
  }

  return { stack, generator, tallies, exercise, refreshed: () => refreshed };
}

function fromB64Url(s: string): Uint8Array {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}
