import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Small helpers every harness uses: free ports, temporary folders, waiting, child processes. */

/** The repository's root (the working directory of the processes the harnesses spawn). */
export const ROOT = join(import.meta.dir, '..', '..');

/** E2E_LOG=1: the API, the sidecar and the simulator of the e2e stack log to this terminal. */
export const E2E_LOG = Boolean(process.env.E2E_LOG);

/**
 * The lowest port the kernel hands out as a client's own (the ephemeral range). Servers here are
 * put below it: a client reconnecting in a loop to a port of that range while its server restarts
 * can be given that same port as its own, connect to itself (TCP's simultaneous open), and hold
 * the port the server then cannot bind again.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2048) return low;
  } catch {
    // not Linux: the IANA range's start
  }
  return 49152;
}

/** Listens on `port` (0: one the kernel picks) and closes again; the port, or null if taken. */
function listenOnce(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : null;
      srv.close(() => resolve(got));
    });
  });
}

/**
 * A loopback port free now, below the ephemeral range (see ephemeralLow); where that range leaves
 * too little room below it, one the kernel picks.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = Math.max(10_240, high - 20_000);
  if (high - low >= 1000) {
    for (let i = 0; i < 200; i++) {
      const port = await listenOnce(low + Math.floor(Math.random() * (high - low + 1)));
      if (port !== null) return port;
    }
  }
  const port = await listenOnce(0);
  if (port === null) throw new Error('no free loopback port');
  return port;
}

export function tempDir(prefix = 'sidecar-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/**
 * Runs `bun <script>` from the repository's root with only PATH and `env` as its environment, its
 * stdout shown with E2E_LOG, its stderr always.
 */
export function spawnBun(script: string, env: Record<string, string>): Bun.Subprocess {
  return Bun.spawn([process.execPath, script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdin: 'ignore',
    stdout: E2E_LOG ? 'inherit' : 'ignore',
    stderr: 'inherit',
  });
}

/**
 * Waits until `probe` (a request to the child) succeeds; throws if the child exits first or
 * nothing answers within `timeoutMs`. The child is left as it is either way.
 */
export async function waitListening(
  child: Bun.Subprocess,
  probe: (signal: AbortSignal) => Promise<Response>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the ${what} exited (${child.exitCode ?? child.signalCode})`);
    const ok = await probe(AbortSignal.timeout(500))
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the ${what} process did not listen`);
    await Bun.sleep(25);
  }
}

/**
 * What a harness started, to be stopped in the reverse order: every step runs even when one before
 * it failed, and the first failure is thrown at the end.
 */
export class Teardown {
  private readonly steps: Array<() => unknown> = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    let failure: unknown = null;
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure) throw failure;
  }
}
