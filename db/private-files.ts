import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Owner-only modes for what Outdial writes in a data folder: key pairs, the embedded database, the
 * sidecar's outbox, the lock. Every mode is set with chmod after the file or folder exists, so it does
 * not depend on the umask of whoever started the process; files written before (by an older version, or
 * by a library that sets its own modes, as PGlite does) are tightened when they are opened.
 */
const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

const uid = typeof process.getuid === 'function' ? process.getuid() : null;

/**
 * Creates `dir` (and any missing parents) owner-only, or tightens it when it exists. An existing folder
 * that belongs to someone else, or is shared (sticky, as `/tmp` is, or the root), is left as it is: it
 * holds our files but is not ours to close.
 */
export function ensurePrivateDir(dir: string): void {
  const path = resolve(dir);
  const missing: string[] = [];
  for (let p = path; !pathExists(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      mkdirSync(p, { mode: PRIVATE_DIR_MODE });
    } catch (error) {
      // Made a moment ago by another process: judged below like any existing folder.
      if (errorCode(error) === 'EEXIST') continue;
      throw error;
    }
    chmodSync(p, PRIVATE_DIR_MODE);
  }
  const st = statSync(path);
  if (!st.isDirectory()) throw new Error(`${path} is not a folder`);
  const ours = uid === null || st.uid === uid;
  const shared = (st.mode & 0o1000) !== 0 || dirname(path) === path;
  if (ours && !shared && (st.mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(path, PRIVATE_DIR_MODE);
}

/** Makes a file owner-only if it exists. */
export function tightenFile(path: string): void {
  try {
    const st = lstatSync(path);
    if (st.isFile() && (st.mode & 0o777) !== PRIVATE_FILE_MODE) chmodSync(path, PRIVATE_FILE_MODE);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

/**
 * Makes a whole folder that Outdial owns (the embedded database, the keys) owner-only: folders 0700,
 * files 0600. Symbolic links are not followed.
 */
export function tightenTree(dir: string): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  if (st.isDirectory()) {
    if ((st.mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(dir, PRIVATE_DIR_MODE);
    for (const name of readdirSync(dir)) tightenTree(join(dir, name));
  } else if (st.isFile() && (st.mode & 0o777) !== PRIVATE_FILE_MODE) {
    chmodSync(dir, PRIVATE_FILE_MODE);
  }
}

/**
 * Creates the owner-only file `path` holding `data`, only if nothing is there: false if something is.
 * Atomic, and never seen half-written: the file is written under a temporary name and hard-linked into
 * place. Where the file system has no hard links it falls back to O_EXCL, whose file is empty for a
 * moment; readers must allow for that.
 */
export function createPrivateFile(path: string, data: string): boolean {
  const temp = `${path}.${process.pid}.${crypto.randomUUID().slice(0, 8)}`;
  writeFileSync(temp, data, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  chmodSync(temp, PRIVATE_FILE_MODE);
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  try {
    writeFileSync(path, data, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
  chmodSync(path, PRIVATE_FILE_MODE);
  return true;
}

function pathExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}
