import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { SigningKey } from '../../api/shared/base/keys.ts';
import { signChannelMessage } from '../../api/shared/base/signing.ts';
import {
  API_EVENTS_PATH,
  type CallEventInput,
  SIDECAR_PATHS,
  TYP_COMMAND,
  TYP_EVENTS,
} from '../../api/shared/contract/index.ts';
import { startAriSimulator } from '../../asterisk/sim/server.ts';
import { keyPair, originateCommand } from '../harness/channel.ts';
import { type E2EStack, startE2EStack } from '../harness/e2e.ts';
import type { TestUser } from '../harness/stack.ts';
import { waitFor } from '../harness/util.ts';

/**
 * Forged, replayed, expired and body-tampered messages on both halves of the channel: commands
 * to the real sidecar, event batches to the real API. Each is refused (401) and changes nothing:
 * no originate at ARI, no hang-up, no event in any call's log.
 */

let sim: Awaited<ReturnType<typeof startAriSimulator>>;
let stack: E2EStack;
let op: TestUser;
// A call that stays up (stasis style: until the callee hangs up after 61 s × time scale).
let live: string;

beforeAll(async () => {
  sim = await startAriSimulator({ port: 0, timeScale: 0.2 });
  stack = await startE2EStack({ ari: sim, tapEvents: true, sidecar: { ariOriginateStyle: 'stasis' } });
  op = await stack.user('operator');
  const res = await stack.placeCall(op, { phone_number: '5551234005' });
  live = res.body.call_id as string;
  await stack.waitCall(op, live, (c) => c.status === 'answered', 5000, 'the call answered');
});
afterAll(async () => {
  await stack.stop();
  await sim.stop();
});

async function snapshot() {
  const call = await stack.getCall(op, live);
  const events = await stack.events(op, live);
  return {
    status: call.status,
    reason: call.reason,
    events: events.map((e) => `${e.sequence}:${e.type}`),
    originates: sim.originates.length,
    channels: sim.liveChannels(),
    sidecar: await stack.sidecar.status().then((s) => [s.live_calls, s.queued_calls]),
  };
}

describe('commands to the real sidecar', () => {
  test('forged: signed by a key the sidecar does not trust', async () => {
    const before = await snapshot();
    const stranger = await keyPair();
    const command = originateCommand('5551234000');
    const originate = await stack.signer.send('POST', SIDECAR_PATHS.originate, command, {
      key: stranger.key,
    });
    expect(originate.status).toBe(401);
    const hangup = await stack.signer.send(
      'POST',
      SIDECAR_PATHS.hangup,
      { call_id: live, requested_at: new Date().toISOString() },
      { key: stranger.key },
    );
    expect(hangup.status).toBe(401);
    // The API's own key, but addressed to another sidecar.
    const elsewhere = await stack.signer.send(
      'POST',
      SIDECAR_PATHS.hangup,
      { call_id: live, requested_at: new Date().toISOString() },
      { audience: 'sidecar:another' },
    );
    expect(elsewhere.status).toBe(401);
    expect(sim.originates.some((o) => o.channelId === command.call_id)).toBe(false);
    expect(await snapshot()).toEqual(before);
  });

  test('replayed: a command accepted once is refused the second time', async () => {
    const before = await snapshot();
    // The originate the API sent for `live`, sent again: the sidecar answers from what it knows
    // (no second originate at ARI); the same token a second time is refused outright.
    const first = await stack.signer.send('POST', SIDECAR_PATHS.originate, {
      ...originateCommand('5551234005'),
      call_id: live,
    });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ outcome: 'dialing', call_id: live });
    const replay = await fetch(`${stack.sidecar.url}${SIDECAR_PATHS.originate}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...originateCommand('5551234005'), call_id: live }),
    });
    expect(replay.status).toBe(401);
    expect(sim.originates.filter((o) => o.channelId === live).length).toBe(1);
    expect(await snapshot()).toEqual(before);
  });

  test('expired: signed for a lifetime that is over', async () => {
    const before = await snapshot();
    const command = originateCommand('5551234000');
    const expired = await stack.signer.send('POST', SIDECAR_PATHS.originate, command, {
      now: new Date(Date.now() - 5 * 60_000),
      ttlSeconds: 30,
    });
    expect(expired.status).toBe(401);
    const hangup = await stack.signer.send(
      'POST',
      SIDECAR_PATHS.hangup,
      { call_id: live, requested_at: new Date().toISOString() },
      { now: new Date(Date.now() - 5 * 60_000), ttlSeconds: 30 },
    );
    expect(hangup.status).toBe(401);
    expect(sim.originates.some((o) => o.channelId === command.call_id)).toBe(false);
    expect(await snapshot()).toEqual(before);
  });

  test('body-tampered: the signature covers another body', async () => {
    const before = await snapshot();
    const signed = originateCommand('5551234000');
    const sent = { ...signed, phone_number: '5551234009', call_id: crypto.randomUUID() };
    const res = await stack.signer.send('POST', SIDECAR_PATHS.originate, signed, {
      sendBody: JSON.stringify(sent),
    });
    expect(res.status).toBe(401);
    // A hang-up signed for one call and sent for the live one.
    const hangup = await stack.signer.send(
      'POST',
      SIDECAR_PATHS.hangup,
      { call_id: crypto.randomUUID(), requested_at: new Date().toISOString() },
      { sendBody: JSON.stringify({ call_id: live, requested_at: new Date().toISOString() }) },
    );
    expect(hangup.status).toBe(401);
    for (const id of [signed.call_id, sent.call_id]) {
      expect(sim.originates.some((o) => o.channelId === id)).toBe(false);
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('event batches to the real API', () => {
  const endOf = (callId: string, eventId = `forged:${crypto.randomUUID()}`): CallEventInput => ({
    event_id: eventId,
    call_id: callId,
    seq: 99,
    type: 'ended',
    status: 'failed',
    occurred_at: new Date().toISOString(),
    reason: 'congestion',
    hangup_cause: 34,
  });

  async function post(
    events: CallEventInput[],
    sign: { key?: SigningKey; now?: Date; ttlSeconds?: number; typ?: string; signedBody?: string } = {},
  ) {
    const body = JSON.stringify({ sidecar_id: stack.sidecar.id, batch_id: crypto.randomUUID(), events });
    const token = await signChannelMessage({
      key: sign.key ?? stack.sidecarKey.key,
      issuer: `sidecar:${stack.sidecar.id}`,
      audience: stack.api.services.config.JWT_ISSUER,
      typ: sign.typ ?? TYP_EVENTS,
      method: 'POST',
      path: API_EVENTS_PATH,
      body: sign.signedBody ?? body,
      ...(sign.now ? { now: sign.now } : {}),
      ...(sign.ttlSeconds !== undefined ? { ttlSeconds: sign.ttlSeconds } : {}),
    });
    return fetch(`${stack.apiUrl}${API_EVENTS_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
  }

  test('forged: signed by a key that is not the sidecar’s, or as a command', async () => {
    const before = await snapshot();
    const stranger = await keyPair();
    expect((await post([endOf(live)], { key: stranger.key })).status).toBe(401);
    expect((await post([endOf(live)], { typ: TYP_COMMAND })).status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });

  test('replayed: a batch the real sidecar delivered, sent again byte for byte', async () => {
    const before = await snapshot();
    const delivered = stack.tap!.batches.find(
      (b) => b.status === 200 && b.events.some((e) => e.call_id === live),
    );
    expect(delivered).toBeDefined();
    const replay = await fetch(`${stack.apiUrl}${API_EVENTS_PATH}`, {
      method: 'POST',
      headers: { authorization: delivered!.authorization, 'content-type': 'application/json' },
      body: delivered!.body,
    });
    expect(replay.status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });

  test('expired: signed with a lifetime that is over', async () => {
    const before = await snapshot();
    const res = await post([endOf(live)], { now: new Date(Date.now() - 10 * 60_000), ttlSeconds: 30 });
    expect(res.status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });

  test('body-tampered: the signature covers another batch', async () => {
    const before = await snapshot();
    const harmless = JSON.stringify({
      sidecar_id: stack.sidecar.id,
      batch_id: crypto.randomUUID(),
      events: [endOf(crypto.randomUUID())],
    });
    expect((await post([endOf(live)], { signedBody: harmless })).status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });

  test('after all that the call still ends normally, through a real hang-up', async () => {
    expect((await stack.hangup(op, live)).status).toBe(202);
    const final = await stack.waitCall(op, live, (c) => c.status === 'completed', 5000, 'completed');
    expect(final.reason).toBe('hangup_requested');
    await waitFor(() => sim.liveChannels() === 0, 5000, 'the channels gone');
  });
});
