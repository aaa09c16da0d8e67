import { describe, expect, test } from 'bun:test';
import { generateSigningJwk, loadSigningKey } from '../shared/base/keys.ts';
import { signWebhook, verifyWebhook } from './signature.ts';

const key = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
const other = await loadSigningKey(JSON.stringify(await generateSigningJwk()), key.kid);
const body = JSON.stringify({ type: 'call.status', call: { status: 'completed' } });

describe('webhook signatures', () => {
  test('a fresh signature verifies with the published key', async () => {
    const header = await signWebhook(key, body);
    expect(header).toMatch(/^t=\d+,kid=[\w-]+,v1=[\w-]+$/);
    expect(await verifyWebhook({ header, body, keys: [key.publicJwk] })).toMatchObject({
      ok: true,
      kid: key.kid,
    });
  });

  test('forged, tampered, stale, unknown key and malformed headers fail', async () => {
    const header = await signWebhook(key, body);
    const forged = await signWebhook(other, body);
    expect(await verifyWebhook({ header: forged, body, keys: [key.publicJwk] })).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    expect(
      await verifyWebhook({ header, body: body.replace('completed', 'failed'), keys: [key.publicJwk] }),
    ).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    const old = await signWebhook(key, body, new Date(Date.now() - 10 * 60_000));
    expect(await verifyWebhook({ header: old, body, keys: [key.publicJwk] })).toEqual({
      ok: false,
      reason: 'stale timestamp',
    });
    expect(await verifyWebhook({ header, body, keys: [] })).toEqual({ ok: false, reason: 'unknown key' });
    for (const bad of [null, '', 't=1', 'v1=abc', 'garbage']) {
      expect((await verifyWebhook({ header: bad, body, keys: [key.publicJwk] })).ok).toBe(false);
    }
    // A signature moved to another timestamp no longer matches.
    const moved = header.replace(/t=(\d+)/, (_, t) => `t=${Number(t) - 1}`);
    expect((await verifyWebhook({ header: moved, body, keys: [key.publicJwk] })).ok).toBe(false);
  });
});
