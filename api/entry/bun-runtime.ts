import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import { createPrivateFile, ensurePrivateDir, errorCode, tightenFile } from '../../db/private-files.ts';
import { clientAddress, type ProxyTrust } from '../lib/client-address.ts';
import { generateSigningJwk, loadSigningKey, type SigningKey } from '../shared/base/keys.ts';

/** Runtime adapters for Bun: the native bcrypt on Bun's thread pool, key files, client addresses. */

/**
 * Reads a private JWK from `path`, creating it on first use; the file is owner-only (0600, its folder
 * 0700) whatever the umask, and one written earlier with looser modes is tightened.
 */
export async function loadOrCreateKeyFile(path: string): Promise<{ key: SigningKey; created: boolean }> {
  ensurePrivateDir(dirname(path));
  tightenFile(path);
  try {
    return { key: await loadSigningKey(readFileSync(path, 'utf8')), created: false };
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  const jwk = await generateSigningJwk();
  // Another process made it a moment ago: theirs is the one kept.
  if (!createPrivateFile(path, JSON.stringify(jwk, null, 2))) return loadOrCreateKeyFile(path);
  return { key: await loadSigningKey(JSON.stringify(jwk)), created: true };
}

type BunEnv = { server?: { requestIP(req: Request): { address: string } | null } };

/** The peer address Bun saw, or behind trusted proxies the address they report (api/lib/client-address.ts). */
export function bunClientAddress(trust: ProxyTrust) {
  return (c: Context): string | null => {
    const env = c.env as BunEnv | undefined;
    return clientAddress(
      { peer: env?.server?.requestIP(c.req.raw)?.address, forwardedFor: c.req.header('x-forwarded-for') },
      trust,
    );
  };
}

/** Scalar's browser bundle for /docs, read from the installed `@scalar/api-reference`. */
export function scalarBundleFromNodeModules(): () => Response {
  const path = fileURLToPath(import.meta.resolve('@scalar/api-reference/browser/standalone.js'));
  return () => new Response(Bun.file(path));
}
