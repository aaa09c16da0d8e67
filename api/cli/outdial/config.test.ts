import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUsageError } from './args.ts';
import { configPath, keyIdOf, resolveCredentials, writeStoredConfig } from './config.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function dir() {
  const d = mkdtempSync(join(tmpdir(), 'outdial-config-'));
  dirs.push(d);
  return d;
}
const KEY = `odk_live_0123456789abcdef_${'A'.repeat(43)}`;

test('the file is under $XDG_CONFIG_HOME, else ~/.config; an empty XDG_CONFIG_HOME counts as unset', () => {
  expect(configPath({ XDG_CONFIG_HOME: '/x', HOME: '/h' })).toBe('/x/outdial/config.json');
  expect(configPath({ XDG_CONFIG_HOME: ' ', HOME: '/h' })).toBe('/h/.config/outdial/config.json');
  expect(configPath({ HOME: '/h' })).toBe('/h/.config/outdial/config.json');
});

test('OUTDIAL_URL and OUTDIAL_API_KEY override the file; without either, a usage error naming login', () => {
  const home = dir();
  const env = { XDG_CONFIG_HOME: home };
  const error = (() => {
    try {
      resolveCredentials(env);
    } catch (e) {
      return e;
    }
  })();
  expect(isUsageError(error) && error.message).toContain('outdial login');

  writeStoredConfig({ url: 'https://a.example', key: KEY }, configPath(env));
  expect(resolveCredentials(env)).toMatchObject({ url: 'https://a.example', key: KEY });
  const other = `odk_live_fedcba9876543210_${'B'.repeat(43)}`;
  expect(resolveCredentials({ ...env, OUTDIAL_URL: 'https://b.example', OUTDIAL_API_KEY: other })).toEqual({
    url: 'https://b.example',
    key: other,
    source: 'OUTDIAL_API_KEY',
  });
});

test('written owner-only over an existing readable file; a file that is not a configuration is refused', () => {
  const home = dir();
  const path = configPath({ XDG_CONFIG_HOME: home });
  writeStoredConfig({ url: 'https://a.example', key: KEY }, path);
  writeFileSync(path, '{"url":"https://a.example","key":"not a key"}', { mode: 0o644 });
  expect(() => resolveCredentials({ XDG_CONFIG_HOME: home })).toThrow('is not an outdial configuration');
  writeStoredConfig({ url: 'https://a.example', key: KEY }, path);
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ url: 'https://a.example', key: KEY });
});

test('the key id is read from the key itself', () => {
  expect(keyIdOf(KEY)).toBe('0123456789abcdef');
  expect(keyIdOf('odk_live_short')).toBeNull();
});
