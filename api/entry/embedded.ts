/**
 * `npm start`: the whole product on embedded defaults. It starts the ARI simulator (unless
 * ARI_HTTP_URL points at a real Asterisk), the API with the embedded PGlite database (unless
 * DATABASE_URL is set) and the sidecar, generates and keeps the key pairs in DATA_DIR, creates the
 * first admin, and prints where to go and how to log in. Every part is the same program that runs
 * in production; only the wiring is automatic here.
 *
 * It owns DATA_DIR while it runs (the folder's lock; a second `npm start` on it refuses), and says it
 * is running only once /readiness answers 200, by which time the first admin can log in.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { z } from 'zod';
import { SimEnv } from '../../asterisk/sim/config.ts';
import { acquireDataDirLock, type DataDirLock, isDataDirBusy } from '../../db/data-lock.ts';
import { SidecarEnv } from '../../sidecar/config.ts';
import { ensureFirstAdmin, type FirstAdmin, UserInputError } from '../cli/users.ts';
import { ConfigSchema } from '../config.ts';
import { createApiLogger } from '../lib/logger.ts';
import { isEnvError, readEnv, secret, text } from '../shared/base/env.ts';
import { type StartedApi, startApi } from './bun.ts';
import { loadOrCreateKeyFile } from './bun-runtime.ts';

/**
 * What the launcher itself reads, each variable as the part that owns it reads it (same default,
 * same rule); the parts it starts read the whole environment again with their own schemas.
 */
const LauncherEnv = z.object({
  DATA_DIR: ConfigSchema.shape.DATA_DIR,
  PORT: ConfigSchema.shape.PORT,
  SIDECAR_ID: SidecarEnv.shape.SIDECAR_ID,
  SIDECAR_PORT: SidecarEnv.shape.SIDECAR_PORT,
  SIM_PORT: SimEnv.shape.SIM_PORT,
  ARI_USERNAME: SidecarEnv.shape.ARI_USERNAME,
  ARI_PASSWORD: SidecarEnv.shape.ARI_PASSWORD,
  // Unset: the launcher starts the simulator and points the sidecar at it.
  ARI_HTTP_URL: text(),
  ARI_DIAL_CONTEXT: text(),
  // Overrides of the API's defaults for trying things on one machine (unset: the launcher's own).
  APP_ENV: text(),
  WEBHOOK_ALLOW_LOOPBACK: text(),
  HOST: text(),
  JWT_PRIVATE_KEY: secret(text()),
  SIDECAR_URL: text(),
  SIDECAR_PUBLIC_KEY: text(),
  ADMIN_USERNAME: text(),
  ADMIN_PASSWORD: secret(text()),
});

const env = process.env;
const root = resolve(import.meta.dir, '..', '..');
const log = createApiLogger({ level: 'info', base: { service: 'launcher' } });
const launcher = readLauncherEnv();
const dataDir = resolve(launcher.DATA_DIR);
const apiPort = launcher.PORT;
const sidecarPort = launcher.SIDECAR_PORT;
const simPort = launcher.SIM_PORT;
const sidecarId = launcher.SIDECAR_ID;
const ariUsername = launcher.ARI_USERNAME;
const ariPassword = launcher.ARI_PASSWORD;
const useSimulator = !launcher.ARI_HTTP_URL;
const ariUrl = launcher.ARI_HTTP_URL ?? `http://127.0.0.1:${simPort}/ari`;
// The parts it starts have no use for the first admin's password, and must not be able to show it.
const childEnv: Record<string, string | undefined> = { ...env, ADMIN_PASSWORD: undefined };

interface Child {
  name: string;
  cmd: string[];
  env: Record<string, string>;
  proc: Subprocess | null;
  restarts: number[];
}

const children: Child[] = [];
let stopping = false;

function readLauncherEnv(): z.output<typeof LauncherEnv> {
  try {
    return readEnv('npm start', LauncherEnv, env);
  } catch (error) {
    if (!isEnvError(error)) throw error;
    console.error(error.message);
    process.exit(2);
  }
}

function spawnChild(child: Child) {
  child.proc = Bun.spawn(child.cmd, {
    cwd: root,
    env: { ...childEnv, ...child.env } as Record<string, string>,
    stdout: 'inherit',
    stderr: 'inherit',
    stdin: 'ignore',
    onExit(_proc, code, signal) {
      if (stopping) return;
      const now = Date.now();
      child.restarts = child.restarts.filter((t) => now - t < 60_000);
      if (child.restarts.length >= 5) {
        log.error(`${child.name} keeps exiting; stopping everything`, { code, signal });
        void shutdown(1);
        return;
      }
      child.restarts.push(now);
      log.warn(`${child.name} exited; restarting it`, { code, signal });
      setTimeout(() => spawnChild(child), 1000 * child.restarts.length);
    },
  });
}

async function waitFor(url: string, what: string, headers: Record<string, string> = {}) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(1000) });
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(100);
  }
  throw new Error(`${what} did not come up at ${url}`);
}

/** Waits for the API's /readiness to answer 200; what it said last if it does not within 30 s. */
async function waitUntilReady(base: string): Promise<string | null> {
  const deadline = Date.now() + 30_000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/readiness`, { signal: AbortSignal.timeout(3000) });
      const body = await res.text();
      if (res.status === 200) return null;
      last = `${res.status} ${body}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await Bun.sleep(50);
  }
  return last;
}

let api: StartedApi | null = null;
let lock: DataDirLock | null = null;

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  const deadline = setTimeout(() => process.exit(code || 1), 15_000);
  for (const child of [...children].reverse()) child.proc?.kill('SIGTERM');
  await Promise.all(children.map((c) => c.proc?.exited));
  await api?.stop();
  lock?.release();
  clearTimeout(deadline);
  process.exit(code);
}

async function main() {
  // Before anything is read, made or started: another process may own the folder.
  lock = await acquireDataDirLock(dataDir, 'npm start');
  const apiKey = await loadOrCreateKeyFile(resolve(dataDir, 'keys', 'api.jwk.json'));
  const sidecarKeyFile = resolve(dataDir, 'keys', `sidecar-${sidecarId}.jwk.json`);
  const sidecarKey = await loadOrCreateKeyFile(sidecarKeyFile);

  if (useSimulator) {
    const sim: Child = {
      name: 'ARI simulator',
      cmd: [process.execPath, 'asterisk/sim/main.ts'],
      env: {
        SIM_PORT: String(simPort),
        SIM_HOST: '127.0.0.1',
        ARI_USERNAME: ariUsername,
        ARI_PASSWORD: ariPassword,
      },
      proc: null,
      restarts: [],
    };
    children.push(sim);
    spawnChild(sim);
    await waitFor(`http://127.0.0.1:${simPort}/ari/asterisk/ping`, 'the ARI simulator', {
      Authorization: `Basic ${btoa(`${ariUsername}:${ariPassword}`)}`,
    });
  }

  let admin = { created: false } as FirstAdmin;
  api = await startApi(
    {
      ...env,
      APP_ENV: launcher.APP_ENV ?? 'development',
      // The embedded default is for trying things on one machine: webhooks may go to loopback receivers.
      WEBHOOK_ALLOW_LOOPBACK: launcher.WEBHOOK_ALLOW_LOOPBACK ?? 'true',
      DATA_DIR: dataDir,
      PORT: String(apiPort),
      HOST: launcher.HOST ?? '127.0.0.1',
      JWT_PRIVATE_KEY:
        launcher.JWT_PRIVATE_KEY ?? readFileSync(resolve(dataDir, 'keys', 'api.jwk.json'), 'utf8'),
      SIDECAR_ID: sidecarId,
      SIDECAR_URL: launcher.SIDECAR_URL ?? `http://127.0.0.1:${sidecarPort}`,
      SIDECAR_PUBLIC_KEY: launcher.SIDECAR_PUBLIC_KEY ?? JSON.stringify(sidecarKey.key.publicJwk),
    },
    {
      owner: 'npm start',
      // Before the API listens: it must never answer (not even /health) while the admin does not exist.
      async beforeListen(services) {
        admin = await ensureFirstAdmin(services.db, services.passwords, {
          ADMIN_USERNAME: launcher.ADMIN_USERNAME,
          ADMIN_PASSWORD: launcher.ADMIN_PASSWORD,
        });
      },
    },
  );

  const sidecar: Child = {
    name: 'sidecar',
    cmd: [process.execPath, 'sidecar/main.ts'],
    env: {
      SIDECAR_ID: sidecarId,
      SIDECAR_HOST: '127.0.0.1',
      SIDECAR_PORT: String(sidecarPort),
      SIDECAR_PRIVATE_KEY: readFileSync(sidecarKeyFile, 'utf8'),
      API_URL: api.url,
      API_PUBLIC_KEYS: JSON.stringify({ keys: [apiKey.key.publicJwk] }),
      API_ISSUER: api.services.config.JWT_ISSUER,
      ARI_HTTP_URL: ariUrl,
      ARI_USERNAME: ariUsername,
      ARI_PASSWORD: ariPassword,
      ARI_DIAL_CONTEXT: launcher.ARI_DIAL_CONTEXT ?? (useSimulator ? 'sim-callee' : 'outbound-trunk'),
      DATA_DIR: dataDir,
    },
    proc: null,
    restarts: [],
  };
  children.push(sidecar);
  spawnChild(sidecar);
  await waitFor(`http://127.0.0.1:${sidecarPort}/health`, 'the sidecar');

  const base = api.url;
  // "Running" means usable: the API's own readiness (database and sidecar) says so.
  const notReady = await waitUntilReady(base);
  const lines = [
    '',
    notReady
      ? `Outdial started, but is not ready yet: GET /readiness answers ${notReady}`
      : 'Outdial is running.',
    '',
    `  Console           ${base}/console`,
    `  API               ${base}            (reference: ${base}/docs)`,
    `  Sidecar           http://127.0.0.1:${sidecarPort}`,
    useSimulator
      ? `  PBX               ARI simulator at ${ariUrl} (the last digit of a number picks the outcome: 0 answers)`
      : `  PBX               Asterisk at ${ariUrl}`,
    `  Database          ${api.services.database.label}`,
    '',
  ];
  if (admin.created && admin.generated) {
    lines.push(
      `  Log in as "${admin.username}" with password: ${admin.password}`,
      '  (generated now and shown only this once: keep it; set ADMIN_PASSWORD before the first start to choose it)',
    );
  } else if (admin.created) {
    // A password the user chose is never printed: logs and terminals are read by others.
    lines.push(`  Log in as "${admin.username}" with the password in ADMIN_PASSWORD`);
  } else {
    lines.push(
      '  Log in with your admin account (created on the first start).',
      `  More users: the console's Users page, or POST ${base}/api/v2/users as an admin`,
    );
  }
  lines.push(
    '',
    '  Try it:',
    `    TOKEN=$(curl -s -d username=${admin.created ? admin.username : 'admin'} -d password='…' ${base}/api/v2/token | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
    `    curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"phone_number":"+15551234000"}' ${base}/api/v2/calls`,
    '',
    '  Ctrl-C stops everything.',
    '',
  );
  console.log(lines.join('\n'));

  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
}

try {
  await main();
} catch (error) {
  if (isDataDirBusy(error)) {
    console.error(
      `Outdial not started: ${error.message}.\n` +
        'Stop that process first (Ctrl-C where it runs), or give this one its own DATA_DIR (and PORT, SIDECAR_PORT, SIM_PORT).',
    );
  } else if (isEnvError(error) || error instanceof UserInputError) console.error(error.message);
  else log.error('failed to start', { error });
  await shutdown(1);
}
