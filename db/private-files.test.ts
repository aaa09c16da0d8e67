import { afterAll, describe, expect, test } from 'bun:test';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateFile, ensurePrivateDir, tightenTree } from './private-files.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function folder(): string {
  const d = mkdtempSync(join(tmpdir(), 'outdial-private-'));
  dirs.push(d);
  return d;
}

const modeOf = (path: string) => (statSync(path).mode & 0o7777).toString(8);

function withUmask<T>(mask: number, run: () => T): T {
  const previous = process.umask(mask);
  try {
    return run();
  } finally {
    process.umask(previous);
  }
}

describe('owner-only files', () => {
  test('folders are created 0700 (every missing level) and files 0600, whatever the umask', () => {
    const root = folder();
    withUmask(0, () => {
      ensurePrivateDir(join(root, 'a', 'b'));
      expect(createPrivateFile(join(root, 'a', 'b', 'f'), 'one')).toBe(true);
      expect(createPrivateFile(join(root, 'a', 'b', 'f'), 'two')).toBe(false);
    });
    expect([
      modeOf(join(root, 'a')),
      modeOf(join(root, 'a', 'b')),
      modeOf(join(root, 'a', 'b', 'f')),
    ]).toEqual(['700', '700', '600']);
    expect(Bun.file(join(root, 'a', 'b', 'f')).size).toBe(3);
  });

  test('an existing folder of ours is tightened; a shared (sticky) one is left as it is', () => {
    const ours = join(folder(), 'data');
    mkdirSync(ours);
    chmodSync(ours, 0o755);
    ensurePrivateDir(ours);
    expect(modeOf(ours)).toBe('700');

    const shared = join(folder(), 'tmp');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    ensurePrivateDir(shared);
    expect(modeOf(shared)).toBe('1777');
  });

  test('a whole tree is tightened, without following symbolic links', () => {
    const root = folder();
    const outside = join(folder(), 'outside');
    writeFileSync(outside, 'x');
    chmodSync(outside, 0o644);
    const tree = join(root, 'db');
    mkdirSync(join(tree, 'base', '5'), { recursive: true });
    writeFileSync(join(tree, 'PG_VERSION'), '17');
    writeFileSync(join(tree, 'base', '5', '1259'), '');
    symlinkSync(outside, join(tree, 'link'));
    for (const p of [tree, join(tree, 'base'), join(tree, 'base', '5')]) chmodSync(p, 0o777);
    for (const p of [join(tree, 'PG_VERSION'), join(tree, 'base', '5', '1259')]) chmodSync(p, 0o666);
    tightenTree(tree);
    expect(
      [
        tree,
        join(tree, 'base'),
        join(tree, 'base', '5'),
        join(tree, 'PG_VERSION'),
        join(tree, 'base', '5', '1259'),
      ].map(modeOf),
    ).toEqual(['700', '700', '700', '600', '600']);
    expect(modeOf(outside)).toBe('644');
  });
});
