import { afterAll, describe, expect, test } from 'bun:test';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateKeyFile } from './bun-runtime.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('key files', () => {
  test('a new key is written owner-only under umask 000 and read back unchanged', async () => {
    const root = mkdtempSync(join(tmpdir(), 'outdial-keys-'));
    dirs.push(root);
    const file = join(root, 'keys', 'api.jwk.json');
    const previous = process.umask(0);
    let created: Awaited<ReturnType<typeof loadOrCreateKeyFile>>;
    try {
      created = await loadOrCreateKeyFile(file);
    } finally {
      process.umask(previous);
    }
    expect(created.created).toBe(true);
    expect([modeOf(join(root, 'keys')), modeOf(file)]).toEqual(['700', '600']);
    const again = await loadOrCreateKeyFile(file);
    expect(again.created).toBe(false);
    expect(again.key.kid).toBe(created.key.kid);
  });

  test('a key left readable by others is tightened when it is read', async () => {
    const root = mkdtempSync(join(tmpdir(), 'outdial-keys-'));
    dirs.push(root);
    const file = join(root, 'keys', 'api.jwk.json');
    const { key } = await loadOrCreateKeyFile(file);
    const text = readFileSync(file, 'utf8');
    chmodSync(file, 0o644);
    chmodSync(join(root, 'keys'), 0o755);
    const again = await loadOrCreateKeyFile(file);
    expect(again).toMatchObject({ created: false });
    expect(again.key.kid).toBe(key.kid);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect([modeOf(join(root, 'keys')), modeOf(file)]).toEqual(['700', '600']);
  });
});
