import { type FaultProxy, startFaultProxy } from '../fault-proxy.ts';

/** The proxies of a stack started with `faults`, one per link. */
export interface StackFaults {
  /** Sidecar → ARI: REST requests and the events WebSocket share it. */
  ari: FaultProxy;
  /** Sidecar → API: event batches. */
  api: FaultProxy;
  /** API → sidecar: signed commands. */
  sidecarCommands: FaultProxy;
  /** API → PostgreSQL. */
  db: FaultProxy;
  /** Back to pass on every link. */
  passAll(): void;
}

/** The same URL (credentials, database, parameters) with the proxy's address as its host. */
export function throughProxy(url: string, proxy: FaultProxy): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}

export async function startStackFaults(targets: {
  ari: string;
  api: string;
  sidecarPort: number;
  database: string;
}): Promise<StackFaults & { stop(): Promise<void> }> {
  const ari = await startFaultProxy({ target: targets.ari, name: 'sidecar→ari' });
  const api = await startFaultProxy({ target: targets.api, name: 'sidecar→api' });
  const sidecarCommands = await startFaultProxy({
    target: { port: targets.sidecarPort },
    name: 'api→sidecar',
  });
  const db = await startFaultProxy({ target: targets.database, name: 'api→postgres' });
  const all = [ari, api, sidecarCommands, db];
  return {
    ari,
    api,
    sidecarCommands,
    db,
    passAll: () => {
      for (const proxy of all) proxy.pass();
    },
    async stop() {
      await Promise.all(all.map((proxy) => proxy.stop()));
    },
  };
}
