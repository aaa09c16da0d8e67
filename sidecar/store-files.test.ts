import { afterAll, describe, expect, test } from 'bun:test';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store.ts';

/**
 * The outbox holds call events and signed commands: its folder and its files (the database, the WAL and
 * shared-memory files SQLite adds) are owner-only whatever the umask, and an outbox left by an earlier
 * run with looser modes is tightened when the sidecar opens it.
 */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

function withUmask<T>(mask: number, run: () => T): T {
  const previous = process.umask(mask);
  try {
    return run();
  } finally {
    process.umask(previous);
  }
}

function writeSomething(store: Store) {
  store.claimJti(crypto.randomUUID(), Date.now() + 60_000);
}

describe('the outbox files', () => {
  test('are created owner-only under umask 000', () => {
    const root = mkdtempSync(join(tmpdir(), 'sidecar-files-'));
    dirs.push(root);
    const path = join(root, 'data', 'sidecar-x.sqlite');
    const store = withUmask(0, () => {
      const s = new Store(path, 'x');
      writeSomething(s);
      return s;
    });
    try {
      expect(existsSync(`${path}-wal`)).toBe(true);
      expect({
        dir: modeOf(join(root, 'data')),
        db: modeOf(path),
        wal: modeOf(`${path}-wal`),
        shm: modeOf(`${path}-shm`),
      }).toEqual({ dir: '700', db: '600', wal: '600', shm: '600' });
    } finally {
      store.close();
    }
  });

  test('left world-readable by an earlier run, are tightened when opened', () => {
    const root = mkdtempSync(join(tmpdir(), 'sidecar-files-'));
    dirs.push(root);
    const dir = join(root, 'data');
    const path = join(dir, 'sidecar-x.sqlite');
    const first = new Store(path, 'x');
    writeSomething(first);
    // Loosen everything while it is open (the WAL and shared-memory files exist now), then reopen.
    for (const file of [path, `${path}-wal`, `${path}-shm`]) chmodSync(file, 0o666);
    chmodSync(dir, 0o777);
    const second = new Store(path, 'x');
    try {
      expect({
        dir: modeOf(dir),
        db: modeOf(path),
        wal: modeOf(`${path}-wal`),
        shm: modeOf(`${path}-shm`),
      }).toEqual({ dir: '700', db: '600', wal: '600', shm: '600' });
    } finally {
      second.close();
      first.close();
    }
  });
});
