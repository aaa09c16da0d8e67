import { lookup as dnsLookup } from 'node:dns/promises';
import { Agent, request } from 'undici/index.js';
import { checkAddress, checkWebhookUrl, type WebhookPolicy } from './policy.ts';
import { readLimited, WebhookRefusedError, type WebhookTransport } from './transport.ts';

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Webhook transport for Bun and Node: undici with the address check inside the connection's own DNS
 * lookup, so the address that was checked is the address connected to (no DNS-rebinding window).
 * The URL policy (scheme, port, literal addresses, special-use names) is checked before every attempt.
 * Redirects are never followed; the connect timeout is short and `signal` ends the whole attempt.
 */
export function createUndiciTransport(options: {
  policy: WebhookPolicy;
  resolve?: Resolver;
}): WebhookTransport {
  const resolve = options.resolve ?? systemResolver;
  const refusals = new Map<string, string>();
  const agent = new Agent({
    connect: {
      timeout: 3000,
      lookup(hostname, opts, callback) {
        resolve(hostname).then(
          (addresses) => {
            if (addresses.length === 0) return callback(new Error(`${hostname} did not resolve`), '', 4);
            for (const a of addresses) {
              const why = checkAddress(a.address, options.policy.allowLoopback);
              if (why) {
                refusals.set(hostname, `${hostname} resolves to ${why}`);
                return callback(new WebhookRefusedError(`${hostname} resolves to ${why}`), '', 4);
              }
            }
            const first = addresses[0]!;
            if ((opts as { all?: boolean }).all)
              (callback as unknown as (e: null, a: typeof addresses) => void)(null, addresses);
            else callback(null, first.address, first.family);
          },
          (error) => callback(error, '', 4),
        );
      },
    },
    keepAliveTimeout: 10_000,
  });
  // A function, not a generic arrow: `<T>(` reads as JSX to a .tsx parser (the image check scans so).
  async function guarded<T>(url: string, send: () => Promise<T>): Promise<T> {
    const why = checkWebhookUrl(url, options.policy);
    if (why) throw new WebhookRefusedError(why);
    const host = new URL(url).hostname;
    try {
      return await send();
    } catch (error) {
      const refusal = refusals.get(host);
      if (refusal) {
        refusals.delete(host);
        throw new WebhookRefusedError(refusal);
      }
      throw error;
    }
  }
  return {
    exchange: (url, body, headers, signal, maxBytes) =>
      guarded(url, async () => {
        const res = await request(url, { method: 'POST', body, headers, dispatcher: agent, signal });
        const type = res.headers['content-type'];
        return {
          status: res.statusCode,
          contentType: (Array.isArray(type) ? type[0] : type) ?? null,
          body: await readLimited(res.body, maxBytes, () => res.body.destroy()),
        };
      }),
    async post(url, body, headers, signal) {
      const why = checkWebhookUrl(url, options.policy);
      if (why) throw new WebhookRefusedError(why);
      const host = new URL(url).hostname;
      try {
        const res = await request(url, {
          method: 'POST',
          body,
          headers,
          dispatcher: agent,
          signal,
        });
        await res.body.dump({ limit: 64 * 1024, signal }).catch(() => undefined);
        return { status: res.statusCode };
      } catch (error) {
        const refusal = refusals.get(host);
        if (refusal) {
          refusals.delete(host);
          throw new WebhookRefusedError(refusal);
        }
        throw error;
      }
    },
  };
}
