import { afterAll, beforeAll, describe, expect } from 'bun:test';
import { eq, inArray, sql } from 'drizzle-orm';
import { housekeep } from '../../api/housekeeping.ts';
import { silentLogger } from '../../api/shared/base/log.ts';
import type { CallStatus } from '../../api/shared/contract/index.ts';
import { insertCall } from '../../db/queries/calls.ts';
import {
  auditLog,
  callEvents,
  calls,
  idempotencyKeys,
  liveStreams,
  loginThrottle,
  rateLimits,
  refreshTokens,
  revokedTokens,
  usedJtis,
  webhookAttempts,
  webhookDeliveries,
} from '../../db/schema.ts';
import { MODES, startTestStack, TARGET, type TestStack, test } from '../harness/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    env: { ALLOWED_ORIGINS: 'https://console.example.com,https://ops.example.com' },
  });
}, 60_000);
afterAll(() => stack.stop());

type Json = Record<string, unknown>;

for (const mode of MODES) {
  describe(`system routes (${mode})`, () => {
    test('GET / names the service and links the docs', async () => {
      const { data, response } = await stack.client(undefined, mode).GET('/');
      expect(response.status).toBe(200);
      expect(data).toEqual({
        name: 'Outdial',
        version: '2.0.0',
        docs: '/docs',
        openapi: '/openapi.json',
        health: '/health',
      });
    });

    test('GET /health is 200 with default settings', async () => {
      const { data, response } = await stack.client(undefined, mode).GET('/health');
      expect(response.status).toBe(200);
      expect(data).toEqual({ status: 'ok' });
    });

    test('GET /readiness reports the database, the sidecar and the PBX; a sidecar or PBX down is 200 degraded, not 503', async () => {
      type Report = {
        status: string;
        checks: Record<string, { status: string; required: boolean; error?: string; details?: Json }>;
      };
      const read = async () => {
        const res = await stack.request(mode, '/readiness');
        return { code: res.status, body: (await res.json()) as Report };
      };
      const { data: body, response: ok } = await stack.client(undefined, mode).GET('/readiness');
      expect(ok.status).toBe(200);
      expect(body!.status).toBe('ready');
      expect(body!.checks.database).toMatchObject({ status: 'ok', required: true });
      expect(body!.checks.sidecar).toMatchObject({ status: 'ok', required: false });
      expect(body!.checks.pbx).toMatchObject({
        status: 'ok',
        required: false,
        details: { ari_reachable: true, events_socket: 'open', breaker: 'closed' },
      });

      try {
        // The PBX does not answer the sidecar's probe, and its events socket is waiting to reconnect.
        stack.sidecar.pbx = {
          reachable: false,
          error: 'ARI unreachable (GET /asterisk/ping): connect ECONNREFUSED',
          connected: false,
          events_socket: 'backoff',
        };
        const down = await read();
        expect(down.code).toBe(200);
        expect(down.body.status).toBe('degraded');
        expect(down.body.checks.database!.status).toBe('ok');
        expect(down.body.checks.sidecar!.status).toBe('ok');
        expect(down.body.checks.pbx).toMatchObject({
          status: 'error',
          details: { ari_reachable: false, events_socket: 'backoff', breaker: 'closed' },
        });
        expect(down.body.checks.pbx!.error).toContain('ECONNREFUSED');
        expect(down.body.checks.pbx!.error).toContain('events socket is backoff');

        // ARI answers again but the breaker is still open: originates are refused, say so.
        stack.sidecar.pbx = { reachable: true, error: null, connected: true, events_socket: 'open' };
        stack.sidecar.breaker = 'open';
        const open = await read();
        expect(open.code).toBe(200);
        expect(open.body.status).toBe('degraded');
        expect(open.body.checks.pbx).toMatchObject({ status: 'error', details: { breaker: 'open' } });
        expect(open.body.checks.pbx!.error).toContain('breaker');

        // The sidecar itself cannot be asked: the PBX's state is unknown.
        stack.sidecar.statusBehaviour = 'refuse';
        const gone = await read();
        expect(gone.code).toBe(200);
        expect(gone.body.status).toBe('degraded');
        expect(gone.body.checks.sidecar).toMatchObject({ status: 'error', required: false });
        expect(gone.body.checks.pbx).toMatchObject({ status: 'unknown', required: false });
        expect(gone.body.checks.database!.status).toBe('ok');
      } finally {
        stack.sidecar.reset();
      }
      expect((await read()).body.status).toBe('ready');
    });

    test('X-Request-ID: a well-formed one is echoed, anything else is replaced', async () => {
      const echoed = await stack.request(mode, '/health', { headers: { 'X-Request-ID': 'abc-123.def:9' } });
      expect(echoed.headers.get('x-request-id')).toBe('abc-123.def:9');
      for (const bad of ['<script>alert(1)</script>', 'x'.repeat(129), 'a b', 'id;drop']) {
        const replaced = await stack.request(mode, '/health', { headers: { 'X-Request-ID': bad } });
        expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      }
      const generated = await stack.request(mode, '/api/v2/me');
      const id = generated.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(((await generated.json()) as { request_id: string }).request_id).toBe(id!);
    });

    test('security headers on every answer', async () => {
      for (const path of ['/health', '/api/v2/me', '/nope']) {
        const res = await stack.request(mode, path);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
        expect(res.headers.get('strict-transport-security')).toContain('max-age=');
      }
    });

    test('CORS allows the configured origins only', async () => {
      const pre = await stack.request(mode, '/api/v2/calls', {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://ops.example.com',
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization,content-type,idempotency-key',
        },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('https://ops.example.com');
      expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
      const other = await stack.request(mode, '/health', { headers: { Origin: 'https://evil.example.net' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    });

    test('GET /.well-known/jwks.json publishes the signing key without private parts', async () => {
      const { data } = await stack.client(undefined, mode).GET('/.well-known/jwks.json');
      const jwks = data as { keys: Json[] };
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).toMatchObject({
        kty: 'OKP',
        crv: 'Ed25519',
        alg: 'EdDSA',
        use: 'sig',
        kid: stack.keys.signing.kid,
      });
      expect(jwks.keys[0]!.d).toBeUndefined();
    });

    test('GET /docs serves the interactive reference', async () => {
      const res = await stack.request(mode, '/docs');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      const html = await res.text();
      expect(html).toContain('/openapi.json');
      // Scalar's bundle comes from this server (node_modules on Bun, the Worker's script on Workers).
      expect(html).toContain('<script src="/docs/scalar.js">');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self' 'sha256-");
      const bundle = await stack.request(mode, '/docs/scalar.js');
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get('content-type')).toContain('text/javascript');
      expect(await bundle.text()).toContain('createApiReference');
    });

    test('large JSON answers are gzipped when the client accepts it', async () => {
      const res = await stack.request(mode, '/openapi.json', { headers: { 'Accept-Encoding': 'gzip' } });
      expect(res.status).toBe(200);
      // fetch inflates by itself; app.request hands over the compressed bytes.
      const text =
        mode === 'in-process'
          ? new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await res.arrayBuffer())))
          : await res.text();
      if (mode === 'in-process') expect(res.headers.get('content-encoding')).toBe('gzip');
      expect((JSON.parse(text) as Json).openapi).toBe('3.1.0');
    });

    test('small JSON answers go as they are, with their length', async () => {
      // c.json() states no length, and compress() gzipped any answer that did not state one.
      const res = await stack.request(mode, '/health', { headers: { 'Accept-Encoding': 'gzip' } });
      expect(res.status).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      // On Workers the platform compresses what it sends (the app does not: see api/entry/worker.ts).
      if (TARGET !== 'workerd') {
        expect(res.headers.get('content-encoding')).toBeNull();
        expect(Number(res.headers.get('content-length'))).toBe(bytes.byteLength);
      }
      expect(JSON.parse(new TextDecoder().decode(bytes))).toBeTruthy();
    });
  });
}

describe('metrics', () => {
  test('the original names, with route templates as labels', async () => {
    const op = await stack.user('operator');
    const placed = (await (
      await stack.request('http', '/api/v2/calls', { token: op.token, json: { phone_number: '5551234000' } })
    ).json()) as {
      call_id: string;
    };
    await stack.request('http', `/api/v2/calls/${placed.call_id}`, { token: op.token });
    await stack.request('http', `/api/v2/calls/${crypto.randomUUID()}`, { token: op.token });
    const text = await (await stack.request('http', '/metrics')).text();
    for (const name of [
      'api_requests_total',
      'api_request_latency_seconds_bucket',
      'calls_launched_total',
      'calls_success_total',
      'originate_latency_seconds_bucket',
      'process_resident_memory_bytes',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toContain('# TYPE calls_failed_total counter');
    expect(text).toContain('# TYPE calls_total counter');
    expect(text).toMatch(
      /api_requests_total\{method="GET",path="\/api\/v2\/calls\/:call_id",status="200"\} [1-9]/,
    );
    expect(text).toMatch(
      /api_requests_total\{method="GET",path="\/api\/v2\/calls\/:call_id",status="404"\} [1-9]/,
    );
    expect(text).not.toContain(placed.call_id);
  });

  test.if(TARGET === 'workerd')(
    'on Workers /metrics answers 404: there is no registry to scrape',
    async () => {
      const res = await stack.request('http', '/metrics');
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toStartWith('application/problem+json');
    },
  );

  test('METRICS_ENABLED=false turns /metrics off', async () => {
    const off = await startTestStack({ env: { METRICS_ENABLED: 'false', DOCS_ENABLED: 'false' } });
    try {
      expect((await off.request('http', '/metrics')).status).toBe(404);
      expect((await off.request('http', '/docs')).status).toBe(404);
      expect((await off.request('http', '/docs/scalar.js')).status).toBe(404);
    } finally {
      await off.stop();
    }
  });
});

describe('Cron Triggers', () => {
  test.if(TARGET === 'workerd')(
    'on Workers the hourly Cron Trigger purges expired rows, the every-minute one only sends webhooks',
    async () => {
      const jti = `expired-${crypto.randomUUID()}`;
      await stack.database.db.insert(revokedTokens).values({ jti, expiresAt: new Date(Date.now() - 60_000) });
      const left = async () =>
        (await stack.database.db.select().from(revokedTokens).where(eq(revokedTokens.jti, jti))).length;
      const cron = (expression: string) =>
        fetch(`${stack.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(expression)}`);
      expect((await cron('* * * * *')).status).toBe(200);
      expect(await left()).toBe(1);
      expect((await cron('0 * * * *')).status).toBe(200);
      expect(await left()).toBe(0);
    },
  );
});

describe('housekeeping', () => {
  const DAY = 86_400_000;
  const ago = (ms: number) => new Date(Date.now() - ms);

  /** A call of `ownerId` with the given status, created `age` ms ago, with a webhook delivery and attempt. */
  async function seedCall(ownerId: string, status: CallStatus, age: number) {
    const id = crypto.randomUUID();
    const db = stack.database.db;
    const { event } = await insertCall(db, {
      id,
      ownerId,
      phoneNumber: '+15550001234',
      context: 'outbound-ivr',
      extension: 's',
      priority: 1,
      timeoutMs: 30_000,
    });
    await db
      .update(calls)
      .set({ status, createdAt: ago(age), endedAt: status === 'answered' ? null : ago(age - 60_000) })
      .where(eq(calls.id, id));
    const [delivery] = await db
      .insert(webhookDeliveries)
      .values({
        callId: id,
        eventId: event.id,
        url: 'https://hooks.example.com/x',
        payload: '{}',
        state: 'delivered',
      })
      .returning();
    await db
      .insert(webhookAttempts)
      .values({ deliveryId: delivery!.id, attempt: 1, startedAt: ago(age), durationMs: 12, statusCode: 200 });
    deliveryOf.set(id, delivery!.id);
    return id;
  }
  const deliveryOf = new Map<string, number>();

  test('deletes finished calls past CALL_RETENTION_DAYS with their events and webhook records, audit entries past AUDIT_RETENTION_DAYS, and expired bookkeeping rows; keeps the rest', async () => {
    const db = stack.database.db;
    const owner = await stack.user('operator');
    const retention = stack.config.CALL_RETENTION_DAYS;
    const old = [
      await seedCall(owner.id, 'completed', (retention + 1) * DAY),
      await seedCall(owner.id, 'busy', (retention + 30) * DAY),
      await seedCall(owner.id, 'failed', (retention + 400) * DAY),
    ];
    const oldButLive = await seedCall(owner.id, 'answered', (retention + 5) * DAY);
    const recent = await seedCall(owner.id, 'completed', (retention - 1) * DAY);
    const kept = [oldButLive, recent];

    const tag = crypto.randomUUID();
    await db.insert(usedJtis).values([
      { jti: `gone-${tag}`, expiresAt: ago(1000) },
      { jti: `kept-${tag}`, expiresAt: ago(-600_000) },
    ]);
    await db.insert(revokedTokens).values([
      { jti: `gone-${tag}`, expiresAt: ago(1000) },
      { jti: `kept-${tag}`, expiresAt: ago(-600_000) },
    ]);
    await db.insert(idempotencyKeys).values([
      { userId: owner.id, key: `gone-${tag}`, requestHash: 'h', expiresAt: ago(1000) },
      { userId: owner.id, key: `kept-${tag}`, requestHash: 'h', expiresAt: ago(-600_000) },
    ]);
    const window = stack.config.LOGIN_FAILURE_WINDOW * 1000;
    await db.insert(loginThrottle).values([
      { key: `user:gone-${tag}`, failures: 3, windowStartedAt: ago(window + 60_000) },
      // The window is over but the lock is still in force: kept.
      {
        key: `user:locked-${tag}`,
        failures: 5,
        windowStartedAt: ago(window + 60_000),
        lockedUntil: ago(-600_000),
      },
      { key: `user:kept-${tag}`, failures: 1, windowStartedAt: ago(1000) },
    ]);
    const auditRetention = stack.config.AUDIT_RETENTION_DAYS * DAY;
    await db.insert(auditLog).values([
      { action: 'login', targetId: `gone-${tag}`, at: ago(auditRetention + DAY) },
      { action: 'login', targetId: `kept-${tag}`, at: ago(auditRetention - DAY) },
    ]);
    const rateWindow = stack.config.RATE_LIMIT_WINDOW * 1000;
    await db.insert(rateLimits).values([
      { key: `gone-${tag}`, windowStartedAt: ago(rateWindow + 1000), count: 7 },
      { key: `kept-${tag}`, windowStartedAt: ago(1000), count: 7 },
    ]);

    const refreshRow = (expiresAt: Date) => {
      const id = crypto.randomUUID();
      return {
        id,
        familyId: id,
        userId: owner.id,
        tokenHash: `${id}-${tag}`,
        tokenVersion: 1,
        role: 'operator' as const,
        expiresAt,
        accessJti: id,
        accessExpiresAt: expiresAt,
      };
    };
    const refreshGone = refreshRow(ago(1000));
    const refreshKept = refreshRow(ago(-600_000));
    await db.insert(refreshTokens).values([refreshGone, refreshKept]);

    const streamGone = crypto.randomUUID();
    const streamKept = crypto.randomUUID();
    await db.insert(liveStreams).values([
      { id: streamGone, userId: owner.id, expiresAt: ago(1000) },
      { id: streamKept, userId: owner.id, expiresAt: ago(-60_000) },
    ]);

    for (const id of [...old, ...kept]) {
      const res = await stack.request('http', `/api/v2/calls/${id}`, { token: owner.token });
      expect(res.status).toBe(200);
    }

    if (TARGET === 'workerd') {
      const res = await fetch(
        `${stack.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('0 * * * *')}`,
      );
      expect(res.status).toBe(200);
    } else {
      const deleted = await housekeep(db, stack.config, silentLogger);
      expect(deleted.calls).toBeGreaterThanOrEqual(old.length);
      expect(deleted.auditLog).toBeGreaterThanOrEqual(1);
      expect(deleted.usedJtis).toBeGreaterThanOrEqual(1);
      expect(deleted.revokedTokens).toBeGreaterThanOrEqual(1);
      expect(deleted.refreshTokens).toBeGreaterThanOrEqual(1);
      expect(deleted.idempotencyKeys).toBeGreaterThanOrEqual(1);
      expect(deleted.loginThrottle).toBeGreaterThanOrEqual(1);
      expect(deleted.rateLimits).toBeGreaterThanOrEqual(1);
      expect(deleted.liveStreams).toBeGreaterThanOrEqual(1);
    }
    const refreshLeft = await db
      .select({ id: refreshTokens.id })
      .from(refreshTokens)
      .where(inArray(refreshTokens.id, [refreshGone.id, refreshKept.id]));
    expect(refreshLeft.map((r) => r.id)).toEqual([refreshKept.id]);
    const streamsLeft = await db
      .select({ id: liveStreams.id })
      .from(liveStreams)
      .where(inArray(liveStreams.id, [streamGone, streamKept]));
    expect(streamsLeft.map((r) => r.id)).toEqual([streamKept]);

    const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id).sort();
    expect(
      ids(
        await db
          .select({ id: calls.id })
          .from(calls)
          .where(inArray(calls.id, [...old, ...kept])),
      ),
    ).toEqual([...kept].sort());
    const eventsLeft = await db
      .select({ callId: callEvents.callId })
      .from(callEvents)
      .where(inArray(callEvents.callId, [...old, ...kept]));
    expect(new Set(eventsLeft.map((e) => e.callId))).toEqual(new Set(kept));
    const deliveriesLeft = await db
      .select({ id: webhookDeliveries.id, callId: webhookDeliveries.callId })
      .from(webhookDeliveries)
      .where(inArray(webhookDeliveries.callId, [...old, ...kept]));
    expect(new Set(deliveriesLeft.map((d) => d.callId))).toEqual(new Set(kept));
    const attemptsLeft = await db
      .select({ deliveryId: webhookAttempts.deliveryId })
      .from(webhookAttempts)
      .innerJoin(webhookDeliveries, eq(webhookDeliveries.id, webhookAttempts.deliveryId))
      .where(inArray(webhookDeliveries.callId, [...old, ...kept]));
    expect(attemptsLeft.map((a) => a.deliveryId).sort()).toEqual(deliveriesLeft.map((d) => d.id).sort());
    expect(
      await db
        .select()
        .from(webhookAttempts)
        .where(
          inArray(
            webhookAttempts.deliveryId,
            old.map((id) => deliveryOf.get(id)!),
          ),
        ),
    ).toEqual([]);

    for (const id of old) {
      const res = await stack.request('http', `/api/v2/calls/${id}`, { token: owner.token });
      expect(res.status).toBe(404);
      const events = await stack.request('http', `/api/v2/calls/${id}/events`, { token: owner.token });
      expect(events.status).toBe(404);
    }
    for (const id of kept) {
      const res = await stack.request('http', `/api/v2/calls/${id}`, { token: owner.token });
      expect(res.status).toBe(200);
      const webhooks = await stack.request('http', `/api/v2/calls/${id}/webhooks`, { token: owner.token });
      expect(webhooks.status).toBe(200);
    }

    const keys = async <T extends { key: string }>(rows: Promise<T[]>) =>
      (await rows).map((r) => r.key).sort();
    expect(
      (
        await db
          .select()
          .from(usedJtis)
          .where(sql`${usedJtis.jti} like ${`%${tag}`}`)
      ).map((r) => r.jti),
    ).toEqual([`kept-${tag}`]);
    expect(
      (
        await db
          .select()
          .from(revokedTokens)
          .where(sql`${revokedTokens.jti} like ${`%${tag}`}`)
      ).map((r) => r.jti),
    ).toEqual([`kept-${tag}`]);
    expect(
      await keys(
        db
          .select()
          .from(idempotencyKeys)
          .where(sql`${idempotencyKeys.key} like ${`%${tag}`}`),
      ),
    ).toEqual([`kept-${tag}`]);
    expect(
      await keys(
        db
          .select()
          .from(loginThrottle)
          .where(sql`${loginThrottle.key} like ${`%${tag}`}`),
      ),
    ).toEqual([`user:kept-${tag}`, `user:locked-${tag}`]);
    expect(
      await keys(
        db
          .select()
          .from(rateLimits)
          .where(sql`${rateLimits.key} like ${`%${tag}`}`),
      ),
    ).toEqual([`kept-${tag}`]);
    expect(
      (
        await db
          .select({ targetId: auditLog.targetId })
          .from(auditLog)
          .where(sql`${auditLog.targetId} like ${`%${tag}`}`)
      ).map((r) => r.targetId),
    ).toEqual([`kept-${tag}`]);
  });
});

describe('the OpenAPI document', () => {
  let doc: {
    openapi: string;
    paths: Record<
      string,
      Record<
        string,
        {
          summary?: string;
          security?: unknown[];
          responses: Record<string, { content?: Record<string, unknown> }>;
          parameters?: Json[];
        }
      >
    >;
    components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
  };

  beforeAll(async () => {
    doc = (await (await stack.request('http', '/openapi.json')).json()) as typeof doc;
  });

  test('is OpenAPI 3.1 with every route of the contract', () => {
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths).flatMap(([p, m]) =>
      Object.keys(m).map((method) => `${method.toUpperCase()} ${p}`),
    );
    for (const op of [
      'POST /api/v2/token',
      'POST /api/v2/token/revoke',
      'GET /api/v2/me',
      'POST /api/v2/interaction/{number}',
      'GET /api/v2/status/{call_id}',
      'GET /api/v2/interaction/{call_id}/status',
      'POST /api/v2/calls',
      'GET /api/v2/calls',
      'GET /api/v2/calls/{call_id}',
      'POST /api/v2/calls/{call_id}/hangup',
      'GET /api/v2/calls/{call_id}/events',
      'GET /api/v2/users',
      'POST /api/v2/users',
      'GET /api/v2/users/{user_id}',
      'PATCH /api/v2/users/{user_id}',
      'POST /api/v2/users/{user_id}/password',
      'GET /',
      'GET /health',
      'GET /readiness',
      'GET /metrics',
      'GET /.well-known/jwks.json',
    ]) {
      expect(ops).toContain(op);
    }
  });

  test('declares the security schemes, and every secured route lists 401 and a problem+json body for each error', () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    // One scheme for both credentials: a session's JWT or an API key, told apart by the key's prefix.
    expect(doc.components.securitySchemes.bearerAuth?.description).toContain('odk_live_');
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        expect(op.summary, `${method} ${path} summary`).toBeTruthy();
        if (op.security && path.startsWith('/api/v2'))
          expect(Object.keys(op.responses), `${method} ${path}`).toContain('401');
        for (const [status, response] of Object.entries(op.responses)) {
          // /readiness answers its report (not a problem) with 503, as probes expect.
          if (Number(status) >= 400 && path !== '/readiness')
            expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual([
              'application/problem+json',
            ]);
        }
      }
    }
  });

  test('every field of every schema has a description and an example', () => {
    const missing: string[] = [];
    const visit = (schema: Json, where: string) => {
      const props = schema.properties as Record<string, Json> | undefined;
      if (!props) return;
      for (const [name, prop] of Object.entries(props)) {
        const p = prop.$ref ? { description: 'ref', example: 'ref' } : prop;
        const hasExample = 'example' in p || 'examples' in p || (Array.isArray(p.anyOf) && true);
        if (!p.description) missing.push(`${where}.${name}: description`);
        if (!hasExample && !(p.type === 'object' || p.type === 'array'))
          missing.push(`${where}.${name}: example`);
        if (p.type === 'object') visit(p, `${where}.${name}`);
        if (p.type === 'array' && p.items && typeof p.items === 'object')
          visit(p.items as Json, `${where}.${name}[]`);
      }
    };
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      if (name === 'EventBatch' || name === 'EventBatchAck') continue;
      visit(schema, name);
    }
    expect(missing).toEqual([]);
  });
});
