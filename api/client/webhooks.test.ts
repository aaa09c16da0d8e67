import { describe, expect, test } from 'bun:test';
import { generateSigningJwk, loadSigningKey } from '../shared/base/keys.ts';
import { signWebhook } from '../webhooks/signature.ts';
import { createOutdialClient } from './client.ts';
import { createWebhookVerifier, SIGNATURE_HEADER, verifyWebhook } from './index.ts';

/** Against signatures the API's own signing code makes (api/webhooks/signature.ts). */
const key = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
// Another key under the same kid: a signer who does not hold the API's private key.
const impostor = await loadSigningKey(JSON.stringify(await generateSigningJwk()), key.kid);
const body = JSON.stringify({ type: 'call.status', call: { call_id: 'c1', status: 'completed' } });

describe('verifyWebhook, as the package exports it', () => {
  test('the header the API sends is the one checked', () => {
    expect(SIGNATURE_HEADER).toBe('Outdial-Signature');
  });

  test('good, tampered body, wrong key, stale and future timestamps', async () => {
    const keys = [key.publicJwk];
    const header = await signWebhook(key, body);
    expect(await verifyWebhook({ header, body, keys })).toEqual({
      ok: true,
      kid: key.kid,
      timestamp: Number(/t=(\d+)/.exec(header)![1]),
    });
    const tampered = body.replace('completed', 'failed');
    expect(await verifyWebhook({ header, body: tampered, keys })).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    expect(await verifyWebhook({ header: await signWebhook(impostor, body), body, keys })).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    const minutes = (m: number) => new Date(Date.now() + m * 60_000);
    for (const at of [minutes(-6), minutes(6)]) {
      expect(await verifyWebhook({ header: await signWebhook(key, body, at), body, keys })).toEqual({
        ok: false,
        reason: 'stale timestamp',
      });
    }
    // Within the tolerance, and a tolerance of one's own.
    expect((await verifyWebhook({ header: await signWebhook(key, body, minutes(-4)), body, keys })).ok).toBe(
      true,
    );
    expect(
      (
        await verifyWebhook({
          header: await signWebhook(key, body, minutes(-4)),
          body,
          keys,
          toleranceSeconds: 60,
        })
      ).ok,
    ).toBe(false);
  });
});

describe('createWebhookVerifier', () => {
  /** A JWKS endpoint serving `current()`, counting reads. */
  function jwksClient(current: () => unknown[]) {
    let reads = 0;
    const client = createOutdialClient({
      baseUrl: 'http://outdial.test',
      fetch: async (request) => {
        expect(new URL(request.url).pathname).toBe('/.well-known/jwks.json');
        reads++;
        return Response.json({ keys: current() });
      },
    });
    return { client, reads: () => reads };
  }

  test('reads the keys once, and again for a kid it has not seen (a rolled key), at most once a minute', async () => {
    const rolled = await loadSigningKey(JSON.stringify(await generateSigningJwk()));
    let published = [key.publicJwk];
    const jwks = jwksClient(() => published);
    const verify = createWebhookVerifier({ client: jwks.client, refetchAfterMs: 0 });
    expect((await verify(await signWebhook(key, body), body)).ok).toBe(true);
    expect((await verify(await signWebhook(key, body), body)).ok).toBe(true);
    expect(jwks.reads()).toBe(1);
    published = [key.publicJwk, rolled.publicJwk];
    expect((await verify(await signWebhook(rolled, body), body)).ok).toBe(true);
    expect(jwks.reads()).toBe(2);

    const slow = jwksClient(() => [key.publicJwk]);
    const limited = createWebhookVerifier({ client: slow.client });
    expect((await limited(await signWebhook(key, body), body)).ok).toBe(true);
    for (let i = 0; i < 5; i++) {
      expect(await limited(await signWebhook(rolled, body), body)).toEqual({
        ok: false,
        reason: 'unknown key',
      });
    }
    expect(slow.reads()).toBe(1);
  });
});
