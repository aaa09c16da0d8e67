import { SIDECAR_PATHS, SidecarStatus } from '../../../api/shared/contract/index.ts';
import type { SidecarConfig } from '../../../sidecar/config.ts';
import { type RunningSidecar, startSidecar } from '../../../sidecar/sidecar.ts';
import { sidecarConfig, sidecarEnv } from '../../sidecar/harness.ts';
import type { CommandSigner, KeyPair } from '../channel.ts';
import { E2E_LOG, spawnBun, waitListening } from '../util.ts';

/**
 * The e2e stack's sidecar: the real one, in this process through startSidecar, or as a
 * `bun sidecar/main.ts` child that can be killed; stopped and started again on the same port,
 * key and data directory.
 */
export type SidecarMode = 'in-process' | 'process';

export interface E2ESidecar {
  readonly mode: SidecarMode;
  readonly id: string;
  readonly url: string;
  readonly config: SidecarConfig;
  /** The in-process sidecar while it runs (metrics, dropEventsSocket, reconcile); null otherwise. */
  readonly running: RunningSidecar | null;
  /** The child's pid while it runs (process mode). */
  readonly pid: number | null;
  isUp(): boolean;
  /** GET /v1/status, signed as the API signs it. */
  status(): Promise<SidecarStatus>;
  waitConnected(timeoutMs?: number): Promise<void>;
  /** Graceful stop (SIGTERM in process mode): drains and flushes the outbox, bounded. */
  stop(): Promise<void>;
  /** SIGKILL, process mode only: no drain, no flush, nothing closed. */
  kill(): Promise<void>;
  /** Starts it again on the same port, key and data directory; waits for the events socket. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
}

/** The sidecar's configuration in the e2e stack: test timings, a fixed port, its own ARI app. */
export function stackSidecarConfig(parts: {
  sidecarKey: KeyPair;
  apiKey: KeyPair;
  apiUrl: string;
  ariHttpUrl: string;
  dataDir: string;
  sidecarId: string;
  port: number;
  overrides?: Partial<SidecarConfig>;
}): SidecarConfig {
  const { sidecarId, port, overrides, ...wiring } = parts;
  return {
    ...sidecarConfig(wiring),
    sidecarId,
    port,
    // One app name per stack, so that stacks can share a simulator without replacing each other.
    ariApp: `e2e-${crypto.randomUUID().slice(0, 8)}`,
    logLevel: E2E_LOG ? 'info' : 'silent',
    ...overrides,
  };
}

/** The sidecar for `config`, not started yet; `signer` talks to it as the API does. */
export function stackSidecar(config: SidecarConfig, mode: SidecarMode, signer: CommandSigner): E2ESidecar {
  let running: RunningSidecar | null = null;
  let child: Bun.Subprocess | null = null;
  const childUp = () => child !== null && child.exitCode === null && child.signalCode === null;
  const sidecar: E2ESidecar = {
    mode,
    id: config.sidecarId,
    url: `http://127.0.0.1:${config.port}`,
    config,
    get running() {
      return running;
    },
    get pid() {
      return child && childUp() ? child.pid : null;
    },
    isUp: () => running !== null || childUp(),
    async status() {
      const reply = await signer.send('GET', SIDECAR_PATHS.status);
      if (reply.status !== 200) throw new Error(`sidecar status answered ${reply.status}`);
      return SidecarStatus.parse(reply.json);
    },
    async waitConnected(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const connected = await sidecar
          .status()
          .then((s) => s.ari.connected)
          .catch(() => false);
        if (connected) return;
        if (Date.now() > deadline) throw new Error('the sidecar did not connect to ARI');
        await Bun.sleep(25);
      }
    },
    async stop() {
      if (running) {
        const r = running;
        running = null;
        await r.stop();
      }
      if (child) {
        const c = child;
        child = null;
        c.kill('SIGTERM');
        await c.exited;
      }
    },
    async kill() {
      if (mode !== 'process') throw new Error('kill() needs sidecarMode "process"');
      if (!child) return;
      const c = child;
      child = null;
      c.kill('SIGKILL');
      await c.exited;
    },
    async start() {
      if (sidecar.isUp()) throw new Error('the sidecar is running');
      if (mode === 'in-process') {
        running = await startSidecar(config);
      } else {
        child = spawnBun('sidecar/main.ts', sidecarEnv(config));
        await waitListening(child, (signal) => fetch(`${sidecar.url}/health`, { signal }), 'sidecar');
      }
      await sidecar.waitConnected();
    },
    async restart() {
      await sidecar.stop();
      await sidecar.start();
    },
  };
  return sidecar;
}
