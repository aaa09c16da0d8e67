import { describe, expect, test } from 'bun:test';
import { loadConfig } from '../config.ts';
import { EnvError } from '../shared/base/env.ts';
import { checkAddress, checkWebhookUrl, webhookPolicy } from './policy.ts';

const config = (env: Record<string, string>) => loadConfig({ APP_ENV: 'test', ...env });
const strict = webhookPolicy(config({}));
const dev = webhookPolicy(config({ WEBHOOK_ALLOW_LOOPBACK: 'true' }));

describe('checkWebhookUrl', () => {
  test('443 is the only port by default; WEBHOOK_ALLOWED_PORTS sets the list', () => {
    expect(strict.allowedPorts).toEqual([443]);
    expect(checkWebhookUrl('https://example.com/hook', strict)).toBeNull();
    expect(checkWebhookUrl('https://example.com:443/hook', strict)).toBeNull();
    expect(checkWebhookUrl('https://example.com:8443/hook', strict)).toBe(
      'port 8443 is not allowed (allowed: 443)',
    );
    const wider = webhookPolicy(config({ WEBHOOK_ALLOWED_PORTS: ' 443, 8443 ' }));
    expect(wider.allowedPorts).toEqual([443, 8443]);
    expect(checkWebhookUrl('https://example.com:8443/hook', wider)).toBeNull();
    expect(checkWebhookUrl('https://example.com:9443/hook', wider)).toContain('port 9443');
  });

  test('WEBHOOK_ALLOWED_PORTS refuses what is not a list of ports', () => {
    for (const value of ['443,http', '0', '65536', '-1', '443;8443', '1e3']) {
      expect(() => config({ WEBHOOK_ALLOWED_PORTS: value })).toThrow(EnvError);
    }
  });

  test('special-use names are refused with trailing dots, in capitals and as parents', () => {
    for (const url of [
      'https://localhost./',
      'https://localhost.../',
      'https://LocalHost/',
      'https://a.b.localhost./',
      'https://metadata.google.internal./',
      'https://nas.local/',
      'https://router.home.arpa/',
    ]) {
      expect({ url, refused: checkWebhookUrl(url, strict) !== null }).toEqual({ url, refused: true });
    }
    expect(checkWebhookUrl('https://localhost./', strict)).toBe('"localhost." is a loopback name');
    expect(checkWebhookUrl('https://notlocalhost.example/', strict)).toBeNull();
    expect(checkWebhookUrl('https://local.example.com/', strict)).toBeNull();
  });

  test('the development switch lets loopback through on any port, and nothing else', () => {
    expect(checkWebhookUrl('http://127.0.0.1:5555/hooks', dev)).toBeNull();
    expect(checkWebhookUrl('http://localhost.:5555/hooks', dev)).toBeNull();
    expect(checkWebhookUrl('http://[::1]:5555/hooks', dev)).toBeNull();
    expect(checkWebhookUrl('http://127.0.0.1:5555/hooks', strict)).not.toBeNull();
    expect(checkWebhookUrl('https://10.0.0.1/hooks', dev)).toContain('a private address (10.0.0.0/8)');
    expect(checkWebhookUrl('https://printer.local/hooks', dev)).toContain('multicast DNS');
    expect(checkWebhookUrl('https://example.com:5555/hooks', dev)).toContain('port 5555');
    expect(checkAddress('::ffff:0:7f00:1', true)).toContain('SIIT');
  });

  test('refusals name the range, and the IPv4 address an IPv6 form carries', () => {
    expect(checkAddress('169.254.169.254', false)).toBe(
      '169.254.169.254 is a cloud metadata endpoint (169.254.169.254/32)',
    );
    expect(checkWebhookUrl('https://[::ffff:0:a9fe:a9fe]/', strict)).toBe(
      '::ffff:0:a9fe:a9fe is a SIIT form (::ffff:0:0:0/96) of 169.254.169.254, a cloud metadata endpoint (169.254.169.254/32)',
    );
    expect(checkAddress('2001:0:4136:e378:8000:63bf:3fff:fdd2', false)).toContain(
      'Teredo form (2001::/32) of 192.0.2.45, a documentation address',
    );
  });
});
