/**
 * Which addresses a webhook may never reach, as two tables (IPv4, IPv6) of special-purpose ranges
 * after the IANA registries, plus the cloud metadata endpoints. IPv6 forms that carry an IPv4
 * address (IPv4-mapped and -compatible, SIIT, NAT64, 6to4, Teredo) are judged by the IPv4 address
 * they carry, and any IPv6 address outside global unicast (2000::/3) is refused.
 */

type V4 = number;
type V6 = bigint;

function parseV4(ip: string): V4 | null {
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

function formatV4(n: V4): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** An IPv6 address (brackets and zone allowed, a dotted IPv4 tail too) as a 128-bit number, or null. */
function parseV6(input: string): V6 | null {
  let ip = input.toLowerCase();
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  if (!/^[0-9a-f:.]+$/.test(ip) || !ip.includes(':')) return null;
  const lastColon = ip.lastIndexOf(':');
  const tail = ip.slice(lastColon + 1);
  if (tail.includes('.')) {
    const n = parseV4(tail);
    if (n === null) return null;
    ip = `${ip.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** Bits `from`..`from+32` of an IPv6 address, as an IPv4 address. */
const v4At = (v: V6, from: number): V4 => Number((v >> BigInt(96 - from)) & 0xffffffffn);

interface V4Range {
  cidr: string;
  what: string;
}

/** Refused IPv4 ranges; the first that matches names the reason, so single addresses come first. */
const V4_REFUSED: readonly V4Range[] = [
  { cidr: '169.254.169.254/32', what: 'a cloud metadata endpoint' },
  { cidr: '100.100.100.200/32', what: 'a cloud metadata endpoint (Alibaba)' },
  { cidr: '168.63.129.16/32', what: 'a cloud platform endpoint (Azure)' },
  { cidr: '192.0.0.192/32', what: 'a cloud metadata endpoint (Oracle)' },
  { cidr: '255.255.255.255/32', what: 'the broadcast address' },
  { cidr: '0.0.0.0/8', what: 'an unspecified ("this network") address' },
  { cidr: '10.0.0.0/8', what: 'a private address' },
  { cidr: '100.64.0.0/10', what: 'a carrier-grade NAT address' },
  { cidr: '127.0.0.0/8', what: 'a loopback address' },
  { cidr: '169.254.0.0/16', what: 'a link-local address' },
  { cidr: '172.16.0.0/12', what: 'a private address' },
  { cidr: '192.0.0.0/24', what: 'an IETF protocol assignment' },
  { cidr: '192.0.2.0/24', what: 'a documentation address' },
  { cidr: '192.88.99.0/24', what: 'a 6to4 relay address' },
  { cidr: '192.168.0.0/16', what: 'a private address' },
  { cidr: '198.18.0.0/15', what: 'a benchmarking address' },
  { cidr: '198.51.100.0/24', what: 'a documentation address' },
  { cidr: '203.0.113.0/24', what: 'a documentation address' },
  { cidr: '224.0.0.0/4', what: 'a multicast address' },
  { cidr: '240.0.0.0/4', what: 'a reserved address' },
];

interface V6Range {
  cidr: string;
  what: string;
  /** For forms that carry IPv4 addresses: those addresses; the form is judged by them. */
  carries?: (v: V6) => V4[];
}

const LAST_32 = (v: V6) => [v4At(v, 96)];

/** IPv6 ranges, refused or judged by the IPv4 they carry; the first that matches applies. */
const V6_RULES: readonly V6Range[] = [
  { cidr: '::/128', what: 'the unspecified address' },
  { cidr: '::1/128', what: 'the loopback address' },
  { cidr: '::ffff:0:0/96', what: 'IPv4-mapped', carries: LAST_32 },
  { cidr: '::ffff:0:0:0/96', what: 'SIIT', carries: LAST_32 },
  { cidr: '::/96', what: 'IPv4-compatible', carries: LAST_32 },
  { cidr: '64:ff9b::/96', what: 'NAT64', carries: LAST_32 },
  // Where a local-use NAT64 prefix puts the IPv4 address is the operator's choice; none is global.
  { cidr: '64:ff9b:1::/48', what: 'a local-use NAT64 address' },
  { cidr: '100::/64', what: 'a discard-only address' },
  // Teredo: the server's IPv4 address in bits 32–64, the client's inverted in the last 32 bits.
  { cidr: '2001::/32', what: 'Teredo', carries: (v) => [v4At(v, 32), ~v4At(v, 96) >>> 0] },
  { cidr: '2001:db8::/32', what: 'a documentation address' },
  { cidr: '2001::/23', what: 'an IETF protocol assignment' },
  { cidr: '2002::/16', what: '6to4', carries: (v) => [v4At(v, 16)] },
  { cidr: '3fff::/20', what: 'a documentation address' },
  { cidr: '5f00::/16', what: 'a segment routing (SRv6) address' },
  { cidr: 'fd00:ec2::254/128', what: 'a cloud metadata endpoint (AWS)' },
  { cidr: 'fc00::/7', what: 'a unique local address' },
  { cidr: 'fe80::/10', what: 'a link-local address' },
  { cidr: 'fec0::/10', what: 'a site-local address' },
  { cidr: 'ff00::/8', what: 'a multicast address' },
];

function v4Matcher(cidr: string): (n: V4) => boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  const network = (parseV4(base)! & mask) >>> 0;
  return (n) => (n & mask) >>> 0 === network;
}

function v6Matcher(cidr: string): (v: V6) => boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  const shift = BigInt(128 - Number(bits));
  const network = parseV6(base)! >> shift;
  return (v) => v >> shift === network;
}

const V4_TABLE = V4_REFUSED.map((r) => ({ ...r, matches: v4Matcher(r.cidr) }));
const V6_TABLE = V6_RULES.map((r) => ({ ...r, matches: v6Matcher(r.cidr) }));
const GLOBAL_UNICAST = v6Matcher('2000::/3');

function v4Refusal(n: V4): string | null {
  const rule = V4_TABLE.find((r) => r.matches(n));
  return rule ? `${rule.what} (${rule.cidr})` : null;
}

function v6Refusal(v: V6): string | null {
  const rule = V6_TABLE.find((r) => r.matches(v));
  if (rule?.carries) {
    for (const n of rule.carries(v)) {
      const why = v4Refusal(n);
      if (why) return `a ${rule.what} form (${rule.cidr}) of ${formatV4(n)}, ${why}`;
    }
    return null;
  }
  if (rule) return `${rule.what} (${rule.cidr})`;
  return GLOBAL_UNICAST(v) ? null : 'outside global unicast (2000::/3)';
}

/**
 * Why a webhook may not reach this address ("a private address (10.0.0.0/8)"), or null when it
 * may. Anything that is not an IPv4 or IPv6 address is refused.
 */
export function addressRefusal(ip: string): string | null {
  const v4 = parseV4(ip);
  if (v4 !== null) return v4Refusal(v4);
  const v6 = parseV6(ip);
  return v6 === null ? 'not an IP address' : v6Refusal(v6);
}

export function isBlockedAddress(ip: string): boolean {
  return addressRefusal(ip) !== null;
}

const V4_LOOPBACK = v4Matcher('127.0.0.0/8');
const V6_LOOPBACK = v6Matcher('::1/128');
const V6_MAPPED = v6Matcher('::ffff:0:0/96');

/** 127/8, ::1, and 127/8 as a dual-stack socket shows it (::ffff:127.x.y.z). */
export function isLoopback(ip: string): boolean {
  const v4 = parseV4(ip);
  if (v4 !== null) return V4_LOOPBACK(v4);
  const v6 = parseV6(ip);
  if (v6 === null) return false;
  return V6_LOOPBACK(v6) || (V6_MAPPED(v6) && V4_LOOPBACK(v4At(v6, 96)));
}

export function isIpLiteral(host: string): boolean {
  return parseV4(host) !== null || parseV6(host) !== null;
}
