import { describe, expect, test } from 'bun:test';
import { loadConfig } from '../config.ts';
import {
  clientAddress,
  cloudflareClientAddress,
  formatIp,
  type ProxyTrust,
  parseIp,
  parseIpRange,
  proxyTrust,
} from './client-address.ts';

const trust = (env: Record<string, string>): ProxyTrust =>
  proxyTrust(loadConfig({ APP_ENV: 'test', ...env }));

describe('clientAddress', () => {
  const cases: Array<[string, Record<string, string>, string | null, string | undefined, string | null]> = [
    // what, configuration, peer, X-Forwarded-For, client
    ['no proxy trusted: the peer, whatever the header says', {}, '192.0.2.1', '6.6.6.6', '192.0.2.1'],
    [
      'TRUST_PROXY: the right-most entry, written by the proxy',
      { TRUST_PROXY: 'true' },
      '10.0.0.1',
      '6.6.6.6, 198.51.100.20',
      '198.51.100.20',
    ],
    ['TRUST_PROXY without a header: the peer', { TRUST_PROXY: 'true' }, '10.0.0.1', undefined, '10.0.0.1'],
    [
      'TRUST_PROXY, several headers joined',
      { TRUST_PROXY: 'true' },
      '10.0.0.1',
      '6.6.6.6,198.51.100.20 , ',
      '198.51.100.20',
    ],
    [
      'two hops: the second entry from the right',
      { TRUST_PROXY_HOPS: '2' },
      '10.0.0.1',
      '6.6.6.6, 198.51.100.20, 10.0.0.2',
      '198.51.100.20',
    ],
    [
      'two hops, one entry: the left-most',
      { TRUST_PROXY_HOPS: '2' },
      '10.0.0.1',
      '198.51.100.20',
      '198.51.100.20',
    ],
    [
      'hops, no peer (in-process): the entries alone',
      { TRUST_PROXY: 'true' },
      null,
      '6.6.6.6, 198.51.100.20',
      '198.51.100.20',
    ],
    [
      'ranges: past the trusted hops',
      { TRUSTED_PROXIES: '10.0.0.0/8' },
      '10.0.0.1',
      '6.6.6.6, 198.51.100.20, 10.9.9.9',
      '198.51.100.20',
    ],
    [
      'ranges: an untrusted peer is the client, its header ignored',
      { TRUSTED_PROXIES: '10.0.0.0/8' },
      '192.0.2.7',
      '6.6.6.6',
      '192.0.2.7',
    ],
    [
      'ranges: all trusted, the left-most',
      { TRUSTED_PROXIES: '10.0.0.0/8' },
      '10.0.0.1',
      '10.1.1.1, 10.2.2.2',
      '10.1.1.1',
    ],
    [
      'ranges: a mapped peer matches an IPv4 range',
      { TRUSTED_PROXIES: '127.0.0.1' },
      '::ffff:127.0.0.1',
      '198.51.100.20',
      '198.51.100.20',
    ],
    [
      'ranges: IPv6',
      { TRUSTED_PROXIES: '2001:db8::/32' },
      '2001:db8::1',
      '2001:DB8:0:0:0:0:0:7, [2001:0db9::5]:443',
      '2001:db9::5',
    ],
    [
      'ports and brackets are dropped',
      { TRUST_PROXY: 'true' },
      '10.0.0.1',
      '198.51.100.20:5678',
      '198.51.100.20',
    ],
    [
      'an entry that is no address ends the walk at the hop that passed it',
      { TRUST_PROXY: 'true' },
      '10.0.0.1',
      'unknown',
      '10.0.0.1',
    ],
    ['a garbage peer with nothing trusted: none', {}, 'not an address', undefined, null],
    ['no peer, nothing trusted (in-process): none', {}, null, '6.6.6.6', null],
  ];
  for (const [what, env, peer, forwardedFor, expected] of cases) {
    test(what, () => {
      expect(clientAddress({ peer, forwardedFor }, trust(env))).toBe(expected);
    });
  }
});

describe('cloudflareClientAddress', () => {
  test('CF-Connecting-IP, whatever X-Forwarded-For says, when no proxy in front of Cloudflare is trusted', () => {
    const headers = { cfConnectingIp: '203.0.113.9', forwardedFor: '6.6.6.6, 203.0.113.9' };
    expect(cloudflareClientAddress(headers, trust({}))).toBe('203.0.113.9');
  });
  test('Cloudflare appends CF-Connecting-IP to X-Forwarded-For: it is not counted as one more hop', () => {
    const headers = { cfConnectingIp: '198.51.100.1', forwardedFor: '6.6.6.6, 203.0.113.9, 198.51.100.1' };
    expect(cloudflareClientAddress(headers, trust({ TRUSTED_PROXIES: '198.51.100.0/24' }))).toBe(
      '203.0.113.9',
    );
    expect(cloudflareClientAddress(headers, trust({ TRUST_PROXY: 'true' }))).toBe('203.0.113.9');
  });
});

describe('addresses and ranges', () => {
  test('parse and print in one form', () => {
    for (const [text, printed] of [
      ['192.0.2.1', '192.0.2.1'],
      ['::ffff:192.0.2.1', '192.0.2.1'],
      ['::FFFF:c000:0201', '192.0.2.1'],
      ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['::1', '::1'],
      ['::', '::'],
      ['fe80::1%eth0', 'fe80::1'],
      ['[::1]:8080', '::1'],
      ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
    ] as const) {
      const ip = parseIp(text);
      expect({ text, printed: ip && formatIp(ip) }).toEqual({ text, printed });
    }
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      'g::1',
      'x',
    ]) {
      expect({ bad, ip: parseIp(bad) }).toEqual({ bad, ip: null });
    }
  });

  test('TRUSTED_PROXIES takes addresses and CIDR ranges, and refuses anything else at start', () => {
    expect(parseIpRange('10.0.0.0/8')).not.toBeNull();
    expect(parseIpRange('2001:db8::/32')).not.toBeNull();
    expect(parseIpRange('192.0.2.7')).not.toBeNull();
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/8/1', 'proxy.local', '10.0.0.0/x']) {
      expect({ bad, range: parseIpRange(bad) }).toEqual({ bad, range: null });
    }
    expect(() => loadConfig({ APP_ENV: 'test', TRUSTED_PROXIES: '10.0.0.0/8, proxy.local' })).toThrow(
      /TRUSTED_PROXIES: "proxy.local" is not an IP address or CIDR range/,
    );
    expect(() =>
      loadConfig({ APP_ENV: 'test', TRUSTED_PROXIES: '10.0.0.0/8', TRUST_PROXY_HOPS: '1' }),
    ).toThrow(/TRUST_PROXY_HOPS: give the proxies by count/);
  });
});
