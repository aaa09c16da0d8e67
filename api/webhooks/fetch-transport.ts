import { checkWebhookUrl, type WebhookPolicy } from './policy.ts';
import { readLimited, WebhookRefusedError, type WebhookTransport } from './transport.ts';

/**
 * Webhook transport over the platform's fetch, for runtimes without a DNS API (Workers). The URL
 * policy (https only, allowed ports, no literal private or loopback address in any spelling, no
 * special-use name) is checked again before every attempt; names are resolved by the platform, so
 * the addresses they resolve to cannot be checked here. On Cloudflare, a Worker's fetch goes out to
 * the public internet: a private network is reachable only through a binding (Tunnel, VPC), which
 * Outdial does not use. Redirects are never followed.
 */
export function createFetchTransport(options: {
  policy: WebhookPolicy;
  fetch?: typeof fetch;
}): WebhookTransport {
  const doFetch = options.fetch ?? fetch;
  return {
    async exchange(url, body, headers, signal, maxBytes) {
      const why = checkWebhookUrl(url, options.policy);
      if (why) throw new WebhookRefusedError(why);
      const res = await doFetch(url, { method: 'POST', body, headers, redirect: 'manual', signal });
      const chunks = res.body ?? (async function* () {})();
      return {
        status: res.status,
        contentType: res.headers.get('content-type'),
        body: await readLimited(chunks as AsyncIterable<Uint8Array>, maxBytes, () => {
          res.body?.cancel().catch(() => undefined);
        }),
      };
    },
    async post(url, body, headers, signal) {
      const why = checkWebhookUrl(url, options.policy);
      if (why) throw new WebhookRefusedError(why);
      const res = await doFetch(url, { method: 'POST', body, headers, redirect: 'manual', signal });
      await res.body?.cancel().catch(() => undefined);
      return { status: res.status };
    },
  };
}
