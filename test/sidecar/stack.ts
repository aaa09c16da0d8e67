import { createLogger } from '../../api/shared/base/log.ts';
import type { CallEvent } from '../../api/shared/contract/index.ts';
import { type SimHandle, type SimOptions, startAriSimulator } from '../../asterisk/sim/server.ts';
import type { SidecarConfig } from '../../sidecar/config.ts';
import { type RunningSidecar, startSidecar } from '../../sidecar/sidecar.ts';
import { type CommandSigner, commandSigner, type KeyPair, keyPair } from '../harness/channel.ts';
import { tempDir, waitFor } from '../harness/util.ts';
import { type FakeApi, sidecarConfig, startFakeApi } from './harness.ts';

/** The simulator, a fake API and one sidecar, all in this process. */
export interface Stack {
  sim: SimHandle;
  api: FakeApi;
  sidecar: RunningSidecar;
  config: SidecarConfig;
  signer: CommandSigner;
  apiKey: KeyPair;
  sidecarKey: KeyPair;
  dataDir: string;
  /** Starts the sidecar again on the same data directory (after stop()). */
  restartSidecar(overrides?: Partial<SidecarConfig>): Promise<RunningSidecar>;
  /** Waits until every call has its `ended` event at the API, and returns them by call. */
  waitEnded(callIds: string[], timeoutMs?: number): Promise<Map<string, CallEvent>>;
  stop(): Promise<void>;
}

export async function startStack(
  options: {
    sim?: SimOptions;
    config?: Partial<SidecarConfig>;
    /** Share a simulator between stacks. */
    sharedSim?: SimHandle;
    /** Receives the sidecar's JSON log lines (info and up). */
    logSink?: (line: string) => void;
  } = {},
): Promise<Stack> {
  const sidecarKey = await keyPair();
  const apiKey = await keyPair();
  const sim = options.sharedSim ?? (await startAriSimulator({ port: 0, timeScale: 0.05, ...options.sim }));
  const api = await startFakeApi({ sidecarPublicJson: sidecarKey.publicJson });
  const dir = tempDir();
  const config = sidecarConfig({
    sidecarKey,
    apiKey,
    apiUrl: api.url,
    ariHttpUrl: `${sim.url}/ari`,
    dataDir: dir.path,
    overrides: options.config ?? {},
  });
  const start = (c: SidecarConfig) =>
    startSidecar(
      c,
      options.logSink
        ? { log: createLogger({ level: 'info', base: { sidecar_id: c.sidecarId }, sink: options.logSink }) }
        : {},
    );
  let sidecar = await start(config);
  await waitFor(() => sidecar.status().ari.connected, 5000, 'events socket connected');
  const stack: Stack = {
    sim,
    api,
    get sidecar() {
      return sidecar;
    },
    config,
    signer: commandSigner(() => sidecar.url, config.sidecarId, apiKey.key),
    apiKey,
    sidecarKey,
    dataDir: dir.path,
    async restartSidecar(overrides = {}) {
      sidecar = await start({ ...config, ...overrides });
      await waitFor(() => sidecar.status().ari.connected, 5000, 'events socket connected');
      return sidecar;
    },
    async waitEnded(callIds, timeoutMs = 10_000) {
      await api.waitFor(
        () => callIds.every((id) => api.ended(id).length > 0),
        timeoutMs,
        `ended events for ${callIds.length} calls (${callIds.filter((id) => api.ended(id).length > 0).length} so far)`,
      );
      return new Map(callIds.map((id) => [id, api.ended(id)[0]!]));
    },
    async stop() {
      await sidecar.stop().catch(() => undefined);
      await api.stop();
      if (!options.sharedSim) await sim.stop();
      dir.remove();
    },
  };
  return stack;
}

/** Per call: the seqs are 1..n in order, exactly one `ended`, statuses never move back. */
export function expectWellFormedCall(events: CallEvent[]): string | null {
  const rank: Record<string, number> = { dialing: 1, ringing: 2, answered: 3 };
  let last = 0;
  for (const [i, event] of events.entries()) {
    if (event.seq !== i + 1) return `seq ${event.seq} at position ${i + 1}`;
    const r = event.type === 'ended' ? 9 : (rank[event.status] ?? 0);
    if (r < last) return `status went back to ${event.status}`;
    last = r;
  }
  const ends = events.filter((e) => e.type === 'ended').length;
  if (ends !== 1) return `${ends} ended events`;
  return null;
}
