import { describe, expect, test } from 'bun:test';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import { eventLogProblem } from '../harness/checks.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';
import { waitFor } from '../harness/util.ts';

/** Asterisk misbehaving under a running API and sidecar: a dropped events socket, a restart, failing HTTP. */

const outcomeOf = (c: {
  status: string;
  reason: string | null;
  hangup_cause: number | null;
  dial_status: string | null;
}) => [c.status, c.reason, c.hangup_cause, c.dial_status];

async function place(stack: E2EStack, op: TestUser, phone: string, timeout?: number): Promise<string> {
  const res = await stack.placeCall(op, { phone_number: phone, ...(timeout ? { timeout } : {}) });
  expect(res.status).toBe(200);
  return res.body.call_id as string;
}

async function waitAll(stack: E2EStack, op: TestUser, ids: string[], statuses: string[]) {
  for (const id of ids) {
    await stack.waitCall(op, id, (c) => statuses.includes(c.status), 5000, `${statuses.join('/')}`);
  }
}

type Readiness = {
  status: string;
  checks: Record<'database' | 'sidecar' | 'pbx', { status: string; error?: string; details?: object }>;
};

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

describe('the simulator drops the events socket (1006) mid-call', () => {
  test('the sidecar reconnects and reconciles; the calls end with their right statuses', async () => {
    // Slow enough that the calls outlive the drop and the reconnect on a busy machine: a call that
    // ended while no socket listened is rightly found lost, which is not what this test is about.
    const sim = await startAriSimulator({ port: 0, timeScale: 0.15 });
    // Stasis style keeps digit 5 up until the callee hangs up (61 s, 9 s here).
    const stack = await startE2EStack({ ari: sim, sidecar: { ariOriginateStyle: 'stasis' } });
    try {
      const op = await stack.user('operator');
      const up = await Promise.all([1, 2, 3].map(() => place(stack, op, '5551234005')));
      // Ring for 40 s (6 s here) until the originate timeout.
      const ringing = await Promise.all([1, 2, 3].map(() => place(stack, op, '5551234002', 40_000)));
      await waitAll(stack, op, up, ['answered']);
      await waitAll(stack, op, ringing, ['ringing']);

      const metricsUrl = `${stack.sidecar.url}/metrics`;
      const reconnects = metric(
        await (await fetch(metricsUrl)).text(),
        'sidecar_ari_websocket_reconnects_total',
      );
      sim.dropWebSockets();
      await waitFor(() => sim.stats().sockets === 0, 2000, 'the socket closed');
      await waitFor(() => sim.stats().sockets === 1, 5000, 'the socket reopened');
      await stack.sidecar.waitConnected();
      const after = metric(await (await fetch(metricsUrl)).text(), 'sidecar_ari_websocket_reconnects_total');
      expect(after).toBeGreaterThan(Number.isNaN(reconnects) ? 0 : reconnects);

      // New calls work on the new socket.
      const fresh = await place(stack, op, '5551234000');
      const final = await stack.waitFinal(op, [...up, ...ringing, fresh], 15_000);
      for (const id of up) expect(outcomeOf(final.get(id)!)).toEqual(['completed', 'normal', 16, 'ANSWER']);
      for (const id of ringing)
        expect(outcomeOf(final.get(id)!)).toEqual(['no_answer', 'timeout', 19, 'RINGING']);
      expect(outcomeOf(final.get(fresh)!)).toEqual(['completed', 'normal', 16, 'ANSWER']);
      for (const id of [...up, ...ringing, fresh])
        expect(eventLogProblem(await stack.events(op, id))).toBeNull();
    } finally {
      await stack.stop();
      await sim.stop();
    }
  });
});

describe('the simulator restarts with live calls', () => {
  test('those calls end failed/lost within the reconciliation interval; new calls work', async () => {
    const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
    const reconcileIntervalMs = 1000;
    const stack = await startE2EStack({
      ari: sim,
      sidecar: { ariOriginateStyle: 'stasis', reconcileIntervalMs },
    });
    try {
      const op = await stack.user('operator');
      const up = await Promise.all([1, 2, 3, 4].map(() => place(stack, op, '5551234005')));
      const ringing = await Promise.all([1, 2, 3, 4].map(() => place(stack, op, '5551234002', 60_000)));
      await waitAll(stack, op, up, ['answered']);
      await waitAll(stack, op, ringing, ['ringing']);

      // Like `kill -9` of Asterisk: sockets cut without a close frame, every channel gone.
      const restarted = Date.now();
      await sim.restart();
      // The bound is the behaviour under test: a lost call is found by the next reconciliation
      // (after the reconnect, or the interval at the latest), plus the sidecar's second look.
      const final = await stack.waitFinal(op, [...up, ...ringing], reconcileIntervalMs + 2000);
      for (const id of [...up, ...ringing]) {
        const call = final.get(id)!;
        expect([call.status, call.reason]).toEqual(['failed', 'lost']);
        expect(Date.parse(call.ended_at!)).toBeGreaterThanOrEqual(restarted);
        expect(eventLogProblem(await stack.events(op, id))).toBeNull();
      }
      // Answered calls keep their answer time; the lost ones carry no cause (none was reported).
      expect(final.get(up[0]!)!.answered_at).not.toBeNull();
      expect(final.get(up[0]!)!.hangup_cause).toBeNull();

      await stack.sidecar.waitConnected();
      const fresh = await place(stack, op, '5551234000');
      const [after] = (await stack.waitFinal(op, [fresh])).values();
      expect(outcomeOf(after!)).toEqual(['completed', 'normal', 16, 'ANSWER']);
    } finally {
      await stack.stop();
      await sim.stop();
    }
  });
});

describe('the PBX down for seconds, then back, with live calls', () => {
  test('probes meanwhile never open the breaker; lost calls are final within seconds of its return; new calls go through at once', async () => {
    const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
    // Production's breaker delay and reconciliation interval: a breaker opened by probes would
    // refuse calls for 10 s after the PBX returns, and the interval would settle lost calls 30 s late.
    const stack = await startE2EStack({
      ari: sim,
      sidecar: {
        ariOriginateStyle: 'stasis',
        breakerFailures: 5,
        breakerHalfOpenAfterMs: 10_000,
        reconcileIntervalMs: 30_000,
      },
    });
    try {
      const op = await stack.user('operator');
      const up = await Promise.all([1, 2, 3].map(() => place(stack, op, '5551234005')));
      const ringing = await Promise.all([1, 2, 3].map(() => place(stack, op, '5551234002', 60_000)));
      await waitAll(stack, op, up, ['answered']);
      await waitAll(stack, op, ringing, ['ringing']);

      // Asterisk stops (every channel gone), stays down 3 s, and starts again.
      const restarting = sim.restart({ downMs: 3000 });
      await waitFor(() => sim.stats().sockets === 0, 2000, 'the socket closed');
      const sidecarUrl = stack.sidecar.url;
      for (let i = 0; i < 8; i++) {
        // The sidecar's own probe: not ready, truthfully, and never counted by the breaker.
        expect((await fetch(`${sidecarUrl}/readiness`)).status).toBe(503);
        // The API's: 200 and degraded, the PBX named as what fails.
        const res = await stack.request('/readiness');
        expect(res.status).toBe(200);
        const report = (await res.json()) as Readiness;
        expect(report).toMatchObject({
          status: 'degraded',
          checks: {
            database: { status: 'ok' },
            sidecar: { status: 'ok' },
            pbx: { status: 'error', details: { ari_reachable: false, breaker: 'closed' } },
          },
        });
        await Bun.sleep(100);
      }
      expect((await stack.sidecar.status()).ari.breaker).toBe('closed');
      await restarting;
      const back = Date.now();

      // Right away: not refused (dialed, or queued until the events socket is back).
      const fresh = await stack.placeCall(op, { phone_number: '5551234000' });
      expect(fresh.status).toBe(200);
      expect(fresh.body.success).toBe(true);

      // The calls whose channels vanished end within a few seconds of the PBX's return.
      const final = await stack.waitFinal(op, [...up, ...ringing], 6000);
      for (const id of [...up, ...ringing]) {
        const call = final.get(id)!;
        expect([call.status, call.reason]).toEqual(['failed', 'lost']);
        expect(Date.parse(call.ended_at!)).toBeGreaterThanOrEqual(back - 1000);
        expect(eventLogProblem(await stack.events(op, id))).toBeNull();
      }
      const [done] = (await stack.waitFinal(op, [fresh.body.call_id as string])).values();
      expect(outcomeOf(done!)).toEqual(['completed', 'normal', 16, 'ANSWER']);
      expect((await stack.sidecar.status()).ari.breaker).toBe('closed');
      const ready = await stack.request('/readiness');
      expect(((await ready.json()) as Readiness).status).toBe('ready');
    } finally {
      await stack.stop();
      await sim.stop();
    }
  }, 60_000);
});

describe('circuit breaker, seen through the API', () => {
  test('opens after consecutive ARI failures, 503 + Retry-After without touching ARI, a probe closes it', async () => {
    const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
    const stack = await startE2EStack({
      ari: sim,
      sidecar: { breakerFailures: 5, breakerHalfOpenAfterMs: 800 },
    });
    try {
      const op = await stack.user('operator');
      // ARI answers 503 to everything (the breaker's own ping probes included).
      sim.setHttpFault({ kind: 'status', status: 503, body: { message: 'Service Unavailable' } });
      const failed: string[] = [];
      // Three attempts per originate: two calls make six consecutive failures.
      for (let i = 0; i < 2; i++) {
        const res = await stack.placeCall(op, { phone_number: '5551234000' });
        expect(res.status).toBe(503);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(res.body.code).toBe('pbx_unavailable');
      }
      expect((await stack.sidecar.status()).ari.breaker).toBe('open');
      const list = (await (await stack.request('/api/v2/calls?limit=10', { token: op.token })).json()) as {
        items: { call_id: string; status: string; reason: string }[];
      };
      for (const call of list.items) {
        failed.push(call.call_id);
        expect([call.status, call.reason]).toEqual(['failed', 'pbx_unreachable']);
      }
      expect(failed.length).toBe(2);

      // Open: refused at once, before ARI is asked.
      const seen = sim.originates.length;
      const refused = await stack.placeCall(op, { phone_number: '5551234000' });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('content-type')).toStartWith('application/problem+json');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(sim.originates.length).toBe(seen);
      // Degraded, not unready: the PBX is what fails, and every API instance shares it.
      const ready = await stack.request('/readiness');
      expect(ready.status).toBe(200);
      const report = (await ready.json()) as Readiness;
      expect(report).toMatchObject({
        status: 'degraded',
        checks: {
          database: { status: 'ok' },
          sidecar: { status: 'ok' },
          pbx: { status: 'error', details: { breaker: 'open', ari_reachable: false } },
        },
      });
      expect(report.checks.pbx.error).toContain('breaker');

      // Probes keep failing while ARI is down: the breaker does not close.
      await Bun.sleep(1500);
      expect((await stack.sidecar.status()).ari.breaker).not.toBe('closed');

      // ARI is back: the next half-open probe closes it without any call.
      sim.setHttpFault(null);
      const deadline = Date.now() + 5000;
      while ((await stack.sidecar.status()).ari.breaker !== 'closed') {
        if (Date.now() > deadline) throw new Error('the breaker did not close');
        await Bun.sleep(50);
      }
      const back = await stack.request('/readiness');
      expect(back.status).toBe(200);
      expect(((await back.json()) as Readiness).status).toBe('ready');
      const ok = await place(stack, op, '5551234000');
      const [done] = (await stack.waitFinal(op, [ok])).values();
      expect(done!.status).toBe('completed');
    } finally {
      await stack.stop();
      await sim.stop();
    }
  });

  test('ARI 4xx answers fail the call but do not count towards the breaker', async () => {
    const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
    const stack = await startE2EStack({ ari: sim, sidecar: { breakerFailures: 2 } });
    try {
      const op = await stack.user('operator');
      sim.setHttpFault({
        kind: 'status',
        status: 400,
        body: { message: 'Invalid endpoint specified' },
        paths: /^POST \/ari\/channels$/,
      });
      for (let i = 0; i < 6; i++) {
        const res = await stack.placeCall(op, { phone_number: '5551234000' });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ success: false, status: 'failed', reason: 'invalid_request' });
        expect(res.body.error).toBe('Invalid endpoint specified');
      }
      expect((await stack.sidecar.status()).ari.breaker).toBe('closed');
      sim.setHttpFault(null);
      const ok = await place(stack, op, '5551234000');
      const [done] = (await stack.waitFinal(op, [ok])).values();
      expect(done!.status).toBe('completed');
    } finally {
      await stack.stop();
      await sim.stop();
    }
  });
});
