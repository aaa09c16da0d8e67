import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { API_KEY_PATTERN } from '../../shared/contract/index.ts';
import { UsageError } from './args.ts';

/**
 * Where `outdial` finds its server and key: the file `outdial login` writes
 * ($XDG_CONFIG_HOME/outdial/config.json, else ~/.config/outdial/config.json; owner-only, 0600, since
 * the key is a secret), with OUTDIAL_URL and OUTDIAL_API_KEY over it (for scripts and CI).
 */
const StoredConfigSchema = z.object({
  url: z.string().url(),
  key: z.string().regex(API_KEY_PATTERN),
});
export type StoredConfig = z.infer<typeof StoredConfigSchema>;

export interface Credentials {
  url: string;
  key: string;
  /** Where they came from, for messages. */
  source: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(env.HOME?.trim() || homedir(), '.config');
  return join(base, 'outdial', 'config.json');
}

/** The stored file, or null when there is none; a file that is not ours is a usage error. */
export function readStoredConfig(path = configPath()): StoredConfig | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const config = StoredConfigSchema.safeParse(parsed);
  if (!config.success)
    throw new UsageError(`${path} is not an outdial configuration; run outdial login again`);
  return config.data;
}

/**
 * Writes the file owner-only (the folder 0700 when it is made): a new file created 0600 and renamed
 * over the old one, so the key is never in a file anyone else may read, nor in a half-written one.
 */
export function writeStoredConfig(config: StoredConfig, path = configPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
}

export function removeStoredConfig(path = configPath()): void {
  rmSync(path, { force: true });
}

/** The server and key to use: the environment over the file. A usage error when there are none. */
export function resolveCredentials(env: NodeJS.ProcessEnv = process.env): Credentials {
  const stored = readStoredConfig(configPath(env));
  const url = env.OUTDIAL_URL?.trim() || stored?.url;
  const key = env.OUTDIAL_API_KEY?.trim() || stored?.key;
  if (!url || !key) {
    throw new UsageError(
      'not logged in: run outdial login --url URL (or set OUTDIAL_URL and OUTDIAL_API_KEY)',
    );
  }
  const source = env.OUTDIAL_API_KEY?.trim() ? 'OUTDIAL_API_KEY' : configPath(env);
  return { url, key, source };
}

/** The key id written in a key (`odk_live_<key id>_<secret>`), or null for something else. */
export function keyIdOf(key: string): string | null {
  return API_KEY_PATTERN.exec(key)?.[1] ?? null;
}
