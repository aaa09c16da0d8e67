import { describe, expect, test } from 'bun:test';
import { isBlockedAddress, isIpLiteral, isLoopback } from './addresses.ts';

describe('isBlockedAddress', () => {
  test.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.0.0.1',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:10.0.0.1',
    '64:ff9b::a9fe:a9fe',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1%eth0',
    'ff02::1',
    '2002:a9fe:a9fe::1',
    '2001:db8::1',
    '[::1]',
    'not-an-ip',
    // Metadata endpoints of the clouds.
    'fd00:ec2::254',
    '100.100.100.200',
    '168.63.129.16',
    '192.0.0.192',
    // The rest of the special IPv4 ranges.
    '192.0.0.9',
    '192.0.2.1',
    '192.88.99.1',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.7',
    '203.0.113.9',
    '240.0.0.1',
    '239.255.255.250',
    // SIIT (IPv4-translated, ::ffff:0:a.b.c.d) forms.
    '::ffff:0:7f00:1',
    '::ffff:0:127.0.0.1',
    '::ffff:0:10.0.0.1',
    '::ffff:0:a9fe:a9fe',
    // IPv4-compatible (::a.b.c.d) forms.
    '::127.0.0.1',
    '::10.0.0.1',
    // NAT64: the well-known prefix with a private IPv4 inside, and the local-use prefix whatever it holds.
    '64:ff9b::10.0.0.1',
    '64:ff9b::7f00:1',
    '64:ff9b::c0a8:101',
    '64:ff9b:1::808:808',
    '64:ff9b:1:ffff::1',
    // 6to4 with a private or loopback IPv4 in bits 16–48.
    '2002:a00:1::1',
    '2002:7f00:1::',
    '2002:c0a8:101:1::1',
    // Teredo: client 192.0.2.45 (documentation), client 127.0.0.1 (inverted), server 10.0.0.1.
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    '2001:0:5ef5:79fb::80ff:fffe',
    '2001:0:a00:1::f7f7:f7f7',
    // Other special IPv6 ranges, and everything outside global unicast (2000::/3).
    '100::1',
    '2001:2::1',
    '2001:10::1',
    '3fff::1',
    '5f00::1',
    'fec0::1',
    '::2',
    '4000::1',
    'e000::1',
  ])('refuses %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(true);
  });

  test.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '192.169.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '::ffff:0:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2001:0:5ef5:79fb::f7f7:f7f7',
    '2a00:1450:4001:80b::200e',
    '100.63.255.255',
    '100.128.0.0',
    '198.20.0.1',
    '169.255.0.1',
  ])('allows %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(false);
  });

  test('loopback and literals', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
    expect(isIpLiteral('10.0.0.1')).toBe(true);
    expect(isIpLiteral('[fe80::1]')).toBe(true);
    expect(isIpLiteral('example.com')).toBe(false);
    expect(isIpLiteral('10.0.0')).toBe(false);
  });
});
