import type { Config } from '../config.ts';
import { addressRefusal, isIpLiteral, isLoopback } from './addresses.ts';

/** What a webhook URL may name. */
export interface WebhookPolicy {
  /** Development switch: `http`, loopback addresses and `localhost`, on any port. */
  allowLoopback: boolean;
  /** Ports a URL may name; a URL that names none uses its scheme's (443 for https). */
  allowedPorts: readonly number[];
}

export function webhookPolicy(
  config: Pick<Config, 'WEBHOOK_ALLOW_LOOPBACK' | 'WEBHOOK_ALLOWED_PORTS'>,
): WebhookPolicy {
  return { allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK, allowedPorts: config.WEBHOOK_ALLOWED_PORTS };
}

/**
 * Special-use names that never lead to the public internet, refused with all their subdomains.
 * Only `localhost` is let through by the development switch.
 */
const SPECIAL_NAMES: ReadonlyArray<{ name: string; what: string; loopback?: true }> = [
  { name: 'localhost', what: 'a loopback name', loopback: true }, // RFC 6761
  { name: 'local', what: 'a multicast DNS name' }, // RFC 6762
  { name: 'internal', what: 'a private-use name' }, // ICANN, 2024 (metadata.google.internal)
  { name: 'home.arpa', what: 'a home network name' }, // RFC 8375
];

/** Why a webhook URL is refused, or null when it may be used. */
export function checkWebhookUrl(raw: string, policy: WebhookPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'https:' && !(policy.allowLoopback && url.protocol === 'http:'))
    return 'only https URLs are allowed';
  if (url.username || url.password) return 'credentials in the URL are not allowed';
  // URL parsing has already lower-cased the name, decoded it and turned numeric spellings of an
  // IPv4 address (2130706433, 0x7f.1, 127.1) into dotted quads; a name may still end in dots.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let loopback: boolean;
  if (isIpLiteral(host)) {
    const why = checkAddress(host, policy.allowLoopback);
    if (why) return why;
    loopback = isLoopback(host);
  } else {
    const name = host.replace(/\.+$/, '');
    if (name === '' || name.split('.').includes('')) return `"${host}" is not a valid host name`;
    const special = SPECIAL_NAMES.find((s) => name === s.name || name.endsWith(`.${s.name}`));
    if (special && !(special.loopback && policy.allowLoopback)) return `"${host}" is ${special.what}`;
    if (!special && !name.includes('.')) return 'the host must be a fully qualified name';
    loopback = special?.loopback === true;
  }
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (!policy.allowedPorts.includes(port) && !(policy.allowLoopback && loopback))
    return `port ${port} is not allowed (allowed: ${policy.allowedPorts.join(', ')})`;
  return null;
}

/** Why a resolved address is refused, or null. Loopback is allowed only with the development switch. */
export function checkAddress(ip: string, allowLoopback: boolean): string | null {
  if (allowLoopback && isLoopback(ip)) return null;
  const why = addressRefusal(ip);
  return why ? `${ip} is ${why}` : null;
}
