import { describe, expect, test } from 'bun:test';
import { isEnvError } from '../api/shared/base/env.ts';
import { parseConfig, redactedConfig } from './config.ts';

const required = {
  SIDECAR_PRIVATE_KEY: '{"kty":"OKP"}',
  API_URL: 'https://api.example/',
  API_PUBLIC_KEYS: '{"keys":[]}',
};

describe('parseConfig', () => {
  test('applies the documented defaults', () => {
    const config = parseConfig(required);
    expect(config).toMatchObject({
      sidecarId: 'default',
      host: '127.0.0.1',
      port: 8089,
      apiUrl: 'https://api.example',
      apiIssuer: 'outdial',
      ariHttpUrl: 'http://localhost:8088/ari',
      ariUsername: 'ariuser',
      ariPassword: 'aripass',
      ariApp: 'contactcenter',
      ariMaxConnections: 50,
      ariMaxKeepalive: 20,
      ariRequestTimeoutMs: 5000,
      ariDialContext: 'outbound-trunk',
      ariOriginateStyle: 'dialplan',
      originateCps: 10,
      maxConcurrentCalls: 50,
      queueMax: 1000,
      reconcileIntervalMs: 30_000,
      breakerFailures: 5,
      breakerHalfOpenAfterMs: 10_000,
      dataDir: './.data',
      outboxBatchSize: 100,
      logLevel: 'info',
    });
  });

  test('reads numbers and enums, and treats empty strings as unset', () => {
    const config = parseConfig({
      ...required,
      ORIGINATE_CPS: '3',
      ARI_ORIGINATE_STYLE: 'stasis',
      SIDECAR_ID: '',
    });
    expect(config.originateCps).toBe(3);
    expect(config.ariOriginateStyle).toBe('stasis');
    expect(config.sidecarId).toBe('default');
  });

  test('names every bad variable and never echoes a value', () => {
    let caught: unknown;
    try {
      parseConfig({ ARI_PASSWORD: 'hunter2', ORIGINATE_CPS: '0', API_URL: 'ftp://x', SIDECAR_ID: '../etc' });
    } catch (error) {
      caught = error;
    }
    expect(isEnvError(caught)).toBe(true);
    const message = (caught as Error).message;
    for (const name of ['SIDECAR_PRIVATE_KEY', 'API_PUBLIC_KEYS', 'API_URL', 'ORIGINATE_CPS', 'SIDECAR_ID']) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain('hunter2');
  });

  test('the start-up summary hides the secrets', () => {
    const text = JSON.stringify(redactedConfig(parseConfig({ ...required, ARI_PASSWORD: 'hunter2' })));
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('OKP');
  });
});
