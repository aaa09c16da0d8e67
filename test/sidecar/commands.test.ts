import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { SIDECAR_PATHS, SidecarStatus, TYP_EVENTS } from '../../api/shared/contract/index.ts';
import { keyPair, originateCommand } from '../harness/channel.ts';
import { waitFor } from '../harness/util.ts';
import { expectWellFormedCall, type Stack, startStack } from './stack.ts';

/** The signed command channel, repeated commands, 409, hang-up, status and the plain endpoints. */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ sim: { timeScale: 0.05 } });
});
afterAll(async () => {
  await stack.stop();
});

const ari = (path: string, init: RequestInit = {}) =>
  fetch(`${stack.sim.url}/ari${path}`, {
    ...init,
    headers: { authorization: `Basic ${btoa('ariuser:aripass')}`, ...(init.headers ?? {}) },
  });

describe('signed commands', () => {
  test('forged, replayed, expired, tampered, misdirected or mistyped commands are refused and change nothing', async () => {
    const path = SIDECAR_PATHS.originate;
    // A valid command first; its exact request is replayed below.
    const valid = originateCommand('5551234001');
    const first = await stack.signer.send('POST', path, valid);
    expect(first.json).toMatchObject({ outcome: 'dialing' });
    await stack.waitEnded([valid.call_id]);
    // The API has the call's end; wait for the sidecar to have its ack too, so that the baseline
    // below is one the refused commands could change, and nothing else still does.
    await waitFor(() => stack.sidecar.status().outbox_depth === 0, 3000, 'outbox drained');
    const before = { originates: stack.sim.originates.length, status: stack.sidecar.status() };
    const stranger = await keyPair();
    const refused: Array<[string, Awaited<ReturnType<typeof stack.signer.send>>]> = [];

    refused.push([
      'forged',
      await stack.signer.send('POST', path, originateCommand('5551234000'), { key: stranger.key }),
    ]);
    refused.push(['replayed', await stack.signer.send('POST', path, valid, { token: first.token })]);
    refused.push([
      'expired',
      await stack.signer.send('POST', path, originateCommand('5551234000'), {
        now: new Date(Date.now() - 120_000),
        ttlSeconds: 30,
      }),
    ]);
    const signed = originateCommand('5551234000');
    refused.push([
      'body tampered',
      await stack.signer.send('POST', path, signed, {
        sendBody: JSON.stringify({ ...signed, phone_number: '5551234999' }),
      }),
    ]);
    refused.push([
      'signed for another path',
      await stack.signer.send('POST', path, originateCommand('5551234000'), {
        signPath: SIDECAR_PATHS.hangup,
      }),
    ]);
    refused.push([
      'another audience',
      await stack.signer.send('POST', path, originateCommand('5551234000'), {
        audience: 'sidecar:someone-else',
      }),
    ]);
    refused.push([
      'an event token',
      await stack.signer.send('POST', path, originateCommand('5551234000'), { typ: TYP_EVENTS }),
    ]);
    refused.push([
      'lives too long',
      await stack.signer.send('POST', path, originateCommand('5551234000'), { ttlSeconds: 3600 }),
    ]);
    const unsigned = await fetch(`${stack.sidecar.url}${path}`, {
      method: 'POST',
      body: JSON.stringify(originateCommand('5551234000')),
    });

    for (const [what, reply] of refused) {
      expect({ what, status: reply.status }).toEqual({ what, status: 401 });
      expect(reply.headers.get('content-type')).toBe('application/problem+json');
      expect(reply.json).toMatchObject({ status: 401, code: 'unauthorized', type: expect.any(String) });
    }
    expect(unsigned.status).toBe(401);
    expect(stack.sim.originates.length).toBe(before.originates);
    expect(stack.sidecar.status()).toEqual(before.status);
    const metrics = await (await fetch(`${stack.sidecar.url}/metrics`)).text();
    expect(metrics).toContain('sidecar_commands_total{command="originate",result="unauthorized"}');
  });

  test('a bad body is 400 or 422 problem+json; unknown paths 404; wrong methods 405', async () => {
    const bad = await stack.signer.send('POST', SIDECAR_PATHS.originate, '{not json');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'invalid_json' });
    const invalid = await stack.signer.send('POST', SIDECAR_PATHS.originate, {
      ...originateCommand('5551234000'),
      phone_number: '+1-555-12;34@x',
    });
    expect(invalid.status).toBe(422);
    expect(invalid.json).toMatchObject({ code: 'invalid_command', errors: [{ path: 'phone_number' }] });
    expect((await fetch(`${stack.sidecar.url}/v1/nothing`)).status).toBe(404);
    expect((await fetch(`${stack.sidecar.url}${SIDECAR_PATHS.originate}`)).status).toBe(405);
  });

  test('status is signed like a command and matches its schema', async () => {
    const reply = await stack.signer.send('GET', SIDECAR_PATHS.status);
    expect(reply.status).toBe(200);
    const status = SidecarStatus.parse(reply.json);
    expect(status).toMatchObject({
      sidecar_id: stack.config.sidecarId,
      ari: { connected: true, breaker: 'closed', reachable: true, error: null, events_socket: 'open' },
    });
  });
});

describe('originate', () => {
  test('a repeated command never rings twice: it answers the call state', async () => {
    const command = originateCommand('5551234005');
    const replies = await Promise.all([stack.signer.originate(command), stack.signer.originate(command)]);
    expect(replies.map((r) => (r.json as { outcome: string }).outcome).sort()).toEqual([
      'dialing',
      'dialing',
    ]);
    const again = await stack.signer.originate(command);
    expect(again.json).toMatchObject({ outcome: 'dialing', call_id: command.call_id });
    await stack.waitEnded([command.call_id]);
    const finished = await stack.signer.originate(command);
    expect(finished.json).toEqual({ outcome: 'finished', call_id: command.call_id, status: 'completed' });
    expect(stack.sim.originates.filter((o) => o.channelId === command.call_id).length).toBe(1);
  });

  test('ARI 409 for an id it already has: the existing channel is read and followed', async () => {
    const command = originateCommand('5551234005');
    // Someone (a previous life of this sidecar, say) already created the channel.
    const pre = await ari(
      `/channels?endpoint=${encodeURIComponent('Local/5551234005@sim-callee')}&extension=s&context=outbound-ivr&priority=1&channelId=${command.call_id}`,
      { method: 'POST' },
    );
    expect(pre.status).toBe(200);
    const reply = await stack.signer.originate(command);
    expect(reply.json).toMatchObject({
      outcome: 'dialing',
      channel: expect.stringContaining('Local/5551234005'),
    });
    const attempts = stack.sim.originates.filter((o) => o.channelId === command.call_id);
    expect(attempts.map((o) => o.status)).toEqual([200, 409]);
    const ended = await stack.waitEnded([command.call_id]);
    expect(ended.get(command.call_id)).toMatchObject({
      status: 'completed',
      reason: 'normal',
      hangup_cause: 16,
    });
    expect(expectWellFormedCall(stack.api.byCall(command.call_id))).toBeNull();
  });

  test('the traceparent, caller id and variables reach the channel; a caller variable shadows nothing', async () => {
    const command = originateCommand('5551234002', {
      timeout_ms: 60_000,
      // A dialplan global, an Asterisk variable that steers Dial, and the one the sidecar sets itself.
      variables: {
        CC_CAMPAIGN: '42',
        OUTBOUND_PROMPT: 'tt-monkeys',
        TRANSFER_CONTEXT: 'from-internal',
        TRACEPARENT: 'x',
      },
    });
    await stack.signer.originate(command);
    const read = async (name: string) => {
      const res = await ari(`/channels/${command.call_id}/variable?variable=${encodeURIComponent(name)}`);
      return res.status === 200 ? ((await res.json()) as { value: string }).value : null;
    };
    expect(await read('TRACEPARENT')).toBe(command.traceparent!);
    expect(await read('CALLERID(num)')).toBe('5550001111');
    // Caller variables live in their own namespace, under OUTDIAL_VAR_.
    expect(await read('OUTDIAL_VAR_CC_CAMPAIGN')).toBe('42');
    expect(await read('OUTDIAL_VAR_OUTBOUND_PROMPT')).toBe('tt-monkeys');
    expect(await read('OUTDIAL_VAR_TRACEPARENT')).toBe('x');
    for (const name of ['CC_CAMPAIGN', 'OUTBOUND_PROMPT', 'TRANSFER_CONTEXT'])
      expect(await read(name)).toBeNull();
    expect((await stack.signer.hangup(command.call_id)).json).toEqual({
      call_id: command.call_id,
      outcome: 'hanging_up',
    });
    await stack.waitEnded([command.call_id]);
  });

  test('without a traceparent, a caller variable named TRACEPARENT does not pass for one', async () => {
    const { traceparent: _, ...rest } = originateCommand('5551234002', { timeout_ms: 60_000 });
    const command = { ...rest, variables: { TRACEPARENT: '00-forged' } };
    await stack.signer.originate(command);
    const res = await ari(`/channels/${command.call_id}/variable?variable=TRACEPARENT`);
    expect(res.status).toBe(404);
    await stack.signer.hangup(command.call_id);
    await stack.waitEnded([command.call_id]);
  });
});

describe('hangup', () => {
  test('while ringing: canceled, reason hangup_requested', async () => {
    const command = originateCommand('5551234002', { timeout_ms: 60_000 });
    await stack.signer.originate(command);
    await stack.api.waitFor(
      () => stack.api.byCall(command.call_id).some((e) => e.status === 'ringing'),
      5000,
      'ringing',
    );
    const reply = await stack.signer.hangup(command.call_id);
    expect(reply.json).toEqual({ call_id: command.call_id, outcome: 'hanging_up' });
    const ended = await stack.waitEnded([command.call_id]);
    expect(ended.get(command.call_id)).toMatchObject({
      status: 'canceled',
      reason: 'hangup_requested',
      hangup_cause: 16,
      dial_status: 'NOANSWER',
    });
  });

  test('after answer: completed, reason hangup_requested', async () => {
    const command = originateCommand('5551234005', { context: 'outbound-ivr', extension: 'play' });
    // Answer-and-stay with a Stasis-free dialplan that plays a prompt: hang up once answered.
    await stack.signer.originate(command);
    await stack.api.waitFor(
      () => stack.api.byCall(command.call_id).some((e) => e.status === 'answered'),
      5000,
      'answered',
    );
    await stack.signer.hangup(command.call_id);
    const ended = await stack.waitEnded([command.call_id]);
    expect(ended.get(command.call_id)).toMatchObject({ status: 'completed', reason: 'hangup_requested' });
  });

  test('unknown or finished calls: not_found', async () => {
    expect((await stack.signer.hangup(crypto.randomUUID())).json).toMatchObject({ outcome: 'not_found' });
  });

  test('a hang-up that overtakes its originate keeps the phone from ringing', async () => {
    const command = originateCommand('5551234000');
    const before = stack.sim.originates.length;
    expect((await stack.signer.hangup(command.call_id)).json).toMatchObject({ outcome: 'not_found' });
    const late = await stack.signer.originate(command);
    expect(late.json).toEqual({ outcome: 'finished', call_id: command.call_id, status: 'canceled' });
    await Bun.sleep(100);
    expect(stack.sim.originates.length).toBe(before);
    expect(stack.sim.originates.some((o) => o.channelId === command.call_id)).toBe(false);
  });
});

describe('plain endpoints', () => {
  test('health, readiness and metrics', async () => {
    expect(await (await fetch(`${stack.sidecar.url}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${stack.sidecar.url}/readiness`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { ari: { ok: true }, breaker: { ok: true }, events_socket: { ok: true } },
    });
    await waitFor(() => stack.sidecar.status().outbox_depth === 0, 3000, 'outbox drained');
    const text = await (await fetch(`${stack.sidecar.url}/metrics`)).text();
    for (const name of [
      'sidecar_ari_requests_total{method="POST",route="/channels",status="200"}',
      'sidecar_ari_request_duration_seconds_bucket',
      'sidecar_ari_websocket_connected 1',
      'sidecar_ari_websocket_reconnects_total',
      'sidecar_breaker_state 0',
      'sidecar_outbox_depth 0',
      'sidecar_outbox_dead_letters 0',
      'sidecar_pacing_queue_depth 0',
      'sidecar_live_channels',
      'sidecar_event_lag_seconds_count',
      'sidecar_ari_events_total{type="ChannelDestroyed"}',
      'sidecar_originates_total{outcome="dialing"}',
      'sidecar_commands_total{command="originate",result="dialing"}',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).not.toContain('aripass');
  });
});
