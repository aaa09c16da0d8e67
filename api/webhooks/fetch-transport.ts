import { checkWebhookUrl } from './policy.ts';
import { WebhookRefusedError, type WebhookTransport } from './transport.ts';

/**
 * Webhook transport over the platform's fetch, for runtimes without a DNS API (Workers). The URL
 * policy (https only, no literal private or loopback addresses, no `localhost`) still applies; names
 * are not resolved here, so deployments there rely on the platform's egress, which cannot reach private
 * networks. Redirects are never followed.
 */
export function createFetchTransport(options: {
  allowLoopback: boolean;
  fetch?: typeof fetch;
}): WebhookTransport {
  const doFetch = options.fetch ?? fetch;
  return {
    async post(url, body, headers, timeoutMs) {
      const why = checkWebhookUrl(url, options.allowLoopback);
      if (why) throw new WebhookRefusedError(why);
      const res = await doFetch(url, {
        method: 'POST',
        body,
        headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel().catch(() => undefined);
      return { status: res.status };
    },
  };
}
