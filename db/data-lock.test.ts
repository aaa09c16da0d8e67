import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireDataDirLock, DataDirBusyError, LOCK_FILE, processStart } from './data-lock.ts';

/**
 * The data folder's lock: one owner at a time, taken atomically by processes racing for it, a stale
 * lock (dead owner, reused pid, garbage) recovered, a live owner's never.
 */
const BUN = join(import.meta.dir, '..', 'node_modules', '.bin', 'bun');
const MODULE = join(import.meta.dir, 'data-lock.ts');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function folder(): string {
  const d = mkdtempSync(join(tmpdir(), 'outdial-lock-unit-'));
  dirs.push(d);
  return d;
}

const lockOf = (dir: string) => JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number };

function writeLock(dir: string, owner: Record<string, unknown>) {
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ host: hostname(), by: 'test', since: new Date().toISOString(), ...owner }),
  );
}

/** A separate process that tries to take the lock at `goAt` and holds it for `holdMs`; prints what happened. */
function contender(dir: string, goAt: number, holdMs: number) {
  const script = `
    const m = await import(${JSON.stringify(MODULE)});
    await Bun.sleep(Math.max(0, ${goAt} - Date.now()));
    try {
      const lock = await m.acquireDataDirLock(${JSON.stringify(dir)}, 'contender');
      console.log('acquired ' + process.pid);
      await Bun.sleep(${holdMs});
      lock.release();
    } catch (e) {
      console.log(m.isDataDirBusy(e) ? 'busy ' + e.owner.pid : 'error ' + e);
    }`;
  const proc = Bun.spawn([BUN, '-e', script], { stdout: 'pipe', stderr: 'inherit' });
  return { proc, said: new Response(proc.stdout).text().then((t) => t.trim()) };
}

async function deadPid(): Promise<number> {
  const proc = Bun.spawn(['true']);
  await proc.exited;
  return proc.pid;
}

describe('data folder lock', () => {
  test('names this process, is owner-only, may be taken again by it, and goes with the last release', async () => {
    const dir = join(folder(), 'new', 'data');
    const first = await acquireDataDirLock(dir, 'test');
    expect(lockOf(dir)).toMatchObject({ pid: process.pid, by: 'test', start: processStart(process.pid) });
    expect(statSync(join(dir, LOCK_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const second = await acquireDataDirLock(dir, 'test again');
    first.release();
    first.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    second.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  test('a live owner in another process is never displaced, and the refusal names it', async () => {
    const dir = folder();
    const holder = contender(dir, 0, 60_000);
    while (!existsSync(join(dir, LOCK_FILE))) await Bun.sleep(20);
    const before = readFileSync(join(dir, LOCK_FILE), 'utf8');
    try {
      for (let i = 0; i < 3; i++) {
        const error = await acquireDataDirLock(dir, 'test').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DataDirBusyError);
        expect((error as DataDirBusyError).owner.pid).toBe(holder.proc.pid);
        expect((error as Error).message).toContain(
          `in use by another Outdial process (pid ${holder.proc.pid}`,
        );
      }
      expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(before);
    } finally {
      holder.proc.kill('SIGKILL');
      await holder.proc.exited;
    }
    // Killed outright: its lock stays behind, stale, and is recovered.
    expect(lockOf(dir).pid).toBe(holder.proc.pid);
    const lock = await acquireDataDirLock(dir, 'test');
    expect(lockOf(dir).pid).toBe(process.pid);
    lock.release();
  }, 30_000);

  test('stale locks are recovered: dead pid, pid reused by another process, our own pid from an earlier process, garbage', async () => {
    const cases: Array<[string, (dir: string) => Promise<void> | void]> = [
      ['dead pid', async (dir) => writeLock(dir, { pid: await deadPid(), start: null })],
      // pid 1 is alive, but started at another time than the lock says.
      ['reused pid', (dir) => writeLock(dir, { pid: 1, start: '1' })],
      ['our pid, not ours', (dir) => writeLock(dir, { pid: process.pid, start: processStart(process.pid) })],
      [
        'garbage',
        (dir) => {
          writeFileSync(join(dir, LOCK_FILE), 'not a lock');
          const old = new Date(Date.now() - 60_000);
          utimesSync(join(dir, LOCK_FILE), old, old);
        },
      ],
    ];
    for (const [what, make] of cases) {
      const dir = folder();
      await make(dir);
      const lock = await acquireDataDirLock(dir, 'test');
      expect({ what, pid: lockOf(dir).pid }).toEqual({ what, pid: process.pid });
      lock.release();
    }
  });

  test('a lock on another host, or of a live process whose start time matches, is respected', async () => {
    const remote = folder();
    writeLock(remote, { pid: await deadPid(), start: null, host: 'another-host' });
    const error = await acquireDataDirLock(remote, 'test').catch((e: unknown) => e);
    expect((error as Error).message).toContain('on another-host');

    const live = folder();
    writeLock(live, { pid: 1, start: processStart(1) });
    expect(await acquireDataDirLock(live, 'test').catch((e: unknown) => e)).toBeInstanceOf(DataDirBusyError);
  });

  test('processes racing for a free or a stale lock: exactly one wins, the others name it', async () => {
    for (const stale of [false, true]) {
      const dir = folder();
      if (stale) writeLock(dir, { pid: await deadPid(), start: null });
      const goAt = Date.now() + 4000;
      const racers = Array.from({ length: 6 }, () => contender(dir, goAt, 5000));
      const said = await Promise.all(racers.map((r) => r.said));
      const winners = said.filter((s) => s.startsWith('acquired '));
      expect({ stale, said, winners: winners.length }).toMatchObject({ stale, winners: 1 });
      const winner = winners[0]!.split(' ')[1];
      expect(said.filter((s) => s !== `acquired ${winner}`)).toEqual(Array(5).fill(`busy ${winner}`));
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    }
  }, 60_000);
});
