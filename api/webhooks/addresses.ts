/**
 * Which addresses a webhook may never reach: loopback, private, link-local (and so the cloud
 * metadata endpoints), carrier-grade NAT, unspecified, multicast, reserved, documentation ranges,
 * and the IPv6 forms of all of them (IPv4-mapped and -compatible addresses included).
 */

function ipv4ToInt(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

const V4_BLOCKED: Array<[string, number]> = [
  ['0.0.0.0', 8], // this network, unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

function inV4Range(n: number, base: string, bits: number): boolean {
  const b = ipv4ToInt(base)!;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (n & mask) >>> 0 === (b & mask) >>> 0;
}

export function isLoopback(ip: string): boolean {
  const v4 = ipv4ToInt(ip);
  if (v4 !== null) return inV4Range(v4, '127.0.0.0', 8);
  const embedded = embeddedV4(ip);
  if (embedded) return isLoopback(embedded);
  return expandV6(ip) === '0000:0000:0000:0000:0000:0000:0000:0001';
}

/** Expands an IPv6 address to eight 4-digit groups, or null if it is not one. */
function expandV6(input: string): string | null {
  let ip = input.toLowerCase();
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  if (!/^[0-9a-f:.]+$/.test(ip) || !ip.includes(':')) return null;
  // A trailing dotted IPv4 part becomes two groups.
  const lastColon = ip.lastIndexOf(':');
  const tail = ip.slice(lastColon + 1);
  if (tail.includes('.')) {
    const n = ipv4ToInt(tail);
    if (n === null) return null;
    ip = `${ip.slice(0, lastColon + 1)}${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 && missing !== 0) return null;
  if (missing < 0) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), -compatible or NAT64 IPv6 address. */
function embeddedV4(ip: string): string | null {
  const full = expandV6(ip);
  if (!full) return null;
  const g = full.split(':');
  const v4 = () => {
    const hi = Number.parseInt(g[6]!, 16);
    const lo = Number.parseInt(g[7]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  };
  if (g.slice(0, 5).every((x) => x === '0000') && (g[5] === 'ffff' || g[5] === '0000')) {
    if (g[5] === '0000' && g[6] === '0000') return null; // :: and ::1 are handled as IPv6
    return v4();
  }
  if (g[0] === '0064' && g[1] === 'ff9b') return v4(); // NAT64 64:ff9b::/96
  return null;
}

export function isBlockedAddress(ip: string): boolean {
  const v4 = ipv4ToInt(ip);
  if (v4 !== null) return V4_BLOCKED.some(([base, bits]) => inV4Range(v4, base, bits));
  const full = expandV6(ip);
  if (!full) return true; // not an address we understand: refuse
  const embedded = embeddedV4(ip);
  if (embedded) return isBlockedAddress(embedded);
  const first = Number.parseInt(full.slice(0, 4), 16);
  if (full === '0000:0000:0000:0000:0000:0000:0000:0000') return true; // unspecified
  if (full === '0000:0000:0000:0000:0000:0000:0000:0001') return true; // loopback
  if ((first & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
  if ((first & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
  if ((first & 0xffc0) === 0xfec0) return true; // site-local fec0::/10
  if ((first & 0xff00) === 0xff00) return true; // multicast
  if (full.startsWith('2001:0db8')) return true; // documentation
  if (full.startsWith('0100:0000:0000:0000')) return true; // discard-only 100::/64
  if (full.startsWith('2002:'))
    return isBlockedAddress(
      `${Number.parseInt(full.slice(5, 7), 16)}.${Number.parseInt(full.slice(7, 9), 16)}.${Number.parseInt(full.slice(10, 12), 16)}.${Number.parseInt(full.slice(12, 14), 16)}`,
    ); // 6to4
  return false;
}

export function isIpLiteral(host: string): boolean {
  return ipv4ToInt(host) !== null || expandV6(host) !== null;
}
