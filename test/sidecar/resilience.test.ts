import { describe, expect, test } from 'bun:test';
import { SIDECAR_PATHS, SidecarStatus } from '../../api/shared/contract/index.ts';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import { originateCommand } from '../harness/channel.ts';
import { waitFor } from '../harness/util.ts';
import { startAriProxy } from './harness.ts';
import { expectWellFormedCall, startStack } from './stack.ts';

/** ARI failing, the events socket dropping, Asterisk restarting, the API going away. */

type Reply = { outcome: string; reason?: string; retry_after_s?: number; ari_status?: number | null };

describe('circuit breaker', () => {
  test('opens after consecutive failures, answers breaker_open at once, and a probe closes it', async () => {
    const stack = await startStack({ config: { breakerFailures: 5, breakerHalfOpenAfterMs: 800 } });
    try {
      stack.sim.setHttpFault({ kind: 'status', status: 503, paths: /^POST \/ari\/channels$/ });
      const refused = [
        originateCommand('5551234000'),
        originateCommand('5551234000'),
        originateCommand('5551234000'),
      ];
      // Three attempts per originate (retries included): two originates make five failures.
      const first = (await stack.signer.originate(refused[0]!)).json as Reply;
      expect(first).toMatchObject({ outcome: 'unavailable', reason: 'ari_unreachable' });
      const second = (await stack.signer.originate(refused[1]!)).json as Reply;
      expect(second.outcome).toBe('unavailable');
      expect(stack.sidecar.status().ari.breaker).toBe('open');

      const started = performance.now();
      const fast = (await stack.signer.originate(refused[2]!)).json as Reply;
      expect(performance.now() - started).toBeLessThan(100);
      expect(fast).toMatchObject({ outcome: 'unavailable', reason: 'breaker_open' });
      expect(fast.retry_after_s).toBeGreaterThanOrEqual(1);
      const metrics = await (await fetch(`${stack.sidecar.url}/metrics`)).text();
      expect(metrics).toContain('sidecar_breaker_state 2');
      expect((await fetch(`${stack.sidecar.url}/readiness`)).status).toBe(503);

      // ARI is back: the breaker's own probe (GET /asterisk/ping) closes it without any command.
      stack.sim.setHttpFault(null);
      await waitFor(() => stack.sidecar.status().ari.breaker === 'closed', 3000, 'breaker closed');
      const ok = await stack.signer.originate(originateCommand('5551234001'));
      expect(ok.json).toMatchObject({ outcome: 'dialing' });
      // The refused calls were forgotten: they produce no events, and may be sent again.
      await stack.waitEnded([(ok.json as { call_id: string }).call_id]);
      for (const c of refused) expect(stack.api.byCall(c.call_id)).toEqual([]);
      expect((await stack.signer.originate(refused[0]!)).json).toMatchObject({ outcome: 'dialing' });
    } finally {
      await stack.stop();
    }
  });

  test('readiness probes never count for the breaker: ARI down and probed often, then back, calls go through at once', async () => {
    // Production's 10 s before a test request: a breaker opened by probes would refuse the call below.
    const stack = await startStack({ config: { breakerFailures: 2, breakerHalfOpenAfterMs: 10_000 } });
    try {
      stack.sim.setHttpFault({ kind: 'status', status: 503, body: { message: 'Service Unavailable' } });
      for (let i = 0; i < 8; i++) {
        const ready = await fetch(`${stack.sidecar.url}/readiness`);
        // Still the truth: ARI does not answer.
        expect(ready.status).toBe(503);
        expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { ari: { ok: false } } });
      }
      // The signed status asks ARI too, and says so.
      const status = SidecarStatus.parse((await stack.signer.send('GET', SIDECAR_PATHS.status)).json);
      expect(status.ari).toMatchObject({ breaker: 'closed', reachable: false });
      expect(stack.sidecar.status().ari.breaker).toBe('closed');

      stack.sim.setHttpFault(null);
      const command = originateCommand('5551234000');
      expect((await stack.signer.originate(command)).json).toMatchObject({ outcome: 'dialing' });
      expect((await stack.waitEnded([command.call_id])).get(command.call_id)!.status).toBe('completed');
      const ready = await fetch(`${stack.sidecar.url}/readiness`);
      expect(ready.status).toBe(200);
    } finally {
      await stack.stop();
    }
  });

  test('ARI 4xx answers are rejections, not failures: the breaker stays closed', async () => {
    const stack = await startStack({ config: { breakerFailures: 2 } });
    try {
      stack.sim.setHttpFault({
        kind: 'status',
        status: 400,
        body: { message: 'Invalid endpoint specified' },
        paths: /^POST \/ari\/channels$/,
      });
      for (let i = 0; i < 6; i++) {
        const reply = (await stack.signer.originate(originateCommand('5551234000'))).json as Reply;
        expect(reply).toMatchObject({ outcome: 'rejected', reason: 'invalid_request', ari_status: 400 });
      }
      expect(stack.sidecar.status().ari.breaker).toBe('closed');
      stack.sim.setHttpFault({
        kind: 'status',
        status: 500,
        body: { error: 'Allocation failed' },
        paths: /^POST \/ari\/channels$/,
        count: 1,
      });
      const alloc = (await stack.signer.originate(originateCommand('5551234000'))).json as Reply;
      expect(alloc).toMatchObject({ outcome: 'rejected', reason: 'pbx_routing', ari_status: 500 });
      expect(stack.sidecar.status().ari.breaker).toBe('closed');
    } finally {
      await stack.stop();
    }
  });

  test('a hanging ARI times out per request; the originate is not sent again, and the call ends lost', async () => {
    const stack = await startStack({ config: { ariRequestTimeoutMs: 300 } });
    try {
      // The POST never gets an answer. Whether ARI carried it out cannot be known, and a second
      // originate could ring the callee twice: the call is followed, and reconciliation finds
      // no channel for it.
      stack.sim.setHttpFault({ kind: 'hang', count: 1, paths: /^POST \/ari\/channels$/ });
      const command = originateCommand('5551234000');
      const reply = await stack.signer.originate(command);
      expect(reply.json).toMatchObject({ outcome: 'dialing' });
      await stack.sidecar.reconcile();
      const ended = await stack.waitEnded([command.call_id]);
      expect(ended.get(command.call_id)).toMatchObject({ status: 'failed', reason: 'lost' });
      expect(stack.sim.originates.filter((o) => o.channelId === command.call_id).length).toBe(0);
      // The next originate goes through as usual.
      const next = originateCommand('5551234000');
      expect((await stack.signer.originate(next)).json).toMatchObject({ outcome: 'dialing' });
      const done = await stack.waitEnded([next.call_id]);
      expect(done.get(next.call_id)!.status).toBe('completed');
    } finally {
      await stack.stop();
    }
  });

  test('a reply lost after ARI created the call: no second originate, the call is reported and followed', async () => {
    const sim = await startAriSimulator({ port: 0, timeScale: 0.05 });
    const proxy = startAriProxy(sim.url);
    const stack = await startStack({
      sharedSim: sim,
      config: { ariHttpUrl: `${proxy.url}/ari`, ariRequestTimeoutMs: 300 },
    });
    try {
      proxy.holdReplies(/^POST \/ari\/channels$/, 600);
      const command = originateCommand('5551234005');
      const reply = await stack.signer.originate(command);
      expect(reply.json).toMatchObject({
        outcome: 'dialing',
        channel: expect.stringContaining('Local/5551234005'),
      });
      // The first attempt timed out, but its events had arrived: retrying could ring the callee
      // twice once that channel is gone (here it is gone 150 ms later), so nothing was resent.
      expect(sim.originates.filter((o) => o.channelId === command.call_id).map((o) => o.status)).toEqual([
        200,
      ]);
      const ended = await stack.waitEnded([command.call_id]);
      expect(ended.get(command.call_id)).toMatchObject({ status: 'completed', reason: 'normal' });
      expect(expectWellFormedCall(stack.api.byCall(command.call_id))).toBeNull();
    } finally {
      await stack.stop();
      proxy.stop();
      await sim.stop();
    }
  });
});

describe('pacing', () => {
  test('100 commands at once with ORIGINATE_CPS=10: never more than 10 originates in any second at ARI', async () => {
    const stack = await startStack({ config: { originateCps: 10, maxConcurrentCalls: 200 } });
    try {
      const commands = Array.from({ length: 100 }, () => originateCommand('5551234007'));
      const replies = await Promise.all(commands.map((c) => stack.signer.originate(c)));
      const outcomes = replies.map((r) => (r.json as Reply).outcome);
      expect(outcomes.filter((o) => o === 'dialing').length).toBe(10);
      expect(outcomes.filter((o) => o === 'queued').length).toBe(90);
      const ended = await stack.waitEnded(
        commands.map((c) => c.call_id),
        20_000,
      );
      expect([...ended.values()].every((e) => e.reason === 'invalid_number')).toBe(true);
      const times = stack.sim.originates
        .filter((o) => commands.some((c) => c.call_id === o.channelId))
        .map((o) => o.at)
        .sort((a, b) => a - b);
      expect(times.length).toBe(100);
      let worst = 0;
      for (const start of times)
        worst = Math.max(worst, times.filter((t) => t >= start && t < start + 1000).length);
      expect(worst).toBeLessThanOrEqual(10);
      // Queued calls left the queue in order.
      const order = stack.sim.originates.filter((o) => commands.some((c) => c.call_id === o.channelId));
      expect(order.map((o) => o.channelId)).toEqual(
        commands
          .map((c) => c.call_id)
          .filter((id) => order.some((o) => o.channelId === id))
          .sort(
            (a, b) => order.findIndex((o) => o.channelId === a) - order.findIndex((o) => o.channelId === b),
          ),
      );
    } finally {
      await stack.stop();
    }
  }, 30_000);

  test('MAX_CONCURRENT_CALLS bounds live calls; a full queue answers queue_full; a queued call can be canceled', async () => {
    const stack = await startStack({
      sim: { timeScale: 0.1 },
      config: { maxConcurrentCalls: 2, queueMax: 3, originateCps: 50 },
    });
    try {
      // Answer-and-stay in dialplan style: each call lasts about 0.3 s here.
      const commands = Array.from({ length: 6 }, () => originateCommand('5551234005'));
      const replies: Reply[] = [];
      for (const c of commands) replies.push((await stack.signer.originate(c)).json as Reply);
      expect(replies.map((r) => r.outcome)).toEqual([
        'dialing',
        'dialing',
        'queued',
        'queued',
        'queued',
        'unavailable',
      ]);
      expect(replies[5]).toMatchObject({ reason: 'queue_full' });
      expect(replies[3]).toMatchObject({ position: 2 });
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, stack.sidecar.status().live_calls);
      }, 5);
      const cancel = await stack.signer.hangup(commands[4]!.call_id);
      expect(cancel.json).toEqual({ call_id: commands[4]!.call_id, outcome: 'canceled' });
      const ended = await stack.waitEnded(commands.slice(0, 5).map((c) => c.call_id));
      clearInterval(sampler);
      expect(peak).toBeLessThanOrEqual(2);
      expect(ended.get(commands[4]!.call_id)).toMatchObject({
        status: 'canceled',
        reason: 'hangup_requested',
      });
      expect(stack.api.byCall(commands[4]!.call_id).map((e) => e.type)).toEqual(['ended']);
      expect(stack.sim.originates.some((o) => o.channelId === commands[4]!.call_id)).toBe(false);
      for (const c of commands.slice(0, 4)) expect(ended.get(c.call_id)!.status).toBe('completed');
      expect(stack.api.byCall(commands[5]!.call_id)).toEqual([]);
    } finally {
      await stack.stop();
    }
  });
});

describe('events socket and Asterisk restarts', () => {
  test('socket dropped (1006) mid-call: reconnect, reconcile, right final statuses', async () => {
    const stack = await startStack({ sim: { timeScale: 0.2 } });
    try {
      // Dialplan answer-and-stay: answered after 0.2 s, hung up by outbound-ivr 0.4 s later.
      const commands = Array.from({ length: 3 }, () => originateCommand('5551234005'));
      await Promise.all(commands.map((c) => stack.signer.originate(c)));
      await stack.api.waitFor(
        () => commands.every((c) => stack.api.byCall(c.call_id).some((e) => e.status === 'answered')),
        5000,
        'answered',
      );
      stack.sim.dropWebSockets();
      await waitFor(() => !stack.sidecar.status().ari.connected, 1000, 'socket down');
      await waitFor(() => stack.sidecar.status().ari.connected, 3000, 'socket back');
      const ended = await stack.waitEnded(commands.map((c) => c.call_id));
      for (const c of commands) {
        expect(ended.get(c.call_id)).toMatchObject({
          status: 'completed',
          reason: 'normal',
          hangup_cause: 16,
        });
        expect(expectWellFormedCall(stack.api.byCall(c.call_id))).toBeNull();
      }
      const metrics = await (await fetch(`${stack.sidecar.url}/metrics`)).text();
      expect(metrics).toMatch(/sidecar_ari_websocket_reconnects_total [1-9]/);
    } finally {
      await stack.stop();
    }
  });

  test('another client taking our app name over: not ready, and calls wait instead of ringing blind', async () => {
    const stack = await startStack();
    try {
      const thief = new WebSocket(
        `${stack.sim.url.replace('http', 'ws')}/ari/events?app=contactcenter&subscribeAll=true`,
        {
          headers: { authorization: `Basic ${btoa('ariuser:aripass')}` },
        } as unknown as string[],
      );
      await waitFor(() => !stack.sidecar.status().ari.connected, 2000, 'app replaced');
      const ready = await fetch(`${stack.sidecar.url}/readiness`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ checks: { events_socket: { ok: false } } });
      const command = originateCommand('5551234000');
      expect((await stack.signer.originate(command)).json).toMatchObject({ outcome: 'queued' });
      expect(stack.sim.originates.length).toBe(0);
      thief.close();
    } finally {
      await stack.stop();
    }
  });

  test('a call that ends while the socket is down is resolved by reconciliation as lost', async () => {
    const stack = await startStack({ sim: { timeScale: 0.05 } });
    try {
      const command = originateCommand('5551234005', { timeout_ms: 60_000 });
      await stack.signer.originate(command);
      await stack.api.waitFor(
        () => stack.api.byCall(command.call_id).some((e) => e.status === 'answered'),
        3000,
      );
      // While the socket is down, the channel goes away behind our back.
      stack.sim.dropWebSockets();
      await fetch(`${stack.sim.url}/ari/channels/${command.call_id}`, {
        method: 'DELETE',
        headers: { authorization: `Basic ${btoa('ariuser:aripass')}` },
      });
      const ended = await stack.waitEnded([command.call_id], 5000);
      expect(ended.get(command.call_id)).toMatchObject({
        status: 'failed',
        reason: 'lost',
        hangup_cause: null,
      });
    } finally {
      await stack.stop();
    }
  });

  test('Asterisk restart with live calls: they end failed/lost within the reconciliation interval', async () => {
    const stack = await startStack({
      sim: { timeScale: 0.1 },
      config: { ariOriginateStyle: 'stasis', reconcileIntervalMs: 1000 },
    });
    try {
      // Stasis answer-and-stay: the callee stays 6 s here, far longer than the test.
      const commands = Array.from({ length: 4 }, () => originateCommand('5551234005'));
      await Promise.all(commands.map((c) => stack.signer.originate(c)));
      await stack.api.waitFor(
        () => commands.every((c) => stack.api.byCall(c.call_id).some((e) => e.status === 'answered')),
        5000,
        'answered',
      );
      const restartedAt = Date.now();
      await stack.sim.restart({ downMs: 300 });
      const ended = await stack.waitEnded(
        commands.map((c) => c.call_id),
        3000,
      );
      expect(Date.now() - restartedAt).toBeLessThan(300 + stack.config.reconcileIntervalMs + 1000);
      for (const c of commands) {
        expect(ended.get(c.call_id)).toMatchObject({ status: 'failed', reason: 'lost' });
        expect(expectWellFormedCall(stack.api.byCall(c.call_id))).toBeNull();
      }
      // Nothing stays ringing or answered, and the sidecar takes calls again.
      expect(stack.sidecar.status().live_calls).toBe(0);
      await waitFor(() => stack.sidecar.status().ari.connected, 3000, 'reconnected');
      const after = originateCommand('5551234004');
      expect((await stack.signer.originate(after)).json).toMatchObject({ outcome: 'dialing' });
      expect((await stack.waitEnded([after.call_id])).get(after.call_id)!.status).toBe('completed');
    } finally {
      await stack.stop();
    }
  });
});

describe('resync after the events socket reconnects', () => {
  test('is retried with backoff until it succeeds: calls whose channels vanished end lost at once', async () => {
    // The interval is far away: only the resync on reconnect can settle the calls in time.
    const stack = await startStack({
      sim: { timeScale: 0.1 },
      config: { ariOriginateStyle: 'stasis', reconcileIntervalMs: 60_000 },
    });
    try {
      const commands = Array.from({ length: 3 }, () => originateCommand('5551234005'));
      await Promise.all(commands.map((c) => stack.signer.originate(c)));
      await stack.api.waitFor(
        () => commands.every((c) => stack.api.byCall(c.call_id).some((e) => e.status === 'answered')),
        5000,
        'answered',
      );
      // Asterisk restarts; once back, its channel list fails a few times more (still starting).
      stack.sim.setHttpFault({ kind: 'status', status: 503, count: 4, paths: /^GET \/ari\/channels$/ });
      await stack.sim.restart({ downMs: 300 });
      const ended = await stack.waitEnded(
        commands.map((c) => c.call_id),
        4000,
      );
      for (const c of commands) {
        expect(ended.get(c.call_id)).toMatchObject({ status: 'failed', reason: 'lost' });
        expect(expectWellFormedCall(stack.api.byCall(c.call_id))).toBeNull();
      }
    } finally {
      await stack.stop();
    }
  });

  test('a breaker opened during the outage does not hold the resync back for its whole delay', async () => {
    // Reconciliation fails while Asterisk is down and opens the breaker, which would wait 30 s.
    const stack = await startStack({
      sim: { timeScale: 0.1 },
      config: {
        ariOriginateStyle: 'stasis',
        reconcileIntervalMs: 200,
        breakerFailures: 2,
        breakerHalfOpenAfterMs: 30_000,
      },
    });
    try {
      const commands = Array.from({ length: 2 }, () => originateCommand('5551234005'));
      await Promise.all(commands.map((c) => stack.signer.originate(c)));
      await stack.api.waitFor(
        () => commands.every((c) => stack.api.byCall(c.call_id).some((e) => e.status === 'answered')),
        5000,
        'answered',
      );
      const restarting = stack.sim.restart({ downMs: 1500 });
      await waitFor(() => stack.sidecar.status().ari.breaker === 'open', 3000, 'breaker open');
      await restarting;
      // The reconnect lets the breaker test ARI at once; the resync then settles the lost calls.
      const ended = await stack.waitEnded(
        commands.map((c) => c.call_id),
        4000,
      );
      for (const c of commands)
        expect(ended.get(c.call_id)).toMatchObject({ status: 'failed', reason: 'lost' });
      expect(stack.sidecar.status().ari.breaker).toBe('closed');
      const after = originateCommand('5551234000');
      expect((await stack.signer.originate(after)).json).toMatchObject({ outcome: 'dialing' });
    } finally {
      await stack.stop();
    }
  });
});

describe('Asterisk shutting down with live calls (recording 70)', () => {
  test('hangups with the shutdown bit arrive before the sockets drop: answered calls end pbx_shutdown', async () => {
    const stack = await startStack({ sim: { timeScale: 0.1 }, config: { ariOriginateStyle: 'stasis' } });
    try {
      const commands = Array.from({ length: 2 }, () => originateCommand('5551234005'));
      await Promise.all(commands.map((c) => stack.signer.originate(c)));
      await stack.api.waitFor(
        () => commands.every((c) => stack.api.byCall(c.call_id).some((e) => e.status === 'answered')),
        5000,
        'answered',
      );
      await stack.sim.restart({ downMs: 100, withLiveCallDelayMs: 200 });
      const ended = await stack.waitEnded(
        commands.map((c) => c.call_id),
        5000,
      );
      for (const c of commands) {
        expect(ended.get(c.call_id)).toMatchObject({
          status: 'completed',
          reason: 'pbx_shutdown',
          hangup_cause: 0,
        });
      }
    } finally {
      await stack.stop();
    }
  });
});

describe('event delivery', () => {
  test('API down for a while: every event arrives after it returns, in order per call, none twice', async () => {
    const stack = await startStack();
    try {
      await stack.api.down();
      const commands = ['5551234000', '5551234001', '5551234004', '5551234007', '5551234008'].map((n) =>
        originateCommand(n),
      );
      await Promise.all(commands.map((c) => stack.signer.originate(c)));
      await waitFor(() => stack.sim.liveChannels() === 0, 5000, 'calls over at the PBX');
      await Bun.sleep(300);
      expect(stack.api.events.length).toBe(0);
      expect(stack.sidecar.status().outbox_depth).toBeGreaterThan(10);
      await stack.api.up();
      await stack.waitEnded(
        commands.map((c) => c.call_id),
        5000,
      );
      for (const c of commands) expect(expectWellFormedCall(stack.api.byCall(c.call_id))).toBeNull();
      expect(stack.api.duplicates).toEqual([]);
      await waitFor(() => stack.sidecar.status().outbox_depth === 0, 2000, 'outbox empty');
    } finally {
      await stack.stop();
    }
  });

  test('500 and 401 answers are retried; a batch refused as malformed is dead-lettered, the rest flows', async () => {
    const stack = await startStack();
    try {
      stack.api.mode = 'fail500';
      const a = originateCommand('5551234001');
      await stack.signer.originate(a);
      await waitFor(() => stack.sim.liveChannels() === 0, 3000);
      await Bun.sleep(200);
      stack.api.mode = 'refuse401';
      await Bun.sleep(200);
      expect(stack.api.events.length).toBe(0);
      // One event the API will always refuse: the busy call's end.
      stack.api.poison = (e) => e.call_id === a.call_id && e.type === 'ended';
      stack.api.mode = 'ok';
      const b = originateCommand('5551234007');
      await stack.signer.originate(b);
      await stack.waitEnded([b.call_id], 5000);
      await waitFor(() => stack.sidecar.status().outbox_depth === 0, 3000, 'outbox drained');
      expect(stack.api.byCall(a.call_id).map((e) => e.type)).toEqual(['dialing']);
      expect(expectWellFormedCall(stack.api.byCall(b.call_id))).toBeNull();
      const metrics = await (await fetch(`${stack.sidecar.url}/metrics`)).text();
      expect(metrics).toContain('sidecar_outbox_dead_letters 1');
      expect(stack.api.refusedSignatures).toBeGreaterThan(0);
    } finally {
      await stack.stop();
    }
  });
});

describe('restart of the sidecar (graceful)', () => {
  test('state and used jtis survive; a command replayed after the restart is refused', async () => {
    const stack = await startStack({ sim: { timeScale: 0.1 } });
    try {
      const command = originateCommand('5551234005', { timeout_ms: 60_000 });
      const first = await stack.signer.send('POST', SIDECAR_PATHS.originate, command);
      expect(first.json).toMatchObject({ outcome: 'dialing' });
      await stack.api.waitFor(
        () => stack.api.byCall(command.call_id).some((e) => e.status === 'answered'),
        3000,
      );
      await stack.sidecar.stop();
      await stack.restartSidecar();
      const replay = await stack.signer.send('POST', SIDECAR_PATHS.originate, command, {
        token: first.token,
      });
      expect(replay.status).toBe(401);
      // The call was followed across the restart: it ends normally, once.
      const ended = await stack.waitEnded([command.call_id], 5000);
      expect(ended.get(command.call_id)).toMatchObject({ status: 'completed', reason: 'normal' });
      expect(expectWellFormedCall(stack.api.byCall(command.call_id))).toBeNull();
      expect(stack.sim.originates.filter((o) => o.channelId === command.call_id).length).toBe(1);
    } finally {
      await stack.stop();
    }
  });
});
