import { readFileSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createPrivateFile, ensurePrivateDir, errorCode } from './private-files.ts';

/**
 * One process owns a data folder. The embedded database (PGlite) is a set of files that only one
 * process may have open: two processes on it each see their own copy, and what one writes the other
 * loses. So every process that opens the folder's database (the API, `npm start`, the user and
 * migration CLIs) first takes the folder's lock: `outdial.lock`, a file naming the owner's pid.
 *
 * Taking it is atomic: the file is written complete under a temporary name and hard-linked into place,
 * which fails if a lock is already there (O_EXCL where links are not supported). A lock whose owner is
 * gone (no such pid, a zombie, or a pid reused by another process since, as a container's pid 1 is) is
 * stale and is removed, under a short-lived second lock so that two processes recovering at once cannot
 * remove each other's fresh lock. A process may take its own folder's lock more than once (`npm start`
 * runs the API in-process); it is released when the last holder releases it, or when the process exits.
 */

export const LOCK_FILE = 'outdial.lock';

/** Who holds a data folder, as its lock file says. */
export interface LockOwner {
  pid: number;
  /** The owner's start time in clock ticks since boot (Linux), to tell a reused pid from the owner. */
  start: string | null;
  host: string;
  /** What holds it: `npm start`, `api`, `user:create`, … */
  by: string;
  since: string;
}

export class DataDirBusyError extends Error {
  override name = 'DataDirBusyError';
  readonly isDataDirBusy = true;
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    const where = owner.host === hostname() ? '' : ` on ${owner.host}`;
    super(
      `the data folder ${dataDir} is in use by another Outdial process (pid ${owner.pid}${where}: ${owner.by}, since ${owner.since}); ` +
        'its embedded database can be open in one process only',
    );
  }
}

export function isDataDirBusy(error: unknown): error is DataDirBusyError {
  return typeof error === 'object' && error !== null && 'isDataDirBusy' in error;
}

export interface DataDirLock {
  readonly path: string;
  /** Gives this hold back; the file goes with the last one. Calling it again does nothing. */
  release(): void;
}

interface Held {
  count: number;
  content: string;
}

const held = new Map<string, Held>();
let exitHookInstalled = false;

/**
 * Takes the lock of `dataDir` (created owner-only if missing) for this process, or throws
 * DataDirBusyError naming the live owner.
 */
export async function acquireDataDirLock(dataDir: string, by: string): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  ensurePrivateDir(dir);
  const path = join(realpathSync(dir), LOCK_FILE);
  const mine = held.get(path);
  if (mine) {
    mine.count++;
    return handle(path, mine);
  }
  const content = JSON.stringify({
    pid: process.pid,
    start: processStart(process.pid),
    host: hostname(),
    by,
    since: new Date().toISOString(),
  } satisfies LockOwner);

  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (createPrivateFile(path, content)) {
      const entry = { count: 1, content };
      held.set(path, entry);
      installExitHook();
      return handle(path, entry);
    }
    const seen = readLock(path);
    if (seen === null) continue; // released meanwhile
    const owner = parseOwner(seen.raw);
    if (!owner) {
      // Being written by a process without hard links, or garbage: give a writer a moment.
      if (Date.now() - seen.mtimeMs < 2000) {
        await Bun.sleep(20);
        continue;
      }
    } else if (ownerAlive(owner)) {
      throw new DataDirBusyError(dir, owner);
    }
    await removeStale(path, seen.raw);
  }
  throw new Error(`could not take the lock ${path}: it keeps changing`);
}

function handle(path: string, entry: Held): DataDirLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      entry.count--;
      if (entry.count > 0) return;
      held.delete(path);
      removeIfOurs(path, entry.content);
    },
  };
}

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A process that exits without closing (process.exit after a fatal error) still frees its folders;
  // one killed outright leaves a lock that the next process finds stale.
  process.on('exit', () => {
    for (const [path, entry] of held) removeIfOurs(path, entry.content);
    held.clear();
  });
}

function removeIfOurs(path: string, content: string) {
  try {
    if (readFileSync(path, 'utf8') === content) unlinkSync(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

function readLock(path: string): { raw: string; mtimeMs: number } | null {
  try {
    const mtimeMs = statSync(path).mtimeMs;
    return { raw: readFileSync(path, 'utf8'), mtimeMs };
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

function parseOwner(raw: string): LockOwner | null {
  try {
    const value = JSON.parse(raw) as Partial<LockOwner>;
    if (!Number.isInteger(value.pid) || (value.pid ?? 0) <= 0) return null;
    return {
      pid: value.pid!,
      start: typeof value.start === 'string' ? value.start : null,
      host: typeof value.host === 'string' ? value.host : hostname(),
      by: typeof value.by === 'string' ? value.by : 'unknown',
      since: typeof value.since === 'string' ? value.since : 'unknown',
    };
  } catch {
    return null;
  }
}

/** Whether the process a lock names still runs. */
function ownerAlive(owner: LockOwner): boolean {
  // Another machine's process (a shared folder) cannot be checked from here: it counts as alive.
  if (owner.host !== hostname()) return true;
  // Our own pid in a lock this process does not hold: a previous process that had the same pid.
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if (errorCode(error) !== 'EPERM') return false;
  }
  const stat = procStat(owner.pid);
  if (stat === null) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return owner.start === null || owner.start === stat.start;
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot (Linux only). */
export function processStart(pid: number): string | null {
  return procStat(pid)?.start ?? null;
}

function procStat(pid: number): { state: string; start: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const start = fields[19];
    return state && start ? { state, start } : null;
  } catch {
    return null;
  }
}

/**
 * Removes the lock at `path` if it still holds `raw`, the stale content the caller saw. Under the
 * recovery lock nothing but its holder removes a lock file (owners remove only their own, and a stale
 * one's owner is gone), so the content checked is the content removed.
 */
async function removeStale(path: string, raw: string): Promise<void> {
  const guard = `${path}.recovering`;
  const mine = JSON.stringify({ pid: process.pid, start: processStart(process.pid), host: hostname() });
  for (let attempt = 0; attempt < 250; attempt++) {
    if (createPrivateFile(guard, mine)) {
      try {
        if (readLock(path)?.raw === raw) unlinkSync(path);
      } finally {
        removeIfOurs(guard, mine);
      }
      return;
    }
    const other = readLock(guard);
    if (other === null) continue;
    const owner = parseOwner(other.raw);
    // A recoverer that died within the few system calls it holds this for.
    const dead = owner ? !ownerAlive(owner) : Date.now() - other.mtimeMs > 2000;
    if (dead) {
      removeIfOurs(guard, other.raw);
      continue;
    }
    await Bun.sleep(10);
  }
  throw new Error(`could not recover the stale lock ${path}: ${guard} stays in place`);
}
