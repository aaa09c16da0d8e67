import { isBlockedAddress, isIpLiteral, isLoopback } from './addresses.ts';

/** Why a webhook URL or address is refused, or null when it may be used. */
export function checkWebhookUrl(raw: string, allowLoopback: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'https:' && !(allowLoopback && url.protocol === 'http:'))
    return 'only https URLs are allowed';
  if (url.username || url.password) return 'credentials in the URL are not allowed';
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost'))
    return allowLoopback ? null : 'loopback addresses are not allowed';
  if (isIpLiteral(host)) return checkAddress(host, allowLoopback);
  if (!host.includes('.')) return 'the host must be a fully qualified name';
  return null;
}

/** Why a resolved address is refused, or null. Loopback is allowed only with the development switch. */
export function checkAddress(ip: string, allowLoopback: boolean): string | null {
  if (allowLoopback && isLoopback(ip)) return null;
  return isBlockedAddress(ip) ? `${ip} is a private, loopback, link-local or reserved address` : null;
}
