/**
 * The client's address, for login throttling and the audit log, behind any number of reverse proxies.
 *
 * X-Forwarded-For is a list each proxy appends to: the address it received the request from. Only the
 * right end is written by your proxies; everything to the left of them came with the request and is
 * whatever the client chose. So the client is found by walking from the peer (the address the
 * runtime saw) leftwards through the list, past the hops that are known proxies, and taking the first
 * address that is not one (as reverse proxies document it, e.g. MDN's X-Forwarded-For, Express' trust
 * proxy). Known proxies are given by count (TRUST_PROXY_HOPS; TRUST_PROXY=true is one: the peer) or
 * by address (TRUSTED_PROXIES). If every hop is a known proxy, the left-most address is taken.
 *
 * The runtime has no IP library in common (Workers run without Node.js APIs), so the little parsing
 * needed lives here.
 */

/** Which hops the API trusts to have written X-Forwarded-For truthfully. */
export type ProxyTrust =
  | { kind: 'none' }
  | { kind: 'hops'; hops: number }
  | { kind: 'ranges'; ranges: readonly IpRange[] };

export interface IpRange {
  bytes: Uint8Array;
  prefix: number;
}

/** The trust the configuration describes. */
export function proxyTrust(config: {
  TRUST_PROXY: boolean;
  TRUST_PROXY_HOPS: number;
  TRUSTED_PROXIES: readonly string[];
}): ProxyTrust {
  if (config.TRUSTED_PROXIES.length > 0) {
    return { kind: 'ranges', ranges: config.TRUSTED_PROXIES.map((text) => parseIpRange(text)!) };
  }
  const hops = config.TRUST_PROXY_HOPS || (config.TRUST_PROXY ? 1 : 0);
  return hops > 0 ? { kind: 'hops', hops } : { kind: 'none' };
}

/**
 * The client address: the peer itself when no proxy is trusted; otherwise the first address, from the
 * right, that is not a trusted proxy's. An entry that is not an address ends the walk at the hop that
 * passed it on. Null when nothing usable is known (no peer, as for requests made in-process).
 */
export function clientAddress(
  request: { peer: string | null | undefined; forwardedFor: string | null | undefined },
  trust: ProxyTrust,
): string | null {
  const peer = request.peer ? parseIp(request.peer) : null;
  if (trust.kind === 'none') return peer ? formatIp(peer) : null;
  const forwarded = (request.forwardedFor ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .reverse();
  const chain: Array<string | null> = [request.peer ?? null, ...forwarded];
  let last: Uint8Array | null = null;
  for (const [i, entry] of chain.entries()) {
    // By count, a hop is trusted for its position, whatever it holds (the peer may be unknown in-process).
    if (trust.kind === 'hops' && i < trust.hops) {
      last = (entry ? parseIp(entry) : null) ?? last;
      continue;
    }
    const ip = entry ? parseIp(entry) : null;
    if (!ip) return last ? formatIp(last) : null;
    if (trust.kind === 'hops' || !trust.ranges.some((range) => inRange(ip, range))) return formatIp(ip);
    last = ip;
  }
  return last ? formatIp(last) : null;
}

/**
 * Workers: the peer is CF-Connecting-IP (who connected to Cloudflare), and Cloudflare appends that same
 * address to X-Forwarded-For; it is dropped from the list so it does not count as one more hop.
 */
export function cloudflareClientAddress(
  headers: { cfConnectingIp: string | null | undefined; forwardedFor: string | null | undefined },
  trust: ProxyTrust,
): string | null {
  const entries = (headers.forwardedFor ?? '').split(',').map((entry) => entry.trim());
  if (headers.cfConnectingIp && entries.at(-1) === headers.cfConnectingIp.trim()) entries.pop();
  return clientAddress({ peer: headers.cfConnectingIp, forwardedFor: entries.join(',') }, trust);
}

/** An address or a CIDR range (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`), or null. */
export function parseIpRange(text: string): IpRange | null {
  const [address, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined || !address) return null;
  const bytes = parseIp(address);
  if (!bytes) return null;
  const bits = bytes.length * 8;
  if (prefixText === undefined) return { bytes, prefix: bits };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return null;
  return { bytes, prefix: Number(prefixText) };
}

function inRange(ip: Uint8Array, range: IpRange): boolean {
  if (ip.length !== range.bytes.length) return false;
  for (let bit = 0; bit < range.prefix; bit += 8) {
    const take = Math.min(8, range.prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((ip[bit / 8]! & mask) !== (range.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

/**
 * An IPv4 (4 bytes) or IPv6 (16 bytes) address, as written in X-Forwarded-For or by a runtime: with or
 * without a port, brackets or a zone. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address.
 */
export function parseIp(text: string): Uint8Array | null {
  let s = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) s = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(':'));
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const v4 = parseV4(s);
  if (v4) return v4;
  const v6 = parseV6(s);
  if (!v6) return null;
  const mapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
}

function parseV4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) return null;
  return Uint8Array.from(parts, Number);
}

function parseV6(s: string): Uint8Array | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || !s.includes(':')) return null;
  let groups: string[];
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  // A trailing dotted IPv4 part is two groups.
  const last = (halves.length === 2 ? tail : head).at(-1);
  const embedded = last?.includes('.') ? parseV4(last) : null;
  if (last?.includes('.')) {
    if (!embedded) return null;
    const list = halves.length === 2 ? tail : head;
    list.splice(
      -1,
      1,
      ((embedded[0]! << 8) | embedded[1]!).toString(16),
      ((embedded[2]! << 8) | embedded[3]!).toString(16),
    );
  }
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...Array<string>(missing).fill('0'), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8 || groups.some((g) => !/^[0-9A-Fa-f]{1,4}$/.test(g))) return null;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  return bytes;
}

/** Dotted IPv4, or IPv6 in its RFC 5952 form (lowercase, the longest run of zero groups as ::). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}
